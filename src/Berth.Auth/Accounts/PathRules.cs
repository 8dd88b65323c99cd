using System.Text.RegularExpressions;

namespace Berth.Auth.Accounts;

/// <summary>
/// The grammar of usernames and of group and project paths (GitLab's): a first character from
/// <c>[a-zA-Z0-9_]</c>, then <c>[a-zA-Z0-9_.-]</c>, at most 255 characters, not ending in <c>.git</c> or
/// <c>.atom</c>; top-level names must not be one of <see cref="ReservedTopLevel"/>. Full paths
/// (<c>group/sub/project</c>) are at most <see cref="MaxFullPathLength"/> characters, the repository-name limit.
/// Uniqueness is case-insensitive. Note that container repository names are lower-case (OCI grammar), so a
/// project whose full path has capital letters cannot hold images.
/// </summary>
public static partial class PathRules
{
    /// <summary>Longest full path (also the longest repository name).</summary>
    public const int MaxFullPathLength = 255;

    /// <summary>Top-level names kept for the server's own routes.</summary>
    public static readonly string[] ReservedTopLevel =
    [
        "-", "api", "v2", "jwt", "oauth", "admin", "help", "explore", "dashboard", "users", "groups", "projects",
        "search", "assets", "static", "health", "healthz", "metrics", "login", "logout", "sign_in", "sign_up",
        "profile", "settings", ".well-known", "favicon.ico", "robots.txt", "ci", "gitlab-ci-token",
    ];

    [GeneratedRegex("^[a-zA-Z0-9_][a-zA-Z0-9_.-]*$", RegexOptions.CultureInvariant)]
    private static partial Regex Grammar();

    /// <summary>Checks one path segment (a username, or a group's or project's path).</summary>
    /// <param name="value">The segment.</param>
    /// <param name="field">The input's name for the error (<c>username</c>, <c>path</c>).</param>
    /// <param name="topLevel">True for usernames and top-level groups, which must not be reserved.</param>
    /// <exception cref="AccountException">The segment is malformed or reserved (<see cref="AccountErrorKind.Invalid"/>).</exception>
    public static void CheckSegment(string? value, string field, bool topLevel)
    {
        if (string.IsNullOrEmpty(value))
            throw AccountException.Invalid(field, $"{field} is missing");
        if (value.Length > 255)
            throw AccountException.Invalid(field, $"{field} is too long (maximum is 255 characters)");
        if (!Grammar().IsMatch(value))
            throw AccountException.Invalid(field, $"{field} '{value}' is invalid: it can contain only letters, digits, '_', '-' and '.', and must start with a letter, digit or '_'");
        if (value.EndsWith(".git", StringComparison.OrdinalIgnoreCase) || value.EndsWith(".atom", StringComparison.OrdinalIgnoreCase))
            throw AccountException.Invalid(field, $"{field} '{value}' is invalid: it cannot end in '.git' or '.atom'");
        if (topLevel && ReservedTopLevel.Contains(value, StringComparer.OrdinalIgnoreCase))
            throw AccountException.Invalid(field, $"{field} '{value}' is reserved");
    }

    /// <summary>Checks the length of a full path built from a parent and a segment.</summary>
    /// <exception cref="AccountException">Longer than <see cref="MaxFullPathLength"/>.</exception>
    public static void CheckFullPath(string fullPath, string field)
    {
        if (fullPath.Length > MaxFullPathLength)
            throw AccountException.Invalid(field, $"the full path '{fullPath}' is too long (maximum is {MaxFullPathLength} characters)");
    }

    /// <summary>Derives a path from a display name (GitLab's "parameterize"): spaces become '-', other
    /// characters outside the grammar are dropped; null when nothing usable is left.</summary>
    public static string? FromName(string? name)
    {
        if (string.IsNullOrWhiteSpace(name)) return null;
        var chars = name.Trim().Select(c => c == ' ' ? '-' : c).Where(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.').ToArray();
        var path = new string(chars).TrimStart('-', '.');
        return path.Length == 0 ? null : path;
    }

    /// <summary>Visibility rank: private 0, internal 1, public 2.</summary>
    public static int VisibilityRank(string visibility) => visibility switch
    {
        Visibility.Public => 2,
        Visibility.Internal => 1,
        _ => 0,
    };
}
