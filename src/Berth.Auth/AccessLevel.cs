namespace Berth.Auth;

/// <summary>A member's role in a group or project (GitLab's access levels).</summary>
public enum AccessLevel
{
    /// <summary>No access.</summary>
    None = 0,
    /// <summary>Guest (10).</summary>
    Guest = 10,
    /// <summary>Reporter (20): may pull from private projects.</summary>
    Reporter = 20,
    /// <summary>Developer (30): may push and delete.</summary>
    Developer = 30,
    /// <summary>Maintainer (40): may manage the project, protected tags, deploy tokens.</summary>
    Maintainer = 40,
    /// <summary>Owner (50).</summary>
    Owner = 50,
}

/// <summary>Project and namespace visibility values.</summary>
public static class Visibility
{
    /// <summary>Only members (Reporter+ to pull).</summary>
    public const string Private = "private";
    /// <summary>Any signed-in user.</summary>
    public const string Internal = "internal";
    /// <summary>Anyone, including anonymous clients.</summary>
    public const string Public = "public";

    /// <summary>All values.</summary>
    public static readonly string[] All = [Private, Internal, Public];

    /// <summary>True for a known value.</summary>
    public static bool IsValid(string? value) => value is Private or Internal or Public;
}

/// <summary>Token scopes (GitLab's names).</summary>
public static class TokenScopes
{
    /// <summary>Full API and registry access.</summary>
    public const string Api = "api";
    /// <summary>Read-only API access.</summary>
    public const string ReadApi = "read_api";
    /// <summary>Pull from the registry.</summary>
    public const string ReadRegistry = "read_registry";
    /// <summary>Push to (and pull from, delete in) the registry.</summary>
    public const string WriteRegistry = "write_registry";

    /// <summary>Scopes a personal access token may have.</summary>
    public static readonly string[] PersonalAccessToken = [Api, ReadApi, ReadRegistry, WriteRegistry];

    /// <summary>Scopes a deploy token may have.</summary>
    public static readonly string[] DeployToken = [ReadRegistry, WriteRegistry];

    /// <summary>Splits a stored space-separated scope list.</summary>
    public static IReadOnlySet<string> Parse(string? stored) =>
        new HashSet<string>((stored ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries), StringComparer.Ordinal);
}
