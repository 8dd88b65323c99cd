using Berth.Auth;
using Berth.Auth.Accounts;
using Berth.Metadata;
using Microsoft.EntityFrameworkCore;

namespace Berth.Server.ApiV4;

public static partial class ApiV4Endpoints
{
    /// <summary>A group or project as the owner of memberships: its target, and the caller's level there.</summary>
    private sealed record MemberSource(MemberTarget Target, AccessLevel CallerLevel, NamespaceEntity? Group, ProjectEntity? Project);

    private static void MapMembers(RouteGroupBuilder api, string kind)
    {
        bool groups = kind == "groups";
        api.MapGet($"/{kind}/{{id}}/members", (HttpContext c, string id) => ListMembersAsync(c, groups, id, inherited: false));
        api.MapGet($"/{kind}/{{id}}/members/all", (HttpContext c, string id) => ListMembersAsync(c, groups, id, inherited: true));
        api.MapGet($"/{kind}/{{id}}/members/{{userId:long}}", (HttpContext c, string id, long userId) => GetMemberAsync(c, groups, id, userId));
        api.MapPost($"/{kind}/{{id}}/members", (HttpContext c, string id) => AddMemberAsync(c, groups, id));
        api.MapPut($"/{kind}/{{id}}/members/{{userId:long}}", (HttpContext c, string id, long userId) => UpdateMemberAsync(c, groups, id, userId));
        api.MapDelete($"/{kind}/{{id}}/members/{{userId:long}}", (HttpContext c, string id, long userId) => RemoveMemberAsync(c, groups, id, userId));
    }

    private static async Task<MemberSource> MemberSourceAsync(ApiCaller caller, bool groups, string id)
    {
        if (groups)
        {
            var group = await caller.ReadableGroupAsync(id);
            return new MemberSource(MemberTarget.Group(group.Id), await caller.NamespaceLevelAsync(group), group, null);
        }
        var project = await caller.ReadableProjectAsync(id);
        return new MemberSource(MemberTarget.Project(project.Id), await caller.ProjectLevelAsync(project), null, project);
    }

    private static async Task<IResult> ListMembersAsync(HttpContext context, bool groups, string id, bool inherited)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.ReadAnonymous);
        var source = await MemberSourceAsync(caller, groups, id);
        var p = await ParamsAsync(caller);
        var members = inherited ? await InheritedMembersAsync(caller, source) : await caller.Get<MemberService>().ListAsync(source.Target, caller.Aborted);
        if (p.String("query") is { Length: > 0 } q)
            members = members.Where(m => m.User.Username.Contains(q, StringComparison.OrdinalIgnoreCase) || m.User.Name.Contains(q, StringComparison.OrdinalIgnoreCase)).ToList();
        if (p.List("user_ids") is { Count: > 0 } ids)
            members = members.Where(m => ids.Contains(m.User.Id.ToString(System.Globalization.CultureInfo.InvariantCulture))).ToList();
        var represent = Represent(caller);
        return Ok(Pagination.Page(context, members).Select(m => represent.Member(m.Member, m.User)));
    }

    /// <summary>Direct members plus members of the enclosing groups, each user once with their highest level.</summary>
    private static async Task<IReadOnlyList<MemberWithUser>> InheritedMembersAsync(ApiCaller caller, MemberSource source)
    {
        var db = caller.Get<BerthDbContext>();
        var service = caller.Get<MemberService>();
        var all = new List<MemberWithUser>(await service.ListAsync(source.Target, caller.Aborted));
        NamespaceEntity ns = source.Group ?? await db.Namespaces.FirstAsync(n => n.Id == source.Project!.NamespaceId, caller.Aborted);
        if (ns.Kind == GroupService.GroupKind)
        {
            var lineage = await caller.Get<GroupService>().GetLineageAsync(ns, caller.Aborted);
            foreach (var group in lineage.Where(g => g.Id != source.Group?.Id))
                all.AddRange(await service.ListAsync(MemberTarget.Group(group.Id), caller.Aborted));
        }
        var now = DateTime.UtcNow;
        return all.Where(m => m.Member.ExpiresAt is null || m.Member.ExpiresAt > now)
            .GroupBy(m => m.User.Id).Select(g => g.MaxBy(m => m.Member.AccessLevel)!)
            .OrderBy(m => m.User.Username, StringComparer.Ordinal).ToList();
    }

    private static async Task<IResult> GetMemberAsync(HttpContext context, bool groups, string id, long userId)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.ReadAnonymous);
        var source = await MemberSourceAsync(caller, groups, id);
        var member = await caller.Get<MemberService>().GetAsync(source.Target, userId, caller.Aborted);
        return Ok(Represent(caller).Member(member.Member, member.User));
    }

    private static void RequireManage(MemberSource source, AccessLevel grants, AccessLevel current = AccessLevel.None)
    {
        if (source.CallerLevel < AccessLevel.Maintainer) throw ApiException.Forbidden("managing members needs the Maintainer role");
        if ((grants == AccessLevel.Owner || current == AccessLevel.Owner) && source.CallerLevel < AccessLevel.Owner)
            throw ApiException.Forbidden("only an Owner can grant, change or remove the Owner role");
    }

    private static async Task<IResult> AddMemberAsync(HttpContext context, bool groups, string id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        var source = await MemberSourceAsync(caller, groups, id);
        var p = await ParamsAsync(caller);
        var userId = p.Long("user_id") ?? throw ApiException.BadRequest("user_id is missing");
        var level = MemberService.ParseLevel((int)(p.Long("access_level") ?? throw ApiException.BadRequest("access_level is missing")));
        RequireManage(source, level);
        var member = await caller.Get<MemberService>().AddAsync(source.Target, userId, level, ReadDate(p, "expires_at"), caller.Aborted);
        return Created(Represent(caller).Member(member.Member, member.User));
    }

    private static async Task<IResult> UpdateMemberAsync(HttpContext context, bool groups, string id, long userId)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        var source = await MemberSourceAsync(caller, groups, id);
        var p = await ParamsAsync(caller);
        var service = caller.Get<MemberService>();
        var existing = await service.GetAsync(source.Target, userId, caller.Aborted);
        AccessLevel? level = p.Long("access_level") is { } l ? MemberService.ParseLevel((int)l) : null;
        RequireManage(source, level ?? AccessLevel.None, (AccessLevel)existing.Member.AccessLevel);
        var updated = await service.UpdateAsync(source.Target, userId, level, p.Has("expires_at"), ReadDate(p, "expires_at"), caller.Aborted);
        return Ok(Represent(caller).Member(updated.Member, updated.User));
    }

    private static async Task<IResult> RemoveMemberAsync(HttpContext context, bool groups, string id, long userId)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        var source = await MemberSourceAsync(caller, groups, id);
        var service = caller.Get<MemberService>();
        var existing = await service.GetAsync(source.Target, userId, caller.Aborted);
        if (userId != caller.UserId) RequireManage(source, AccessLevel.None, (AccessLevel)existing.Member.AccessLevel);
        await service.RemoveAsync(source.Target, userId, caller.Aborted);
        return Results.NoContent();
    }
}
