using Berth.Auth.Accounts;
using Berth.Server.Configuration;
using Microsoft.Extensions.Options;

namespace Berth.Server.Accounts;

/// <summary>
/// The first-start bootstrap of the administrator <c>root</c> (see <see cref="AccountService.EnsureRootAsync"/>):
/// its password comes from <c>BERTH_ROOT_PASSWORD</c> (configuration key <c>RootPassword</c>) when set,
/// otherwise it is generated and written to <c>&lt;DataDir&gt;/initial_root_password</c>.
/// </summary>
public static class RootAccount
{
    /// <summary>Environment variable holding the initial root password.</summary>
    public const string PasswordVariable = "BERTH_ROOT_PASSWORD";

    /// <summary>The configured initial root password, or null.</summary>
    public static string? ConfiguredPassword(IConfiguration configuration)
    {
        foreach (var value in new[] { configuration["RootPassword"], configuration["ROOT_PASSWORD"], Environment.GetEnvironmentVariable(PasswordVariable) })
            if (!string.IsNullOrEmpty(value)) return value;
        return null;
    }

    /// <summary>Creates <c>root</c> when the instance has no administrator yet (from a scope's services).</summary>
    /// <exception cref="InvalidOperationException">The configured password is refused (e.g. too short).</exception>
    public static async Task EnsureAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var dataDir = services.GetRequiredService<IOptions<BerthOptions>>().Value.DataDir;
        var password = ConfiguredPassword(services.GetRequiredService<IConfiguration>());
        try
        {
            await services.GetRequiredService<AccountService>().EnsureRootAsync(dataDir, password, cancellationToken);
        }
        catch (AccountException ex)
        {
            throw new InvalidOperationException($"cannot create the root account from {PasswordVariable}: {ex.Message}", ex);
        }
    }
}
