using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Berth.Auth.Ci;

/// <summary>Registers the CI services.</summary>
public static class CiServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="CiOptions"/> (section <c>Ci</c>, validated at start), <see cref="RunnerService"/>,
    /// <see cref="CiJobService"/>, <see cref="TrustedIdentityService"/> (scoped), the JWKS cache (singleton) and
    /// its HTTP client. Needs the account services, a <see cref="Metadata.BerthDbContext"/> and a <see cref="TimeProvider"/>.
    /// </summary>
    public static IServiceCollection AddBerthCi(this IServiceCollection services)
    {
        services.AddSingleton<IValidateOptions<CiOptions>, CiOptionsValidator>();
        services.AddOptions<CiOptions>().BindConfiguration("Ci").ValidateOnStart();
        services.AddHttpClient(JwksCache.HttpClientName);
        services.TryAddSingleton<JwksCache>();
        services.TryAddScoped<RunnerService>();
        services.TryAddScoped<CiJobService>();
        services.TryAddScoped<TrustedIdentityService>();
        return services;
    }
}
