using Berth.Metadata;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace Berth.Auth;

/// <summary>Password settings (section <c>Auth:Passwords</c>).</summary>
public sealed class PasswordOptions
{
    /// <summary>PBKDF2 (HMAC-SHA512) iterations; default 210,000 (OWASP 2023). Raising it re-hashes on next sign-in.</summary>
    public int Iterations { get; set; } = 210_000;

    /// <summary>Minimum password length in characters.</summary>
    public int MinimumLength { get; set; } = 8;
}

/// <summary>
/// Hashes and verifies passwords with ASP.NET Core Identity's <see cref="PasswordHasher{TUser}"/>
/// (PBKDF2 with HMAC-SHA512, a per-password salt, and a tunable iteration count).
/// </summary>
public sealed class PasswordHashing
{
    private readonly PasswordHasher<UserEntity> _hasher;
    private readonly PasswordOptions _options;

    /// <summary>Creates the hasher from options.</summary>
    public PasswordHashing(IOptions<PasswordOptions> options)
    {
        _options = options.Value;
        _hasher = new PasswordHasher<UserEntity>(Options.Create(new PasswordHasherOptions
        {
            CompatibilityMode = PasswordHasherCompatibilityMode.IdentityV3,
            IterationCount = _options.Iterations,
        }));
    }

    /// <summary>Hashes a password.</summary>
    /// <exception cref="ArgumentException">The password is shorter than the minimum length.</exception>
    public string Hash(UserEntity user, string password)
    {
        if (password.Length < _options.MinimumLength)
            throw new ArgumentException($"password must be at least {_options.MinimumLength} characters", nameof(password));
        return _hasher.HashPassword(user, password);
    }

    /// <summary>Verifies a password; <paramref name="rehash"/> is set when the stored hash should be upgraded.</summary>
    public bool Verify(UserEntity user, string password, out bool rehash)
    {
        rehash = false;
        if (user.PasswordHash is null) return false;
        var result = _hasher.VerifyHashedPassword(user, user.PasswordHash, password);
        rehash = result == PasswordVerificationResult.SuccessRehashNeeded;
        return result != PasswordVerificationResult.Failed;
    }
}
