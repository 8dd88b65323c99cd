using Berth.Auth;
using Berth.Auth.Accounts;
using Berth.Metadata;
using Microsoft.EntityFrameworkCore;

namespace Berth.Server.ApiV4;

public static partial class ApiV4Endpoints
{
    private static void MapGroups(RouteGroupBuilder api)
    {
        api.MapGet("/groups", Handler(ListGroupsAsync));
        api.MapPost("/groups", Handler(CreateGroupAsync));
        api.MapGet("/groups/{id}", GetGroupAsync);
        api.MapPut("/groups/{id}", UpdateGroupAsync);
        api.MapDelete("/groups/{id}", DeleteGroupAsync);
        api.MapGet("/groups/{id}/subgroups", ListSubgroupsAsync);
        api.MapGet("/groups/{id}/projects", ListGroupProjectsAsync);
    }

    private static async Task<IResult> ListGroupsAsync(HttpContext context)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.ReadAnonymous);
        var p = await ParamsAsync(caller);
        var query = await VisibleGroupsAsync(caller, p.Bool("all_available") ?? caller.IsAdmin);
        if (p.Bool("top_level_only") == true) query = query.Where(n => n.ParentId == null);
        return await GroupListAsync(caller, p, query);
    }

    private static async Task<IResult> ListSubgroupsAsync(HttpContext context, string id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.ReadAnonymous);
        var group = await caller.ReadableGroupAsync(id);
        var p = await ParamsAsync(caller);
        var query = (await VisibleGroupsAsync(caller, allAvailable: true)).Where(n => n.ParentId == group.Id);
        return await GroupListAsync(caller, p, query);
    }

    /// <summary>Groups the caller may see: all for admins; public ones for anonymous callers; otherwise the
    /// groups they are members of and their subgroups, plus public and internal ones when <paramref name="allAvailable"/>.</summary>
    private static async Task<IQueryable<NamespaceEntity>> VisibleGroupsAsync(ApiCaller caller, bool allAvailable)
    {
        var groups = caller.Get<BerthDbContext>().Namespaces.Where(n => n.Kind == GroupService.GroupKind);
        if (caller.IsAdmin) return groups;
        if (!caller.Principal.IsAuthenticated) return groups.Where(n => n.Visibility == Visibility.Public);
        var (namespaceIds, _) = await caller.MembershipScopeAsync();
        return allAvailable
            ? groups.Where(n => namespaceIds.Contains(n.Id) || n.Visibility == Visibility.Public || n.Visibility == Visibility.Internal)
            : groups.Where(n => namespaceIds.Contains(n.Id));
    }

    private static async Task<IResult> GroupListAsync(ApiCaller caller, ApiParams p, IQueryable<NamespaceEntity> query)
    {
        if (p.String("search") is { Length: > 0 } search)
        {
            var s = search.ToLowerInvariant();
            query = query.Where(n => n.Name.ToLower().Contains(s) || n.FullPath.ToLower().Contains(s));
        }
        if (p.String("visibility") is { Length: > 0 } visibility) query = query.Where(n => n.Visibility == visibility);
        bool desc = string.Equals(p.String("sort"), "desc", StringComparison.OrdinalIgnoreCase);
        query = p.String("order_by") switch
        {
            "id" => desc ? query.OrderByDescending(n => n.Id) : query.OrderBy(n => n.Id),
            "path" => desc ? query.OrderByDescending(n => n.FullPath) : query.OrderBy(n => n.FullPath),
            _ => desc ? query.OrderByDescending(n => n.Name).ThenByDescending(n => n.Id) : query.OrderBy(n => n.Name).ThenBy(n => n.Id),
        };
        var page = await Pagination.PageAsync(caller.Context, query, caller.Aborted);
        return Ok(await Represent(caller).GroupsAsync(page, caller.Aborted));
    }

    private static async Task<IResult> CreateGroupAsync(HttpContext context)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        var p = await ParamsAsync(caller);
        var name = p.Required("name");
        var path = p.Required("path");
        long? parentId = p.Long("parent_id");
        if (parentId is { } pid)
        {
            var parent = await caller.Get<GroupService>().FindGroupAsync(pid.ToString(System.Globalization.CultureInfo.InvariantCulture), caller.Aborted);
            if (parent is null || !await caller.CanReadGroupAsync(parent)) throw ApiException.NotFound("Parent Group");
            if (await caller.NamespaceLevelAsync(parent) < AccessLevel.Maintainer) throw ApiException.Forbidden("creating a subgroup needs the Maintainer role in the parent group");
        }
        var group = await caller.Get<GroupService>().CreateGroupAsync(
            new NewGroup(name, path, parentId, p.String("visibility"), p.String("description")), caller.UserId, caller.Aborted);
        return Created(await Represent(caller).GroupAsync(group, caller.Aborted));
    }

    private static async Task<IResult> GetGroupAsync(HttpContext context, string id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.ReadAnonymous);
        var group = await caller.ReadableGroupAsync(id);
        var json = await Represent(caller).GroupAsync(group, caller.Aborted);
        if ((await ParamsAsync(caller)).Bool("statistics") == true) json = json with { Statistics = await RegistryStatisticsAsync(caller, group.FullPath) };
        return Ok(json);
    }

    /// <summary><c>PUT /groups/:id</c>: <c>name</c> and <c>description</c> (Maintainer+), <c>path</c> (Owner; subgroups,
    /// projects and their container repositories follow).</summary>
    private static async Task<IResult> UpdateGroupAsync(HttpContext context, string id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        var group = await caller.GroupWithLevelAsync(id, AccessLevel.Maintainer);
        var p = await ParamsAsync(caller);
        if (p.String("visibility") is { Length: > 0 } visibility && visibility != group.Visibility)
            throw ApiException.BadRequest("changing a group's visibility through the API is not supported");
        if (p.String("path") is { Length: > 0 } path && !string.Equals(path, group.Path, StringComparison.Ordinal))
        {
            if (await caller.NamespaceLevelAsync(group) < AccessLevel.Owner) throw ApiException.Forbidden("changing a group's path needs the Owner role");
            group = await caller.Get<PathMoves>().RenameGroupAsync(group.Id, path, caller.Aborted);
        }
        var name = p.String("name");
        var description = p.String("description");
        if (!string.IsNullOrWhiteSpace(name) || description is not null)
        {
            var db = caller.Get<BerthDbContext>();
            var groupId = group.Id;
            var newName = string.IsNullOrWhiteSpace(name) ? group.Name : name.Trim();
            var newDescription = description ?? group.Description;
            await db.Namespaces.Where(n => n.Id == groupId).ExecuteUpdateAsync(s => s.SetProperty(n => n.Name, newName).SetProperty(n => n.Description, newDescription), caller.Aborted);
            group = await db.Namespaces.FirstAsync(n => n.Id == groupId, caller.Aborted);
        }
        return Ok(await Represent(caller).GroupAsync(group, caller.Aborted));
    }

    private static async Task<IResult> DeleteGroupAsync(HttpContext context, string id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        var group = await caller.GroupWithLevelAsync(id, AccessLevel.Owner);
        await caller.Get<GroupService>().DeleteGroupAsync(group.Id, caller.Aborted);
        return Accepted();
    }

    private static async Task<IResult> ListGroupProjectsAsync(HttpContext context, string id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.ReadAnonymous);
        var group = await caller.ReadableGroupAsync(id);
        var p = await ParamsAsync(caller);
        var query = await VisibleProjectsAsync(caller, membershipOnly: false);
        if (p.Bool("include_subgroups") == true)
        {
            var prefix = group.FullPath + "/";
            query = query.Where(x => x.FullPath.StartsWith(prefix));
        }
        else
        {
            query = query.Where(x => x.NamespaceId == group.Id);
        }
        return await ProjectListAsync(caller, p, query);
    }

    private static void MapNamespaces(RouteGroupBuilder api)
    {
        api.MapGet("/namespaces", Handler(ListNamespacesAsync));
        api.MapGet("/namespaces/{id}", GetNamespaceAsync);
    }

    private static async Task<IResult> ListNamespacesAsync(HttpContext context)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Read);
        var p = await ParamsAsync(caller);
        IQueryable<NamespaceEntity> query = caller.Get<BerthDbContext>().Namespaces;
        if (!caller.IsAdmin)
        {
            var (namespaceIds, _) = await caller.MembershipScopeAsync();
            query = query.Where(n => namespaceIds.Contains(n.Id));
        }
        if (p.String("search") is { Length: > 0 } search)
        {
            var s = search.ToLowerInvariant();
            query = query.Where(n => n.Name.ToLower().Contains(s) || n.FullPath.ToLower().Contains(s));
        }
        var page = await Pagination.PageAsync(context, query.OrderBy(n => n.Id), caller.Aborted);
        var represent = Represent(caller);
        return Ok(page.Select(represent.Namespace));
    }

    private static async Task<IResult> GetNamespaceAsync(HttpContext context, string id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Read);
        var ns = await caller.Get<GroupService>().FindNamespaceAsync(Uri.UnescapeDataString(id), caller.Aborted);
        if (ns is null) throw ApiException.NotFound("Namespace");
        bool visible = ns.Kind == GroupService.UserKind ? caller.IsAdmin || ns.OwnerId == caller.UserId : await caller.CanReadGroupAsync(ns);
        if (!visible) throw ApiException.NotFound("Namespace");
        return Ok(await NamespaceWithStorageAsync(caller, ns));
    }
}
