using Berth.Metadata;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace Berth.Auth.Accounts;

/// <summary>A new project.</summary>
/// <param name="NamespaceId">The group or personal namespace it lives in.</param>
/// <param name="Name">Display name; the path when null or empty.</param>
/// <param name="Path">Path segment (see <see cref="PathRules"/>); derived from the name when null or empty.</param>
/// <param name="Visibility"><c>private</c> (default), <c>internal</c> or <c>public</c>; in a group, not more visible than the group.</param>
/// <param name="RegistryEnabled">The project's Container Registry switch (default on).</param>
/// <param name="Description">Optional description.</param>
public sealed record NewProject(long NamespaceId, string? Name, string? Path, string? Visibility = null, bool? RegistryEnabled = null, string? Description = null);

/// <summary>Changes to a project; null leaves a value as it is.</summary>
/// <param name="Name">New display name.</param>
/// <param name="Description">New description.</param>
/// <param name="Visibility">New visibility.</param>
/// <param name="RegistryEnabled">New Container Registry switch.</param>
public sealed record ProjectChanges(string? Name = null, string? Description = null, string? Visibility = null, bool? RegistryEnabled = null);

/// <summary>
/// Projects: each owns the container repositories at <c>&lt;full path&gt;[/image]</c>, its members, settings
/// (visibility, the Container Registry switch) and deploy tokens. Throws <see cref="AccountException"/> for
/// refused operations.
/// </summary>
public sealed class ProjectService(BerthDbContext db, AccessPolicy policy, TimeProvider clock, ILoggerFactory loggers)
{
    /// <summary>Finds a project by id.</summary>
    /// <exception cref="AccountException">Not found.</exception>
    public async Task<ProjectEntity> GetProjectAsync(long id, CancellationToken cancellationToken) =>
        await db.Projects.FirstOrDefaultAsync(p => p.Id == id, cancellationToken) ?? throw AccountException.NotFound("Project");

    /// <summary>Finds a project by id or full path (case-insensitive); null when there is none.</summary>
    public async Task<ProjectEntity?> FindProjectAsync(string idOrPath, CancellationToken cancellationToken)
    {
        if (long.TryParse(idOrPath, out var id)) return await db.Projects.FirstOrDefaultAsync(p => p.Id == id, cancellationToken);
        var lower = idOrPath.Trim('/').ToLowerInvariant();
        return await db.Projects.FirstOrDefaultAsync(p => p.FullPath.ToLower() == lower, cancellationToken);
    }

    /// <summary>
    /// Creates a project. In a group, a creator (when given) whose inherited role is below Maintainer becomes
    /// a Maintainer of the project, so they can manage what they made.
    /// </summary>
    /// <exception cref="AccountException">Namespace not found; invalid name/path/visibility; path taken.</exception>
    public async Task<ProjectEntity> CreateProjectAsync(NewProject request, long? creatorId, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.Name) && string.IsNullOrWhiteSpace(request.Path))
            throw AccountException.Invalid("name", "name is missing");
        var ns = await db.Namespaces.FirstOrDefaultAsync(n => n.Id == request.NamespaceId, cancellationToken)
            ?? throw new AccountException(AccountErrorKind.NotFound, "Namespace Not Found", "namespace_id");
        var path = string.IsNullOrWhiteSpace(request.Path) ? PathRules.FromName(request.Name) : request.Path.Trim();
        PathRules.CheckSegment(path, "path", topLevel: false);
        var fullPath = ns.FullPath + "/" + path;
        PathRules.CheckFullPath(fullPath, "path");
        var visibility = request.Visibility ?? Visibility.Private;
        CheckVisibility(ns, visibility);
        await GroupService.EnsurePathFreeAsync(db, fullPath, cancellationToken);

        var now = clock.GetUtcNow().UtcDateTime;
        var project = new ProjectEntity
        {
            NamespaceId = ns.Id,
            Name = string.IsNullOrWhiteSpace(request.Name) ? path! : request.Name.Trim(),
            Path = path!,
            FullPath = fullPath,
            Visibility = visibility,
            RegistryEnabled = request.RegistryEnabled ?? true,
            Description = request.Description,
            CreatorId = creatorId,
            CreatedAt = now,
        };
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        try
        {
            db.Projects.Add(project);
            await db.SaveChangesAsync(cancellationToken);
            if (creatorId is { } userId && ns.Kind == GroupService.GroupKind
                && await policy.GetNamespaceAccessLevelAsync(userId, ns, cancellationToken) < AccessLevel.Maintainer)
            {
                db.Members.Add(new MemberEntity { ProjectId = project.Id, UserId = userId, AccessLevel = (int)AccessLevel.Maintainer, CreatedAt = now });
                await db.SaveChangesAsync(cancellationToken);
            }
            await transaction.CommitAsync(cancellationToken);
        }
        catch (DbUpdateException)
        {
            throw new AccountException(AccountErrorKind.Conflict, $"Failed to save project: path '{fullPath}' has already been taken", "path");
        }
        finally
        {
            db.ChangeTracker.Clear();
        }
        return project;
    }

    /// <summary>Changes a project's name, description, visibility or Container Registry switch.</summary>
    /// <exception cref="AccountException">Not found; invalid visibility.</exception>
    public async Task<ProjectEntity> UpdateProjectAsync(long id, ProjectChanges changes, CancellationToken cancellationToken)
    {
        var project = await db.Projects.AsTracking().FirstOrDefaultAsync(p => p.Id == id, cancellationToken) ?? throw AccountException.NotFound("Project");
        try
        {
            if (!string.IsNullOrWhiteSpace(changes.Name)) project.Name = changes.Name.Trim();
            if (changes.Description is not null) project.Description = changes.Description;
            if (changes.Visibility is not null)
            {
                var ns = await db.Namespaces.FirstAsync(n => n.Id == project.NamespaceId, cancellationToken);
                CheckVisibility(ns, changes.Visibility);
                project.Visibility = changes.Visibility;
            }
            if (changes.RegistryEnabled is { } enabled) project.RegistryEnabled = enabled;
            var changed = db.ChangeTracker.Entries<ProjectEntity>().SelectMany(e => e.Properties.Where(p => p.IsModified)
                .Select(p => $"{p.Metadata.Name} {p.OriginalValue ?? "(none)"} -> {p.CurrentValue ?? "(none)"}")).ToList();
            await db.SaveChangesAsync(cancellationToken);
            if (changed.Count > 0) AccountAudit.ProjectSettingsChanged(loggers.CreateLogger(AccountAudit.Category), project.FullPath, string.Join(", ", changed));
            return project;
        }
        finally
        {
            db.ChangeTracker.Clear();
        }
    }

    /// <summary>
    /// Deletes a project with its memberships, deploy tokens and the metadata of its container repositories
    /// (repositories named <c>&lt;full path&gt;</c> or <c>&lt;full path&gt;/…</c>, with their tags, manifests,
    /// blob links and upload sessions). Blob bytes stay in storage for garbage collection.
    /// </summary>
    /// <returns>How many repositories were removed.</returns>
    /// <exception cref="AccountException">Not found.</exception>
    public async Task<int> DeleteProjectAsync(long id, CancellationToken cancellationToken)
    {
        var project = await db.Projects.FirstOrDefaultAsync(p => p.Id == id, cancellationToken) ?? throw AccountException.NotFound("Project");
        var prefix = project.FullPath + "/";
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        int repositories = await db.Repositories
            .Where(r => r.Name == project.FullPath || r.Name.StartsWith(prefix))
            .ExecuteDeleteAsync(cancellationToken);
        await db.Members.Where(m => m.ProjectId == id).ExecuteDeleteAsync(cancellationToken);
        await db.DeployTokens.Where(t => t.ProjectId == id).ExecuteDeleteAsync(cancellationToken);
        await db.Projects.Where(p => p.Id == id).ExecuteDeleteAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        AccountAudit.ProjectDeleted(loggers.CreateLogger(AccountAudit.Category), project.FullPath, $"with {repositories} image repositories");
        return repositories;
    }

    private static void CheckVisibility(NamespaceEntity ns, string visibility)
    {
        if (!Visibility.IsValid(visibility))
            throw AccountException.Invalid("visibility", $"visibility does not have a valid value: {visibility} (allowed: {string.Join(", ", Visibility.All)})");
        if (ns.Kind == GroupService.GroupKind && PathRules.VisibilityRank(visibility) > PathRules.VisibilityRank(ns.Visibility))
            throw AccountException.Invalid("visibility_level", $"visibility {visibility} is not allowed in a {ns.Visibility} group");
    }
}
