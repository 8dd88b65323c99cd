using System.Globalization;

namespace Berth.Server.Web;

/// <summary>
/// URLs of the web UI. Projects and groups nest, so their full path is the last part of each route
/// (<c>/-/registry/group/sub/project</c>); full paths only hold <c>[A-Za-z0-9_.-/]</c> and need no escaping.
/// </summary>
public static class WebPaths
{
    /// <summary>A project's overview.</summary>
    public static string Project(string fullPath) => "/-/project/" + fullPath;
    /// <summary>A project's Registry page (its image repositories).</summary>
    public static string Registry(string fullPath) => "/-/registry/" + fullPath;
    /// <summary>One image repository's tags.</summary>
    public static string Repository(string repositoryName) => "/-/tags/" + repositoryName;
    /// <summary>A project's general settings.</summary>
    public static string Settings(string fullPath) => "/-/settings/" + fullPath;
    /// <summary>A project's members.</summary>
    public static string Members(string fullPath) => "/-/members/" + fullPath;
    /// <summary>A group's page.</summary>
    public static string Group(string fullPath) => "/-/group/" + fullPath;
    /// <summary>New project, optionally in a namespace.</summary>
    public static string NewProject(long? namespaceId = null) => namespaceId is { } id ? "/projects/new?namespace=" + id.ToString(CultureInfo.InvariantCulture) : "/projects/new";
    /// <summary>New group, optionally below a parent.</summary>
    public static string NewGroup(long? parentId = null) => parentId is { } id ? "/groups/new?parent=" + id.ToString(CultureInfo.InvariantCulture) : "/groups/new";
    /// <summary>A stylesheet or script of the UI, with its content hash for caching.</summary>
    public static string Asset(string name) => $"/-/assets/{name}?v={WebAssets.Version(name)}";
}
