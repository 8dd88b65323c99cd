using System.Diagnostics.CodeAnalysis;

namespace Berth.Distribution;

/// <summary>
/// A tag: <c>[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}</c> (OCI Distribution Spec v1.1, "Pulling manifests").
/// </summary>
public readonly struct Tag : IEquatable<Tag>
{
    /// <summary>Maximum length of a tag in characters.</summary>
    public const int MaxLength = 128;

    private readonly string? _value;

    private Tag(string value) => _value = value;

    /// <summary>The tag as text.</summary>
    public string Value => _value ?? string.Empty;

    /// <summary>Parses a tag.</summary>
    /// <exception cref="FormatException">The text is not a valid tag.</exception>
    public static Tag Parse(string text) => TryParse(text, out var t) ? t : throw new FormatException($"'{Digest.Truncate(text)}' is not a valid tag: [a-zA-Z0-9_][a-zA-Z0-9._-]{{0,127}}");

    /// <summary>Validates and wraps a tag.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, out Tag tag)
    {
        tag = default;
        if (string.IsNullOrEmpty(text) || text.Length > MaxLength) return false;
        if (!(IsWord(text[0]))) return false;
        for (int i = 1; i < text.Length; i++)
        {
            char c = text[i];
            if (!(IsWord(c) || c == '.' || c == '-')) return false;
        }
        tag = new Tag(text);
        return true;
    }

    private static bool IsWord(char c) => c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '_';

    /// <inheritdoc/>
    public bool Equals(Tag other) => string.Equals(_value, other._value, StringComparison.Ordinal);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Tag t && Equals(t);

    /// <inheritdoc/>
    public override int GetHashCode() => _value is null ? 0 : StringComparer.Ordinal.GetHashCode(_value);

    /// <inheritdoc/>
    public override string ToString() => Value;
}

/// <summary>
/// The <c>{reference}</c> of <c>/v2/&lt;name&gt;/manifests/{reference}</c>: either a <see cref="Distribution.Tag"/> or a
/// <see cref="Distribution.Digest"/>. Text containing a <c>:</c> is a digest (tags cannot contain one).
/// </summary>
public readonly struct Reference
{
    private Reference(Tag tag, Digest digest) { Tag = tag; Digest = digest; }

    /// <summary>The tag, when this reference is a tag (otherwise the default value).</summary>
    public Tag Tag { get; }

    /// <summary>The digest, when this reference is a digest (otherwise the default value).</summary>
    public Digest Digest { get; }

    /// <summary>True when the reference is a digest.</summary>
    public bool IsDigest => !Digest.IsEmpty;

    /// <summary>A reference holding a tag.</summary>
    public static Reference FromTag(Tag tag) => new(tag, default);

    /// <summary>A reference holding a digest.</summary>
    public static Reference FromDigest(Digest digest) => new(default, digest);

    /// <summary>Parses a reference; a refusal says whether the text looked like a digest or a tag
    /// (<paramref name="looksLikeDigest"/>) so callers can answer DIGEST_INVALID or TAG_INVALID.</summary>
    public static bool TryParse(string? text, out Reference reference, out bool looksLikeDigest)
    {
        reference = default;
        looksLikeDigest = text?.Contains(':') == true;
        if (looksLikeDigest)
        {
            if (!Digest.TryParse(text, out var d)) return false;
            reference = FromDigest(d);
            return true;
        }
        if (!Tag.TryParse(text, out var t)) return false;
        reference = FromTag(t);
        return true;
    }

    /// <inheritdoc/>
    public override string ToString() => IsDigest ? Digest.ToString() : Tag.ToString();
}
