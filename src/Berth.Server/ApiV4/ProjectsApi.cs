using Berth.Auth;
using Berth.Auth.Accounts;
using Berth.Metadata;
using Microsoft.EntityFrameworkCore;

namespace Berth.Server.ApiV4;

public static partial class ApiV4Endpoints
{
    private static void MapProjects(RouteGroupBuilder api)
    {
        api.MapGet("/projects", Handler(ListProjectsAsync));
        api.MapPost("/projects", Handler(CreateProjectAsync));
        api.MapGet("/projects/{id}", GetProjectAsync);
        api.MapPut("/projects/{id}", UpdateProjectAsync);
        api.MapDelete("/projects/{id}", DeleteProjectAsync);
        api.MapPut("/projects/{id}/transfer", TransferProjectAsync);
        api.MapPost("/projects/{id}/transfer", TransferProjectAsync);
        api.MapGet("/projects/{id}/deploy_tokens", ListDeployTokensAsync);
        api.MapPost("/projects/{id}/deploy_tokens", CreateDeployTokenAsync);
        api.MapGet("/projects/{id}/deploy_tokens/{tokenId:long}", GetDeployTokenAsync);
        api.MapDelete("/projects/{id}/deploy_tokens/{tokenId:long}", DeleteDeployTokenAsync);
    }

    /// <summary>Projects the caller may see: all for admins (unless <paramref name="membershipOnly"/>); public
    /// ones for anonymous callers; otherwise public and internal ones plus those reached through membership.</summary>
    private static async Task<IQueryable<ProjectEntity>> VisibleProjectsAsync(ApiCaller caller, bool membershipOnly)
    {
        var projects = caller.Get<BerthDbContext>().Projects.AsQueryable();
        if (caller.IsAdmin && !membershipOnly) return projects;
        if (!caller.Principal.IsAuthenticated) return projects.Where(x => x.Visibility == Visibility.Public);
        var (namespaceIds, projectIds) = await caller.MembershipScopeAsync();
        return membershipOnly
            ? projects.Where(x => namespaceIds.Contains(x.NamespaceId) || projectIds.Contains(x.Id))
            : projects.Where(x => namespaceIds.Contains(x.NamespaceId) || projectIds.Contains(x.Id) || x.Visibility == Visibility.Public || x.Visibility == Visibility.Internal);
    }

    private static async Task<IResult> ListProjectsAsync(HttpContext context)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.ReadAnonymous);
        var p = await ParamsAsync(caller);
        var query = await VisibleProjectsAsync(caller, membershipOnly: p.Bool("membership") == true);
        if (p.Bool("owned") == true && caller.Principal.UserId is { } userId)
        {
            var own = caller.Get<BerthDbContext>().Namespaces.Where(n => n.Kind == GroupService.UserKind && n.OwnerId == userId).Select(n => n.Id);
            query = query.Where(x => own.Contains(x.NamespaceId));
        }
        return await ProjectListAsync(caller, p, query);
    }

    private static async Task<IResult> ProjectListAsync(ApiCaller caller, ApiParams p, IQueryable<ProjectEntity> query)
    {
        if (p.String("search") is { Length: > 0 } search)
        {
            var s = search.ToLowerInvariant();
            query = query.Where(x => x.Name.ToLower().Contains(s) || x.FullPath.ToLower().Contains(s));
        }
        if (p.String("visibility") is { Length: > 0 } visibility) query = query.Where(x => x.Visibility == visibility);
        bool asc = string.Equals(p.String("sort"), "asc", StringComparison.OrdinalIgnoreCase);
        query = p.String("order_by") switch
        {
            "name" => asc ? query.OrderBy(x => x.Name).ThenBy(x => x.Id) : query.OrderByDescending(x => x.Name).ThenByDescending(x => x.Id),
            "path" => asc ? query.OrderBy(x => x.FullPath) : query.OrderByDescending(x => x.FullPath),
            _ => asc ? query.OrderBy(x => x.Id) : query.OrderByDescending(x => x.Id),
        };
        var page = await Pagination.PageAsync(caller.Context, query, caller.Aborted);
        return Ok(await Represent(caller).ProjectsAsync(page, caller.Aborted));
    }

    /// <summary>The registry switch from <c>container_registry_enabled</c> or <c>container_registry_access_level</c>.</summary>
    private static bool? ReadRegistrySwitch(ApiParams p)
    {
        var level = p.String("container_registry_access_level");
        if (!string.IsNullOrEmpty(level))
        {
            return level switch
            {
                "enabled" => true,
                "disabled" => false,
                _ => throw ApiException.BadRequest("container_registry_access_level does not have a valid value: Berth supports enabled and disabled (registry access follows the project's visibility)"),
            };
        }
        return p.Bool("container_registry_enabled");
    }

    private static async Task<IResult> CreateProjectAsync(HttpContext context)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        var p = await ParamsAsync(caller);
        var name = p.String("name");
        var path = p.String("path");
        if (string.IsNullOrWhiteSpace(name) && string.IsNullOrWhiteSpace(path)) throw ApiException.BadRequest("name, path are missing, at least one parameter must be provided");
        NamespaceEntity ns;
        if (p.String("namespace_id") is { Length: > 0 } nsId)
        {
            ns = await TargetNamespaceAsync(caller, nsId, AccessLevel.Developer, "creating a project in a group needs the Developer role there");
        }
        else
        {
            ns = await caller.Get<BerthDbContext>().Namespaces.FirstOrDefaultAsync(n => n.Kind == GroupService.UserKind && n.OwnerId == caller.UserId, caller.Aborted)
                ?? throw ApiException.NotFound("Namespace");
        }
        var project = await caller.Get<ProjectService>().CreateProjectAsync(
            new NewProject(ns.Id, name, path, p.String("visibility"), ReadRegistrySwitch(p), p.String("description")), caller.UserId, caller.Aborted);
        return Created(await Represent(caller).ProjectAsync(project, caller.Aborted));
    }

    private static async Task<IResult> GetProjectAsync(HttpContext context, string id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.ReadAnonymous);
        var project = await caller.ReadableProjectAsync(id);
        var json = await Represent(caller).ProjectAsync(project, caller.Aborted);
        if ((await ParamsAsync(caller)).Bool("statistics") == true) json = json with { Statistics = await RegistryStatisticsAsync(caller, project.FullPath) };
        return Ok(json);
    }

    private static async Task<IResult> UpdateProjectAsync(HttpContext context, string id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        var project = await caller.ProjectWithLevelAsync(id, AccessLevel.Maintainer);
        var p = await ParamsAsync(caller);
        var policyChanges = p.Nested("container_expiration_policy_attributes");
        var changes = new ProjectChanges(p.String("name"), p.String("description"), p.String("visibility"), ReadRegistrySwitch(p));
        if (policyChanges is not null) Registry.RegistryLifecycle.Validate(ApplyPolicy(await caller.Get<Registry.RegistryLifecycle>().GetPolicyAsync(project.Id, caller.Aborted), policyChanges));
        if (p.String("path") is { Length: > 0 } path && !string.Equals(path, project.Path, StringComparison.Ordinal))
        {
            if (await caller.ProjectLevelAsync(project) < AccessLevel.Owner) throw ApiException.Forbidden("changing a project's path needs the Owner role");
            project = await caller.Get<PathMoves>().MoveProjectAsync(project.Id, path, null, caller.Aborted);
        }
        var updated = await caller.Get<ProjectService>().UpdateProjectAsync(project.Id, changes, caller.Aborted);
        if (policyChanges is not null)
            await caller.Get<Registry.RegistryLifecycle>().SavePolicyAsync(project.Id, policy => ApplyPolicy(policy, policyChanges), caller.Aborted);
        return Ok(await Represent(caller).ProjectAsync(updated, caller.Aborted));
    }

    /// <summary>Applies <c>container_expiration_policy_attributes</c> (GitLab's field names; <c>name_regex_delete</c> is an alias of <c>name_regex</c>).</summary>
    private static ContainerExpirationPolicyEntity ApplyPolicy(ContainerExpirationPolicyEntity policy, ApiParams a)
    {
        if (a.Bool("enabled") is { } enabled) policy.Enabled = enabled;
        if (a.String("cadence") is { Length: > 0 } cadence) policy.Cadence = cadence;
        if (a.Has("keep_n")) policy.KeepN = a.Long("keep_n") is { } n ? (int)Math.Clamp(n, int.MinValue, int.MaxValue) : null;
        if (a.Has("older_than")) policy.OlderThan = string.IsNullOrEmpty(a.String("older_than")) ? null : a.String("older_than");
        if (a.Has("name_regex_delete")) policy.NameRegex = a.String("name_regex_delete");
        if (a.Has("name_regex")) policy.NameRegex = a.String("name_regex");
        if (a.Has("name_regex_keep")) policy.NameRegexKeep = string.IsNullOrEmpty(a.String("name_regex_keep")) ? null : a.String("name_regex_keep");
        return policy;
    }

    /// <summary>A namespace a project may be put into: one's own personal namespace (any for admins), or a group the
    /// caller sees and has at least <paramref name="level"/> in.</summary>
    /// <exception cref="ApiException">Unknown or not the caller's (404); role too low (403 with <paramref name="why"/>).</exception>
    private static async Task<NamespaceEntity> TargetNamespaceAsync(ApiCaller caller, string idOrPath, AccessLevel level, string why)
    {
        var ns = await caller.Get<GroupService>().FindNamespaceAsync(idOrPath, caller.Aborted) ?? throw ApiException.NotFound("Namespace");
        if (ns.Kind == GroupService.UserKind)
        {
            if (!caller.IsAdmin && ns.OwnerId != caller.UserId) throw ApiException.NotFound("Namespace");
        }
        else
        {
            if (!await caller.CanReadGroupAsync(ns)) throw ApiException.NotFound("Namespace");
            if (await caller.NamespaceLevelAsync(ns) < level) throw ApiException.Forbidden(why);
        }
        return ns;
    }

    /// <summary><c>PUT /projects/:id/transfer?namespace=</c> (id or full path): Owner of the project, and allowed to
    /// create projects in the target (Developer in a group, or one's own namespace); repositories follow.</summary>
    private static async Task<IResult> TransferProjectAsync(HttpContext context, string id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        var project = await caller.ProjectWithLevelAsync(id, AccessLevel.Owner);
        var p = await ParamsAsync(caller);
        var target = p.Required("namespace");
        var ns = await TargetNamespaceAsync(caller, Uri.UnescapeDataString(target), AccessLevel.Maintainer, "transferring a project into a group needs the Maintainer role there");
        var moved = await caller.Get<PathMoves>().MoveProjectAsync(project.Id, null, ns.Id, caller.Aborted);
        return Ok(await Represent(caller).ProjectAsync(moved, caller.Aborted));
    }

    private static async Task<IResult> DeleteProjectAsync(HttpContext context, string id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        var project = await caller.ProjectWithLevelAsync(id, AccessLevel.Owner);
        await caller.Get<ProjectService>().DeleteProjectAsync(project.Id, caller.Aborted);
        return Accepted();
    }

    private static async Task<IResult> ListDeployTokensAsync(HttpContext context, string id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Read);
        var project = await caller.ProjectWithLevelAsync(id, AccessLevel.Maintainer);
        var p = await ParamsAsync(caller);
        var service = caller.Get<AccessTokenService>();
        IEnumerable<DeployTokenEntity> tokens = await service.ListDeployTokensAsync(project.Id, caller.Aborted);
        if (p.Bool("active") is { } active) tokens = tokens.Where(t => service.IsActive(t) == active);
        var page = Pagination.Page(context, tokens.ToList());
        return Ok(page.Select(t => Representer.DeployToken(t, service.IsExpired(t.ExpiresAt))));
    }

    private static async Task<IResult> GetDeployTokenAsync(HttpContext context, string id, long tokenId)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Read);
        var project = await caller.ProjectWithLevelAsync(id, AccessLevel.Maintainer);
        var service = caller.Get<AccessTokenService>();
        var token = await service.GetDeployTokenAsync(project.Id, tokenId, caller.Aborted);
        return Ok(Representer.DeployToken(token, service.IsExpired(token.ExpiresAt)));
    }

    private static async Task<IResult> CreateDeployTokenAsync(HttpContext context, string id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        var project = await caller.ProjectWithLevelAsync(id, AccessLevel.Maintainer);
        var p = await ParamsAsync(caller);
        var created = await caller.Get<AccessTokenService>().CreateDeployTokenAsync(
            project.Id, p.Required("name"), p.String("username"), p.List("scopes"), ReadTime(p, "expires_at"), caller.Aborted);
        return Created(Representer.DeployToken(created.Entity, false, created.Secret));
    }

    private static async Task<IResult> DeleteDeployTokenAsync(HttpContext context, string id, long tokenId)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        var project = await caller.ProjectWithLevelAsync(id, AccessLevel.Maintainer);
        await caller.Get<AccessTokenService>().RevokeDeployTokenAsync(project.Id, tokenId, caller.Aborted);
        return Results.NoContent();
    }
}
