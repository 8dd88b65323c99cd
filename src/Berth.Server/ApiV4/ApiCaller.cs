using Berth.Auth;
using Berth.Auth.Accounts;
using Berth.Metadata;
using Microsoft.EntityFrameworkCore;

namespace Berth.Server.ApiV4;

/// <summary>What a request wants to do, for the scope check: reads need <c>api</c> or <c>read_api</c>, writes <c>api</c>.</summary>
public enum ApiAccess
{
    /// <summary>A read; anonymous callers allowed (they see public things only).</summary>
    ReadAnonymous,
    /// <summary>A read by a signed-in caller.</summary>
    Read,
    /// <summary>A write.</summary>
    Write,
}

/// <summary>
/// The caller of an <c>/api/v4</c> request and the permission questions handlers ask. The token comes from the
/// <c>PRIVATE-TOKEN</c> header, <c>Authorization: Bearer</c>, or the <c>private_token</c>/<c>access_token</c>
/// query parameters (a personal access token, or an access token from <c>POST /oauth/token</c>). Admins may
/// do everything; others per GitLab's rules (DESIGN.md "Access rules"). Projects and groups a caller cannot
/// see answer 404, things they can see but not change 403.
/// </summary>
public sealed class ApiCaller
{
    private readonly IServiceProvider _services;

    private ApiCaller(HttpContext context, Principal principal)
    {
        Context = context;
        Principal = principal;
        _services = context.RequestServices;
    }

    /// <summary>The HTTP context.</summary>
    public HttpContext Context { get; }

    /// <summary>The authenticated caller (anonymous for public reads without a token).</summary>
    public Principal Principal { get; }

    /// <summary>True for instance administrators.</summary>
    public bool IsAdmin => Principal.IsAdmin;

    /// <summary>The caller's user id.</summary>
    /// <exception cref="ApiException">Anonymous (401).</exception>
    public long UserId => Principal.UserId ?? throw ApiException.Unauthorized();

    /// <summary>The request's cancellation token.</summary>
    public CancellationToken Aborted => Context.RequestAborted;

    /// <summary>A request service.</summary>
    public T Get<T>() where T : notnull => _services.GetRequiredService<T>();

    /// <summary>Authenticates the request and checks the token's scopes for <paramref name="access"/>.</summary>
    /// <exception cref="ApiException">No or bad token (401); scopes too narrow (403).</exception>
    public static async Task<ApiCaller> AuthenticateAsync(HttpContext context, ApiAccess access)
    {
        var token = FindToken(context.Request);
        if (token is null)
        {
            if (access == ApiAccess.ReadAnonymous) return new ApiCaller(context, Principal.Anonymous);
            throw ApiException.Unauthorized();
        }
        var validator = context.RequestServices.GetRequiredService<CredentialValidator>();
        var result = await validator.ValidateTokenAsync(token, context.RequestAborted);
        if (result.Principal is not { Kind: PrincipalKind.User } principal) throw ApiException.Unauthorized();
        if (access == ApiAccess.Write ? !principal.HasScope(TokenScopes.Api) : !principal.HasScope(TokenScopes.Api) && !principal.HasScope(TokenScopes.ReadApi))
            throw ApiException.InsufficientScope(access == ApiAccess.Write ? "api" : "api read_api");
        context.Items[Berth.Server.Auth.BasicCredentials.PrincipalItem] = principal; // the actor of the access and audit logs
        return new ApiCaller(context, principal);
    }

    private static string? FindToken(HttpRequest request)
    {
        var header = request.Headers["PRIVATE-TOKEN"].ToString();
        if (header.Length > 0) return header.Trim();
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return authorization[7..].Trim();
        var query = request.Query["private_token"].ToString();
        if (query.Length > 0) return query;
        query = request.Query["access_token"].ToString();
        return query.Length > 0 ? query : null;
    }

    /// <summary>Refuses non-admins (403).</summary>
    public void RequireAdmin()
    {
        if (!IsAdmin) throw ApiException.Forbidden("Must be admin");
    }

    /// <summary>The caller's effective level in a project (Owner for admins, None for anonymous callers).</summary>
    public async Task<AccessLevel> ProjectLevelAsync(ProjectEntity project)
    {
        if (IsAdmin) return AccessLevel.Owner;
        if (Principal.UserId is not { } userId) return AccessLevel.None;
        return await Get<AccessPolicy>().GetProjectAccessLevelAsync(userId, project, Aborted);
    }

    /// <summary>The caller's effective level in a namespace (Owner for admins and one's own personal namespace).</summary>
    public async Task<AccessLevel> NamespaceLevelAsync(NamespaceEntity ns)
    {
        if (IsAdmin) return AccessLevel.Owner;
        if (Principal.UserId is not { } userId) return AccessLevel.None;
        return await Get<AccessPolicy>().GetNamespaceAccessLevelAsync(userId, ns, Aborted);
    }

    /// <summary>A project the caller can see, by id or URL-encoded full path.</summary>
    /// <exception cref="ApiException">No such project, or not visible to the caller (404).</exception>
    public async Task<ProjectEntity> ReadableProjectAsync(string idOrPath)
    {
        var project = await Get<ProjectService>().FindProjectAsync(Uri.UnescapeDataString(idOrPath), Aborted);
        if (project is null || !await Get<AccessPolicy>().CanReadProjectAsync(Principal, project, Aborted))
            throw ApiException.NotFound("Project");
        return project;
    }

    /// <summary>A project where the caller has at least <paramref name="level"/>.</summary>
    /// <exception cref="ApiException">Not visible (404) or the role is too low (403).</exception>
    public async Task<ProjectEntity> ProjectWithLevelAsync(string idOrPath, AccessLevel level)
    {
        var project = await ReadableProjectAsync(idOrPath);
        if (await ProjectLevelAsync(project) < level) throw ApiException.Forbidden();
        return project;
    }

    /// <summary>Whether the caller can see a group: public ones; internal ones when signed in; private ones
    /// when a member of it, of an ancestor, or of something inside it; all for admins.</summary>
    public async Task<bool> CanReadGroupAsync(NamespaceEntity group)
    {
        if (group.Visibility == Visibility.Public || IsAdmin) return true;
        if (Principal.UserId is not { } userId) return false;
        if (group.Visibility == Visibility.Internal) return true;
        if (await NamespaceLevelAsync(group) >= AccessLevel.Guest) return true;
        var db = Get<BerthDbContext>();
        var prefix = group.FullPath + "/";
        var now = DateTime.UtcNow;
        return await (from m in db.Members
                      join n in db.Namespaces on m.NamespaceId equals n.Id
                      where m.UserId == userId && n.FullPath.StartsWith(prefix) && (m.ExpiresAt == null || m.ExpiresAt > now)
                      select m.Id).AnyAsync(Aborted)
            || await (from m in db.Members
                      join p in db.Projects on m.ProjectId equals p.Id
                      where m.UserId == userId && p.FullPath.StartsWith(prefix) && (m.ExpiresAt == null || m.ExpiresAt > now)
                      select m.Id).AnyAsync(Aborted);
    }

    /// <summary>A group the caller can see, by id or URL-encoded full path.</summary>
    /// <exception cref="ApiException">No such group, or not visible (404).</exception>
    public async Task<NamespaceEntity> ReadableGroupAsync(string idOrPath)
    {
        var group = await Get<GroupService>().FindGroupAsync(Uri.UnescapeDataString(idOrPath), Aborted);
        if (group is null || !await CanReadGroupAsync(group)) throw ApiException.NotFound("Group");
        return group;
    }

    /// <summary>A group where the caller has at least <paramref name="level"/>.</summary>
    /// <exception cref="ApiException">Not visible (404) or the role is too low (403).</exception>
    public async Task<NamespaceEntity> GroupWithLevelAsync(string idOrPath, AccessLevel level)
    {
        var group = await ReadableGroupAsync(idOrPath);
        if (await NamespaceLevelAsync(group) < level) throw ApiException.Forbidden();
        return group;
    }

    /// <summary>
    /// Ids of the namespaces whose projects the caller reaches through membership: their personal namespace,
    /// groups they are members of and all subgroups of those; plus ids of projects they are direct members of.
    /// </summary>
    public async Task<(HashSet<long> NamespaceIds, HashSet<long> ProjectIds)> MembershipScopeAsync()
    {
        var namespaceIds = new HashSet<long>();
        var projectIds = new HashSet<long>();
        if (Principal.UserId is not { } userId) return (namespaceIds, projectIds);
        var db = Get<BerthDbContext>();
        var now = DateTime.UtcNow;
        namespaceIds.UnionWith(await db.Namespaces.Where(n => n.Kind == GroupService.UserKind && n.OwnerId == userId).Select(n => n.Id).ToListAsync(Aborted));
        var groupPaths = await (from m in db.Members
                                join n in db.Namespaces on m.NamespaceId equals n.Id
                                where m.UserId == userId && (m.ExpiresAt == null || m.ExpiresAt > now)
                                select n.FullPath).ToListAsync(Aborted);
        foreach (var path in groupPaths)
        {
            var prefix = path + "/";
            namespaceIds.UnionWith(await db.Namespaces.Where(n => n.FullPath == path || n.FullPath.StartsWith(prefix)).Select(n => n.Id).ToListAsync(Aborted));
        }
        projectIds.UnionWith(await db.Members.Where(m => m.UserId == userId && m.ProjectId != null && (m.ExpiresAt == null || m.ExpiresAt > now))
            .Select(m => m.ProjectId!.Value).ToListAsync(Aborted));
        return (namespaceIds, projectIds);
    }
}
