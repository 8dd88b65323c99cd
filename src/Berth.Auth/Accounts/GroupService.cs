using Berth.Metadata;
using Microsoft.EntityFrameworkCore;

namespace Berth.Auth.Accounts;

/// <summary>A new group or subgroup.</summary>
/// <param name="Name">Display name; the path when null or empty.</param>
/// <param name="Path">Path segment (see <see cref="PathRules"/>); derived from the name when null or empty.</param>
/// <param name="ParentId">The parent group's namespace id, for a subgroup.</param>
/// <param name="Visibility"><c>private</c> (default), <c>internal</c> or <c>public</c>; not more visible than the parent.</param>
/// <param name="Description">Optional description.</param>
public sealed record NewGroup(string? Name, string? Path, long? ParentId = null, string? Visibility = null, string? Description = null);

/// <summary>
/// Groups: namespaces of kind <c>group</c> that nest (<c>a/b/c</c>, full path = parent's full path + "/" + path)
/// and own projects. Full paths are unique, case-insensitively, across users' namespaces, groups and projects.
/// Throws <see cref="AccountException"/> for refused operations.
/// </summary>
public sealed class GroupService(BerthDbContext db, TimeProvider clock)
{
    /// <summary>Kind of group namespaces.</summary>
    public const string GroupKind = "group";

    /// <summary>Kind of personal namespaces.</summary>
    public const string UserKind = "user";

    /// <summary>Finds a namespace (group or personal) by id.</summary>
    /// <exception cref="AccountException">Not found.</exception>
    public async Task<NamespaceEntity> GetNamespaceAsync(long id, CancellationToken cancellationToken) =>
        await db.Namespaces.FirstOrDefaultAsync(n => n.Id == id, cancellationToken) ?? throw AccountException.NotFound("Namespace");

    /// <summary>Finds a namespace by id or by full path (case-insensitive); null when there is none.</summary>
    public async Task<NamespaceEntity?> FindNamespaceAsync(string idOrPath, CancellationToken cancellationToken)
    {
        if (long.TryParse(idOrPath, out var id)) return await db.Namespaces.FirstOrDefaultAsync(n => n.Id == id, cancellationToken);
        var lower = idOrPath.Trim('/').ToLowerInvariant();
        return await db.Namespaces.FirstOrDefaultAsync(n => n.FullPath.ToLower() == lower, cancellationToken);
    }

    /// <summary>Finds a group by id or full path; null when there is none (or it is a personal namespace).</summary>
    public async Task<NamespaceEntity?> FindGroupAsync(string idOrPath, CancellationToken cancellationToken)
    {
        var ns = await FindNamespaceAsync(idOrPath, cancellationToken);
        return ns is { Kind: GroupKind } ? ns : null;
    }

    /// <summary>Creates a group, or a subgroup when <see cref="NewGroup.ParentId"/> is set. The creator (when
    /// given) becomes its Owner.</summary>
    /// <exception cref="AccountException">Invalid name/path/visibility; parent not found; path taken.</exception>
    public async Task<NamespaceEntity> CreateGroupAsync(NewGroup request, long? creatorId, CancellationToken cancellationToken)
    {
        var path = string.IsNullOrWhiteSpace(request.Path) ? PathRules.FromName(request.Name) : request.Path.Trim();
        if (string.IsNullOrWhiteSpace(request.Name) && string.IsNullOrWhiteSpace(request.Path))
            throw AccountException.Invalid("name", "name is missing");
        NamespaceEntity? parent = null;
        if (request.ParentId is { } parentId)
        {
            parent = await db.Namespaces.FirstOrDefaultAsync(n => n.Id == parentId, cancellationToken);
            if (parent is not { Kind: GroupKind }) throw new AccountException(AccountErrorKind.NotFound, "Parent Group Not Found", "parent_id");
        }
        PathRules.CheckSegment(path, "path", topLevel: parent is null);
        var fullPath = parent is null ? path! : parent.FullPath + "/" + path;
        PathRules.CheckFullPath(fullPath, "path");
        var visibility = request.Visibility ?? (parent?.Visibility ?? Visibility.Private);
        if (!Visibility.IsValid(visibility))
            throw AccountException.Invalid("visibility", $"visibility does not have a valid value: {visibility} (allowed: {string.Join(", ", Visibility.All)})");
        if (parent is not null && PathRules.VisibilityRank(visibility) > PathRules.VisibilityRank(parent.Visibility))
            throw AccountException.Invalid("visibility_level", $"visibility {visibility} is not allowed since the parent group has a {parent.Visibility} visibility");
        await EnsurePathFreeAsync(db, fullPath, cancellationToken);

        var now = clock.GetUtcNow().UtcDateTime;
        var group = new NamespaceEntity
        {
            Name = string.IsNullOrWhiteSpace(request.Name) ? path! : request.Name.Trim(),
            Path = path!,
            FullPath = fullPath,
            ParentId = parent?.Id,
            Kind = GroupKind,
            Visibility = visibility,
            Description = request.Description,
            CreatedAt = now,
        };
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        try
        {
            db.Namespaces.Add(group);
            await db.SaveChangesAsync(cancellationToken);
            if (creatorId is { } userId)
            {
                db.Members.Add(new MemberEntity { NamespaceId = group.Id, UserId = userId, AccessLevel = (int)AccessLevel.Owner, CreatedAt = now });
                await db.SaveChangesAsync(cancellationToken);
            }
            await transaction.CommitAsync(cancellationToken);
        }
        catch (DbUpdateException)
        {
            throw new AccountException(AccountErrorKind.Conflict, "Failed to save group: path has already been taken", "path");
        }
        finally
        {
            db.ChangeTracker.Clear();
        }
        return group;
    }

    /// <summary>Deletes an empty group (no subgroups, no projects); its memberships go with it.</summary>
    /// <exception cref="AccountException">Not found; not empty (<see cref="AccountErrorKind.Conflict"/>).</exception>
    public async Task DeleteGroupAsync(long id, CancellationToken cancellationToken)
    {
        var group = await db.Namespaces.FirstOrDefaultAsync(n => n.Id == id && n.Kind == GroupKind, cancellationToken)
            ?? throw AccountException.NotFound("Group");
        if (await db.Namespaces.AnyAsync(n => n.ParentId == id, cancellationToken))
            throw new AccountException(AccountErrorKind.Conflict, $"group {group.FullPath} has subgroups: delete them first");
        if (await db.Projects.AnyAsync(p => p.NamespaceId == id, cancellationToken))
            throw new AccountException(AccountErrorKind.Conflict, $"group {group.FullPath} has projects: delete them first");
        await db.Members.Where(m => m.NamespaceId == id).ExecuteDeleteAsync(cancellationToken);
        await db.Namespaces.Where(n => n.Id == id).ExecuteDeleteAsync(cancellationToken);
    }

    /// <summary>The namespace and its ancestors, outermost first (for display names such as <c>A / B / C</c>).</summary>
    public async Task<IReadOnlyList<NamespaceEntity>> GetLineageAsync(NamespaceEntity ns, CancellationToken cancellationToken)
    {
        if (ns.ParentId is null) return [ns];
        var parts = ns.FullPath.Split('/');
        var prefixes = Enumerable.Range(1, parts.Length).Select(k => string.Join('/', parts, 0, k)).ToList();
        var found = await db.Namespaces.Where(n => prefixes.Contains(n.FullPath)).ToListAsync(cancellationToken);
        return found.OrderBy(n => n.FullPath.Length).ToList();
    }

    /// <summary>Refuses a full path already used by a namespace or a project (case-insensitive).</summary>
    internal static async Task EnsurePathFreeAsync(BerthDbContext db, string fullPath, CancellationToken cancellationToken)
    {
        var lower = fullPath.ToLowerInvariant();
        if (await db.Namespaces.AnyAsync(n => n.FullPath.ToLower() == lower, cancellationToken)
            || await db.Projects.AnyAsync(p => p.FullPath.ToLower() == lower, cancellationToken))
            throw new AccountException(AccountErrorKind.Conflict, $"Failed to save: path '{fullPath}' has already been taken", "path");
    }
}
