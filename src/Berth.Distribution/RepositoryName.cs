using System.Diagnostics.CodeAnalysis;

namespace Berth.Distribution;

/// <summary>
/// A repository name, the <c>&lt;name&gt;</c> of <c>/v2/&lt;name&gt;/…</c>: path components separated by
/// <c>/</c>, each matching <c>[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*</c> (OCI Distribution Spec v1.1,
/// "Pulling manifests"), at most <see cref="MaxLength"/> characters in all. Valid names never contain
/// <c>..</c>, empty components or uppercase, so they are safe as storage path segments.
/// </summary>
public readonly struct RepositoryName : IEquatable<RepositoryName>, IComparable<RepositoryName>
{
    /// <summary>Maximum length of a repository name in characters.</summary>
    public const int MaxLength = 255;

    private readonly string? _value;

    private RepositoryName(string value) => _value = value;

    /// <summary>The name's path components, e.g. <c>["group", "project", "app"]</c>.</summary>
    public string[] Components => Value.Split('/');

    /// <summary>The name as text.</summary>
    public string Value => _value ?? string.Empty;

    /// <summary>Parses a repository name.</summary>
    /// <exception cref="FormatException">The text does not follow the grammar or is too long.</exception>
    public static RepositoryName Parse(string text) =>
        TryParse(text, out var name, out var reason) ? name : throw new FormatException(reason);

    /// <summary>Validates and wraps a repository name; <paramref name="reason"/> explains a refusal.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, out RepositoryName name, [NotNullWhen(false)] out string? reason)
    {
        name = default;
        if (string.IsNullOrEmpty(text)) { reason = "repository name is empty"; return false; }
        if (text.Length > MaxLength) { reason = $"repository name is {text.Length} characters long; at most {MaxLength} are allowed"; return false; }
        foreach (var component in text.Split('/'))
        {
            if (!IsValidComponent(component))
            {
                reason = $"repository name component '{Digest.Truncate(component)}' is invalid: components are lowercase letters and digits, separated by '.', '_', '__' or '-'";
                return false;
            }
        }
        name = new RepositoryName(text);
        reason = null;
        return true;
    }

    private static bool IsValidComponent(string c)
    {
        if (c.Length == 0 || !IsAlnum(c[0]) || !IsAlnum(c[^1])) return false;
        int i = 0;
        while (i < c.Length)
        {
            if (IsAlnum(c[i])) { i++; continue; }
            // separator: '.', '_', '__', or '-'+
            int start = i;
            if (c[i] == '.') i++;
            else if (c[i] == '_') { i++; if (i < c.Length && c[i] == '_') i++; }
            else if (c[i] == '-') { while (i < c.Length && c[i] == '-') i++; }
            else return false;
            if (i == start || i >= c.Length || !IsAlnum(c[i])) return false;
        }
        return true;
    }

    private static bool IsAlnum(char ch) => ch is >= 'a' and <= 'z' or >= '0' and <= '9';

    /// <inheritdoc/>
    public bool Equals(RepositoryName other) => string.Equals(_value, other._value, StringComparison.Ordinal);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is RepositoryName n && Equals(n);

    /// <inheritdoc/>
    public override int GetHashCode() => _value is null ? 0 : StringComparer.Ordinal.GetHashCode(_value);

    /// <summary>Ordinal (byte-wise) ordering, the lexical order of the catalog.</summary>
    public int CompareTo(RepositoryName other) => string.CompareOrdinal(_value, other._value);

    /// <inheritdoc/>
    public override string ToString() => Value;

    /// <summary>Equality by value.</summary>
    public static bool operator ==(RepositoryName left, RepositoryName right) => left.Equals(right);

    /// <summary>Inequality by value.</summary>
    public static bool operator !=(RepositoryName left, RepositoryName right) => !left.Equals(right);
}
