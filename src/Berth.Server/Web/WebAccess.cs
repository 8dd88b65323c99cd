using Berth.Auth;
using Berth.Auth.Accounts;
using Berth.Metadata;
using Microsoft.EntityFrameworkCore;

namespace Berth.Server.Web;

/// <summary>A project in a list, with what the list shows.</summary>
public sealed record ProjectListItem(ProjectEntity Project, string NamespaceName);

/// <summary>
/// Membership questions of the dashboard and group pages: which groups and projects a user reaches
/// (their personal namespace, groups they belong to and everything below them, projects they are direct
/// members of), and whether a group is visible to the caller (GitLab's rules, as in <c>/api/v4</c>).
/// </summary>
public sealed class WebAccess(BerthDbContext db, AccessPolicy policy)
{
    /// <summary>Groups the user is a member of, with all their subgroups; every group for admins when <paramref name="all"/>.</summary>
    public async Task<IReadOnlyList<NamespaceEntity>> GroupsOfAsync(UserEntity user, bool all, CancellationToken cancellationToken)
    {
        if (all && user.IsAdmin)
            return await db.Namespaces.Where(n => n.Kind == GroupService.GroupKind).OrderBy(n => n.FullPath).ToListAsync(cancellationToken);
        var now = DateTime.UtcNow;
        var paths = await (from m in db.Members
                           join n in db.Namespaces on m.NamespaceId equals n.Id
                           where m.UserId == user.Id && (m.ExpiresAt == null || m.ExpiresAt > now)
                           select n.FullPath).ToListAsync(cancellationToken);
        var result = new Dictionary<long, NamespaceEntity>();
        foreach (var path in paths.Distinct())
        {
            var prefix = path + "/";
            foreach (var n in await db.Namespaces.Where(n => n.Kind == GroupService.GroupKind && (n.FullPath == path || n.FullPath.StartsWith(prefix))).ToListAsync(cancellationToken))
                result[n.Id] = n;
        }
        return result.Values.OrderBy(n => n.FullPath, StringComparer.OrdinalIgnoreCase).ToList();
    }

    /// <summary>Projects the user reaches through membership (or all projects for admins when <paramref name="all"/>), by full path.</summary>
    public async Task<IReadOnlyList<ProjectListItem>> ProjectsOfAsync(UserEntity user, bool all, CancellationToken cancellationToken)
    {
        IQueryable<ProjectEntity> query;
        if (all && user.IsAdmin)
        {
            query = db.Projects;
        }
        else
        {
            var groups = await GroupsOfAsync(user, all: false, cancellationToken);
            var namespaceIds = groups.Select(g => g.Id).ToList();
            namespaceIds.AddRange(await db.Namespaces.Where(n => n.Kind == GroupService.UserKind && n.OwnerId == user.Id).Select(n => n.Id).ToListAsync(cancellationToken));
            var now = DateTime.UtcNow;
            var projectIds = await db.Members.Where(m => m.UserId == user.Id && m.ProjectId != null && (m.ExpiresAt == null || m.ExpiresAt > now))
                .Select(m => m.ProjectId!.Value).ToListAsync(cancellationToken);
            query = db.Projects.Where(p => namespaceIds.Contains(p.NamespaceId) || projectIds.Contains(p.Id));
        }
        var rows = await (from p in query
                          join n in db.Namespaces on p.NamespaceId equals n.Id
                          orderby p.FullPath
                          select new { p, n.Name }).ToListAsync(cancellationToken);
        return rows.Select(r => new ProjectListItem(r.p, r.Name)).ToList();
    }

    /// <summary>Namespaces the user may create projects in: their own, and groups where they are Developer+ (all groups for admins).</summary>
    public async Task<IReadOnlyList<NamespaceEntity>> ProjectTargetsAsync(UserEntity user, CancellationToken cancellationToken)
    {
        var result = new List<NamespaceEntity>();
        var personal = await db.Namespaces.FirstOrDefaultAsync(n => n.Kind == GroupService.UserKind && n.OwnerId == user.Id, cancellationToken);
        if (personal is not null) result.Add(personal);
        foreach (var group in await GroupsOfAsync(user, all: true, cancellationToken))
        {
            if (user.IsAdmin || await policy.GetNamespaceAccessLevelAsync(user.Id, group, cancellationToken) >= AccessLevel.Developer)
                result.Add(group);
        }
        return result;
    }

    /// <summary>Groups the user may create subgroups in (Maintainer+; all for admins).</summary>
    public async Task<IReadOnlyList<NamespaceEntity>> SubgroupTargetsAsync(UserEntity user, CancellationToken cancellationToken)
    {
        var result = new List<NamespaceEntity>();
        foreach (var group in await GroupsOfAsync(user, all: true, cancellationToken))
        {
            if (user.IsAdmin || await policy.GetNamespaceAccessLevelAsync(user.Id, group, cancellationToken) >= AccessLevel.Maintainer)
                result.Add(group);
        }
        return result;
    }

    /// <summary>The caller's level in a namespace (Owner for admins, None for anonymous callers).</summary>
    public async Task<AccessLevel> NamespaceLevelAsync(Principal caller, NamespaceEntity ns, CancellationToken cancellationToken)
    {
        if (caller.IsAdmin) return AccessLevel.Owner;
        if (caller.UserId is not { } userId) return AccessLevel.None;
        return await policy.GetNamespaceAccessLevelAsync(userId, ns, cancellationToken);
    }

    /// <summary>Whether the caller can see a group: public ones; internal ones when signed in; private ones
    /// when a member of it, of an ancestor, or of something inside it; all for admins.</summary>
    public async Task<bool> CanReadGroupAsync(Principal caller, NamespaceEntity group, CancellationToken cancellationToken)
    {
        if (group.Visibility == Visibility.Public || caller.IsAdmin) return true;
        if (caller.UserId is not { } userId) return false;
        if (group.Visibility == Visibility.Internal) return true;
        if (await policy.GetNamespaceAccessLevelAsync(userId, group, cancellationToken) >= AccessLevel.Guest) return true;
        var prefix = group.FullPath + "/";
        var now = DateTime.UtcNow;
        return await (from m in db.Members
                      join n in db.Namespaces on m.NamespaceId equals n.Id
                      where m.UserId == userId && n.FullPath.StartsWith(prefix) && (m.ExpiresAt == null || m.ExpiresAt > now)
                      select m.Id).AnyAsync(cancellationToken)
            || await (from m in db.Members
                      join p in db.Projects on m.ProjectId equals p.Id
                      where m.UserId == userId && p.FullPath.StartsWith(prefix) && (m.ExpiresAt == null || m.ExpiresAt > now)
                      select m.Id).AnyAsync(cancellationToken);
    }
}
