using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Berth.Auth.Accounts;

/// <summary>Registers the account services.</summary>
public static class AccountsServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="AccountService"/>, <see cref="GroupService"/>, <see cref="ProjectService"/>,
    /// <see cref="MemberService"/>, <see cref="AccessTokenService"/> (scoped) and, unless already there,
    /// <see cref="PasswordHashing"/> (options <c>Auth:Passwords</c>), <see cref="CredentialValidator"/>
    /// (options <c>Auth:SignInLimits</c>) and <see cref="AccessPolicy"/>. Needs a <see cref="Metadata.BerthDbContext"/>
    /// and a <see cref="TimeProvider"/>.
    /// </summary>
    public static IServiceCollection AddBerthAccounts(this IServiceCollection services)
    {
        if (!services.Any(d => d.ServiceType == typeof(PasswordHashing)))
        {
            services.AddOptions<PasswordOptions>().BindConfiguration("Auth:Passwords");
            services.AddSingleton<PasswordHashing>();
        }
        if (!services.Any(d => d.ServiceType == typeof(CredentialValidator)))
        {
            services.AddOptions<SignInLimitOptions>().BindConfiguration("Auth:SignInLimits");
            services.AddScoped<CredentialValidator>();
        }
        services.TryAddScoped<AccessPolicy>();
        services.TryAddScoped<AccountService>();
        services.TryAddScoped<GroupService>();
        services.TryAddScoped<ProjectService>();
        services.TryAddScoped<PathMoves>();
        services.TryAddScoped<MemberService>();
        services.TryAddScoped<AccessTokenService>();
        return services;
    }
}
