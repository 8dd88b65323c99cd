using Berth.Metadata;
using Microsoft.EntityFrameworkCore;

namespace Berth.Auth.Accounts;

/// <summary>
/// Renames and transfers of projects and groups with their container repositories. A repository belongs to a project by
/// name (<c>&lt;project full path, lowercase&gt;[/image]</c>), so a move rewrites the names of the repositories below the
/// old path, in the same transaction as the project or group rows: one UPDATE per table, O(number of repositories) rows,
/// no blob is copied (blobs are stored by digest and linked by repository id). Old names stop resolving at once (the
/// registry answers <c>NAME_UNKNOWN</c>, or DENIED when no project owns the old name any more); there is no redirect.
/// </summary>
public sealed class PathMoves(BerthDbContext db)
{
    /// <summary>
    /// Renames a project's path and/or moves it to another namespace; its repositories follow.
    /// </summary>
    /// <param name="projectId">The project.</param>
    /// <param name="newPath">The new last segment, or null to keep it.</param>
    /// <param name="newNamespaceId">The namespace to move into, or null to stay.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The updated project.</returns>
    /// <exception cref="AccountException">Not found; invalid path; path taken; visibility above the new group's;
    /// repositories already exist under the new path (Conflict); a repository name would exceed 255 characters.</exception>
    public async Task<ProjectEntity> MoveProjectAsync(long projectId, string? newPath, long? newNamespaceId, CancellationToken cancellationToken)
    {
        var project = await db.Projects.FirstOrDefaultAsync(p => p.Id == projectId, cancellationToken) ?? throw AccountException.NotFound("Project");
        var ns = await db.Namespaces.FirstOrDefaultAsync(n => n.Id == (newNamespaceId ?? project.NamespaceId), cancellationToken)
            ?? throw new AccountException(AccountErrorKind.NotFound, "Namespace Not Found", "namespace");
        var path = string.IsNullOrWhiteSpace(newPath) ? project.Path : newPath.Trim();
        PathRules.CheckSegment(path, "path", topLevel: false);
        var fullPath = ns.FullPath + "/" + path;
        PathRules.CheckFullPath(fullPath, "path");
        if (string.Equals(fullPath, project.FullPath, StringComparison.Ordinal) && ns.Id == project.NamespaceId) return project;
        if (ns.Kind == GroupService.GroupKind && PathRules.VisibilityRank(project.Visibility) > PathRules.VisibilityRank(ns.Visibility))
            throw AccountException.Invalid("visibility_level", $"a {project.Visibility} project cannot move into the {ns.Visibility} group {ns.FullPath}: lower its visibility first");
        if (!string.Equals(fullPath, project.FullPath, StringComparison.OrdinalIgnoreCase))
            await GroupService.EnsurePathFreeAsync(db, fullPath, cancellationToken);

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await MoveRepositoriesAsync(project.FullPath, fullPath, cancellationToken);
        await db.Projects.Where(p => p.Id == projectId).ExecuteUpdateAsync(s => s
            .SetProperty(p => p.Path, path)
            .SetProperty(p => p.FullPath, fullPath)
            .SetProperty(p => p.NamespaceId, ns.Id), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return await db.Projects.FirstAsync(p => p.Id == projectId, cancellationToken);
    }

    /// <summary>
    /// Renames a group's path (its last segment): the group, its subgroups, their projects and all their repositories
    /// follow, in one transaction.
    /// </summary>
    /// <exception cref="AccountException">Not found; invalid path; path taken; repositories already exist under the new path.</exception>
    public async Task<NamespaceEntity> RenameGroupAsync(long groupId, string newPath, CancellationToken cancellationToken)
    {
        var group = await db.Namespaces.FirstOrDefaultAsync(n => n.Id == groupId && n.Kind == GroupService.GroupKind, cancellationToken)
            ?? throw AccountException.NotFound("Group");
        var path = newPath.Trim();
        PathRules.CheckSegment(path, "path", topLevel: group.ParentId is null);
        var oldFull = group.FullPath;
        var cut = oldFull.LastIndexOf('/');
        var fullPath = cut < 0 ? path : oldFull[..(cut + 1)] + path;
        PathRules.CheckFullPath(fullPath, "path");
        if (string.Equals(fullPath, oldFull, StringComparison.Ordinal)) return group;
        if (!string.Equals(fullPath, oldFull, StringComparison.OrdinalIgnoreCase))
            await GroupService.EnsurePathFreeAsync(db, fullPath, cancellationToken);
        var oldBelow = oldFull + "/";
        int longest = Math.Max(
            await db.Namespaces.Where(n => n.FullPath.StartsWith(oldBelow)).MaxAsync(n => (int?)n.FullPath.Length, cancellationToken) ?? 0,
            await db.Projects.Where(p => p.FullPath.StartsWith(oldBelow)).MaxAsync(p => (int?)p.FullPath.Length, cancellationToken) ?? 0);
        if (longest - oldFull.Length + fullPath.Length > PathRules.MaxFullPathLength)
            throw AccountException.Invalid("path", $"renaming {oldFull} to {fullPath} would make a path longer than {PathRules.MaxFullPathLength} characters");

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await MoveRepositoriesAsync(oldFull, fullPath, cancellationToken, includeRoot: false);
        int cutAt = oldFull.Length;
        await db.Namespaces.Where(n => n.FullPath.StartsWith(oldBelow))
            .ExecuteUpdateAsync(s => s.SetProperty(n => n.FullPath, n => fullPath + n.FullPath.Substring(cutAt)), cancellationToken);
        await db.Projects.Where(p => p.FullPath.StartsWith(oldBelow))
            .ExecuteUpdateAsync(s => s.SetProperty(p => p.FullPath, p => fullPath + p.FullPath.Substring(cutAt)), cancellationToken);
        await db.Namespaces.Where(n => n.Id == groupId).ExecuteUpdateAsync(s => s.SetProperty(n => n.Path, path).SetProperty(n => n.FullPath, fullPath), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return await db.Namespaces.FirstAsync(n => n.Id == groupId, cancellationToken);
    }

    /// <summary>Rewrites the names of the repositories at <paramref name="oldRoot"/> (when <paramref name="includeRoot"/>)
    /// and below it to <paramref name="newRoot"/>; refuses when repositories already exist under the new root.</summary>
    private async Task MoveRepositoriesAsync(string oldRoot, string newRoot, CancellationToken cancellationToken, bool includeRoot = true)
    {
        var from = oldRoot.ToLowerInvariant();
        var to = newRoot.ToLowerInvariant();
        if (from == to) return;
        var fromBelow = from + "/";
        var toBelow = to + "/";
        if (await db.Repositories.AnyAsync(r => (includeRoot && r.Name == to) || r.Name.StartsWith(toBelow), cancellationToken))
            throw new AccountException(AccountErrorKind.Conflict,
                $"container repositories named {to} or {toBelow}… already exist (left from an earlier project); delete them before moving {oldRoot} there", "path");
        var longest = await db.Repositories.Where(r => (includeRoot && r.Name == from) || r.Name.StartsWith(fromBelow)).MaxAsync(r => (int?)r.Name.Length, cancellationToken) ?? 0;
        if (longest - from.Length + to.Length > PathRules.MaxFullPathLength)
            throw AccountException.Invalid("path", $"moving {oldRoot} to {newRoot} would make a repository name longer than {PathRules.MaxFullPathLength} characters");
        int cut = from.Length;
        await db.Repositories.Where(r => (includeRoot && r.Name == from) || r.Name.StartsWith(fromBelow))
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.Name, r => to + r.Name.Substring(cut)), cancellationToken);
    }
}
