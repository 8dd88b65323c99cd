using System.Security.Cryptography;
using System.Text;

namespace Berth.Auth;

/// <summary>
/// Secret tokens: high-entropy random strings with a recognizable prefix (so secret scanners can find
/// leaked ones), shown once and stored only as SHA-256 hashes. Comparison is by hash lookup plus a
/// constant-time equality check.
/// </summary>
public static class SecretTokens
{
    /// <summary>Prefix of personal access tokens.</summary>
    public const string PersonalAccessTokenPrefix = "bpat-";
    /// <summary>Prefix of deploy tokens.</summary>
    public const string DeployTokenPrefix = "bdt-";
    /// <summary>Prefix of CI job tokens.</summary>
    public const string JobTokenPrefix = "bjob-";

    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    /// <summary>Creates a new secret: the prefix followed by 32 random base-62 characters (~190 bits).</summary>
    public static string Generate(string prefix) => prefix + RandomNumberGenerator.GetString(Alphabet, 32);

    /// <summary>A random string of <paramref name="length"/> base-62 characters (recovery codes, passwords).</summary>
    public static string RandomString(int length) => RandomNumberGenerator.GetString(Alphabet, length);

    /// <summary>The stored form of a secret: lowercase hex SHA-256 of its UTF-8 bytes.</summary>
    public static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    /// <summary>Constant-time comparison of two hashes in hex.</summary>
    public static bool HashEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(a), Encoding.ASCII.GetBytes(b));
}
