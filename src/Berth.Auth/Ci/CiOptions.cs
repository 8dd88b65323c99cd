using Microsoft.Extensions.Options;

namespace Berth.Auth.Ci;

/// <summary>CI settings (section <c>Ci</c>).</summary>
public sealed class CiOptions
{
    /// <summary>Longest life of a CI job token, in minutes (default 120): a job that never calls finish loses
    /// its token after this; a runner may ask for less, never for more.</summary>
    public int JobTokenMaxLifetimeMinutes { get; set; } = 120;

    /// <summary>Life of a job token obtained by exchanging an OIDC ID token, in minutes (default 60; never more
    /// than <see cref="JobTokenMaxLifetimeMinutes"/>).</summary>
    public int OidcTokenLifetimeMinutes { get; set; } = 60;

    /// <summary>How long a fetched JWKS of a trusted issuer is reused, in minutes (default 10). A token signed
    /// with a key not in the cached set triggers one early re-fetch (key rotation).</summary>
    public int JwksCacheMinutes { get; set; } = 10;

    /// <summary>Timeout of one JWKS or OpenID discovery fetch, in seconds (default 10).</summary>
    public int JwksFetchTimeoutSeconds { get; set; } = 10;
}

/// <summary>Validates <see cref="CiOptions"/> at start, naming the key and the allowed range.</summary>
public sealed class CiOptionsValidator : IValidateOptions<CiOptions>
{
    /// <inheritdoc/>
    public ValidateOptionsResult Validate(string? name, CiOptions options)
    {
        var failures = new List<string>();
        if (options.JobTokenMaxLifetimeMinutes is < 1 or > 7 * 24 * 60)
            failures.Add($"Ci:JobTokenMaxLifetimeMinutes is {options.JobTokenMaxLifetimeMinutes}; allowed: 1 to 10080 (a week)");
        if (options.OidcTokenLifetimeMinutes < 1)
            failures.Add($"Ci:OidcTokenLifetimeMinutes is {options.OidcTokenLifetimeMinutes}; it must be at least 1");
        if (options.JwksCacheMinutes < 0)
            failures.Add($"Ci:JwksCacheMinutes is {options.JwksCacheMinutes}; it must be 0 or more");
        if (options.JwksFetchTimeoutSeconds is < 1 or > 120)
            failures.Add($"Ci:JwksFetchTimeoutSeconds is {options.JwksFetchTimeoutSeconds}; allowed: 1 to 120");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
