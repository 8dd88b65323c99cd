using System.Diagnostics.CodeAnalysis;

namespace Berth.Distribution;

/// <summary>
/// A scope of the Docker token authentication spec ("Token Scope Documentation"):
/// <c>resourcetype[(resourceclass)]:resourcename:action[,action…]</c>, e.g.
/// <c>repository:group/project:pull,push</c> or <c>registry:catalog:*</c>. The resource name may not
/// contain <c>:</c> here (Berth's repository names never do), so the first and last colons split it.
/// </summary>
/// <param name="Type">Resource type: <c>repository</c> or <c>registry</c>.</param>
/// <param name="Class">Optional resource class (e.g. <c>plugin</c>), null when absent.</param>
/// <param name="Name">Resource name: a repository name, or <c>catalog</c>.</param>
/// <param name="Actions">Requested actions (<c>pull</c>, <c>push</c>, <c>delete</c>, <c>*</c>), de-duplicated, in request order.</param>
public sealed record TokenScope(string Type, string? Class, string Name, IReadOnlyList<string> Actions)
{
    /// <summary>Resource type of repositories.</summary>
    public const string RepositoryType = "repository";
    /// <summary>Resource type of registry-wide resources.</summary>
    public const string RegistryType = "registry";

    /// <summary>Parses one scope; false for anything malformed.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out TokenScope? scope)
    {
        scope = null;
        if (string.IsNullOrWhiteSpace(text)) return false;
        int first = text.IndexOf(':');
        int last = text.LastIndexOf(':');
        if (first <= 0 || last == first || last == text.Length - 1) return false;
        var type = text[..first];
        string? cls = null;
        int paren = type.IndexOf('(');
        if (paren >= 0)
        {
            if (!type.EndsWith(')') || paren == 0) return false;
            cls = type[(paren + 1)..^1];
            type = type[..paren];
        }
        var name = text[(first + 1)..last];
        if (name.Length == 0) return false;
        var actions = text[(last + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct(StringComparer.Ordinal).ToList();
        if (actions.Count == 0) return false;
        scope = new TokenScope(type, cls, name, actions);
        return true;
    }

    /// <summary>Parses a space-separated list of scopes (the OAuth2 form's <c>scope</c>), skipping malformed ones.</summary>
    public static IReadOnlyList<TokenScope> ParseList(IEnumerable<string?> values)
    {
        var result = new List<TokenScope>();
        foreach (var value in values)
        {
            if (value is null) continue;
            foreach (var part in value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (TryParse(part, out var s)) result.Add(s);
            }
        }
        return result;
    }

    /// <summary>The canonical text form.</summary>
    public override string ToString() => $"{Type}{(Class is null ? "" : "(" + Class + ")")}:{Name}:{string.Join(',', Actions)}";
}
