using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace Berth.Distribution;

/// <summary>
/// A content digest, <c>algorithm:encoded</c>, as defined by the OCI image spec ("Digests").
/// Only the registered algorithms <c>sha256</c> (64 lowercase hex characters) and <c>sha512</c>
/// (128 lowercase hex characters) are accepted, so a <see cref="Digest"/> can always be used as a
/// path segment without escaping the storage root. The default value is invalid; use
/// <see cref="IsEmpty"/> to detect it.
/// </summary>
public readonly struct Digest : IEquatable<Digest>
{
    /// <summary>The <c>sha256</c> algorithm identifier.</summary>
    public const string Sha256 = "sha256";

    /// <summary>The <c>sha512</c> algorithm identifier.</summary>
    public const string Sha512 = "sha512";

    private readonly string? _value;

    private Digest(string value, int colon)
    {
        _value = value;
        AlgorithmLength = colon;
    }

    private int AlgorithmLength { get; }

    /// <summary>True for <c>default(Digest)</c>, which holds no digest.</summary>
    public bool IsEmpty => _value is null;

    /// <summary>The algorithm part, e.g. <c>sha256</c>.</summary>
    public string Algorithm => _value is null ? string.Empty : _value[..AlgorithmLength];

    /// <summary>The encoded (lowercase hex) part.</summary>
    public string Encoded => _value is null ? string.Empty : _value[(AlgorithmLength + 1)..];

    /// <summary>Parses a digest strictly.</summary>
    /// <exception cref="FormatException">The text is not a digest with a supported algorithm.</exception>
    public static Digest Parse(string text) =>
        TryParse(text, out var digest) ? digest : throw new FormatException($"'{Truncate(text)}' is not a valid digest: expected sha256:<64 hex> or sha512:<128 hex>, lowercase");

    /// <summary>Parses a digest strictly; returns false for anything that is not <c>sha256:</c> + 64 or <c>sha512:</c> + 128 lowercase hex characters.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, out Digest digest)
    {
        digest = default;
        if (text is null) return false;
        int colon = text.IndexOf(':');
        if (colon <= 0) return false;
        var algorithm = text.AsSpan(0, colon);
        int expected;
        if (algorithm.SequenceEqual(Sha256)) expected = 64;
        else if (algorithm.SequenceEqual(Sha512)) expected = 128;
        else return false;
        var encoded = text.AsSpan(colon + 1);
        if (encoded.Length != expected) return false;
        foreach (char c in encoded)
        {
            if (!(c is >= '0' and <= '9' or >= 'a' and <= 'f')) return false;
        }
        digest = new Digest(text, colon);
        return true;
    }

    /// <summary>Builds a digest from a finished hash value.</summary>
    /// <param name="algorithm"><see cref="Sha256"/> or <see cref="Sha512"/>.</param>
    /// <param name="hash">The raw hash bytes (32 or 64 bytes).</param>
    /// <exception cref="ArgumentException">The algorithm or the hash length is wrong.</exception>
    public static Digest FromHash(string algorithm, ReadOnlySpan<byte> hash)
    {
        var text = algorithm + ":" + Convert.ToHexStringLower(hash);
        return TryParse(text, out var d) ? d : throw new ArgumentException($"hash of {hash.Length} bytes does not fit algorithm {algorithm}", nameof(hash));
    }

    /// <summary>Computes the SHA-256 digest of a byte span.</summary>
    public static Digest ComputeSha256(ReadOnlySpan<byte> content) => FromHash(Sha256, SHA256.HashData(content));

    /// <summary>Computes the digest of a byte span with the given algorithm.</summary>
    /// <exception cref="ArgumentException">Unsupported algorithm.</exception>
    public static Digest Compute(string algorithm, ReadOnlySpan<byte> content) => algorithm switch
    {
        Sha256 => FromHash(Sha256, SHA256.HashData(content)),
        Sha512 => FromHash(Sha512, SHA512.HashData(content)),
        _ => throw new ArgumentException($"unsupported digest algorithm '{algorithm}'", nameof(algorithm)),
    };

    /// <summary>The .NET hash algorithm name for this digest's algorithm.</summary>
    public HashAlgorithmName HashAlgorithm => Algorithm == Sha512 ? HashAlgorithmName.SHA512 : HashAlgorithmName.SHA256;

    /// <inheritdoc/>
    public bool Equals(Digest other) => string.Equals(_value, other._value, StringComparison.Ordinal);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Digest d && Equals(d);

    /// <inheritdoc/>
    public override int GetHashCode() => _value is null ? 0 : StringComparer.Ordinal.GetHashCode(_value);

    /// <summary>The canonical text form, <c>algorithm:encoded</c> (empty for the default value).</summary>
    public override string ToString() => _value ?? string.Empty;

    /// <summary>Equality by value.</summary>
    public static bool operator ==(Digest left, Digest right) => left.Equals(right);

    /// <summary>Inequality by value.</summary>
    public static bool operator !=(Digest left, Digest right) => !left.Equals(right);

    internal static string Truncate(string? text) => text is null ? "" : text.Length > 80 ? text[..80] + "…" : text;
}
