using Berth.Distribution;
using Berth.Metadata;
using Microsoft.EntityFrameworkCore;

namespace Berth.Auth;

/// <summary>What a caller may do in a repository, and why not when something is refused.</summary>
/// <param name="Project">The project owning the repository, when there is one.</param>
/// <param name="Pull">May pull.</param>
/// <param name="Push">May push.</param>
/// <param name="Delete">May delete tags, manifests, blobs.</param>
/// <param name="Explanation">For refusals: what is missing, safe to show to the caller.</param>
public sealed record RepositoryAccess(ProjectEntity? Project, bool Pull, bool Push, bool Delete, string Explanation);

/// <summary>
/// The access policy (GitLab's model, DESIGN.md "Access rules"): maps a repository name onto its project
/// (<c>&lt;project full path&gt;[/up to three more segments]</c>), computes the caller's access level there
/// (direct project membership, membership of the project's group or any ancestor group, owner of the
/// personal namespace, instance admin), and combines it with the project's visibility, the registry
/// switches and the credential's scopes.
/// </summary>
public sealed class AccessPolicy(BerthDbContext db)
{
    /// <summary>How many path segments a repository may add below its project.</summary>
    public const int MaxImageDepth = 3;

    /// <summary>Instance setting key of the instance-wide registry switch.</summary>
    public const string RegistryEnabledSetting = "registry_enabled";

    /// <summary>Finds the project a repository belongs to: the longest project path that is a prefix of the
    /// name at a segment boundary, with at most <see cref="MaxImageDepth"/> segments left below it.</summary>
    public async Task<ProjectEntity?> FindProjectForRepositoryAsync(RepositoryName repository, CancellationToken cancellationToken)
    {
        var candidates = ProjectPathCandidates(repository);
        // Repository names are lowercase (OCI grammar); project paths may have capitals, matched case-insensitively.
        var projects = await db.Projects.Where(p => candidates.Contains(p.FullPath.ToLower())).ToListAsync(cancellationToken);
        return projects.OrderByDescending(p => p.FullPath.Length).FirstOrDefault();
    }

    /// <summary>The project paths a repository name may belong to (its first 2.. segments, at most
    /// <see cref="MaxImageDepth"/> segments left below).</summary>
    private static List<string> ProjectPathCandidates(RepositoryName repository)
    {
        var parts = repository.Components;
        var candidates = new List<string>();
        for (int k = Math.Max(2, parts.Length - MaxImageDepth); k <= parts.Length; k++)
            candidates.Add(string.Join('/', parts, 0, k));
        return candidates;
    }

    /// <summary>Whether the instance-wide registry switch is on (default on).</summary>
    public async Task<bool> IsRegistryEnabledAsync(CancellationToken cancellationToken)
    {
        var value = await db.InstanceSettings.Where(s => s.Key == RegistryEnabledSetting).Select(s => s.Value).FirstOrDefaultAsync(cancellationToken);
        return IsOn(value);
    }

    private static bool IsOn(string? setting) => setting is null || !string.Equals(setting, "false", StringComparison.OrdinalIgnoreCase);

    /// <summary>The user's effective access level in a project: the highest of direct project membership,
    /// group memberships of the project's namespace and its ancestors, and ownership of the personal
    /// namespace. Expired memberships count for nothing. Admins are not special here (see <see cref="GetRepositoryAccessAsync"/>).</summary>
    public async Task<AccessLevel> GetProjectAccessLevelAsync(long userId, ProjectEntity project, CancellationToken cancellationToken)
    {
        var now = DateTime.UtcNow;
        var ns = await db.Namespaces.FirstAsync(n => n.Id == project.NamespaceId, cancellationToken);
        if (ns.Kind == "user" && ns.OwnerId == userId) return AccessLevel.Owner;
        // One round trip for the direct membership and the memberships of the namespace and its ancestor groups
        // (a personal namespace has no group members): this runs on every token request of a non-admin.
        var projectId = project.Id;
        var groups = ns.Kind == "user" ? new List<string>() : NamespacePrefixes(ns.FullPath);
        var level = await db.Members
            .Where(m => m.UserId == userId && (m.ExpiresAt == null || m.ExpiresAt > now)
                && (m.ProjectId == projectId
                    || (m.NamespaceId != null && db.Namespaces.Where(n => groups.Contains(n.FullPath)).Select(n => (long?)n.Id).Contains(m.NamespaceId))))
            .Select(m => (int?)m.AccessLevel).MaxAsync(cancellationToken) ?? 0;
        return (AccessLevel)level;
    }

    /// <summary>The user's access level in a namespace: the highest membership of it or any ancestor group
    /// (Owner for one's own personal namespace).</summary>
    public async Task<AccessLevel> GetNamespaceAccessLevelAsync(long userId, NamespaceEntity ns, CancellationToken cancellationToken)
    {
        if (ns.Kind == "user") return ns.OwnerId == userId ? AccessLevel.Owner : AccessLevel.None;
        var now = DateTime.UtcNow;
        var prefixes = NamespacePrefixes(ns.FullPath);
        var level = await (from m in db.Members
                           join n in db.Namespaces on m.NamespaceId equals n.Id
                           where m.UserId == userId && prefixes.Contains(n.FullPath) && (m.ExpiresAt == null || m.ExpiresAt > now)
                           select (int?)m.AccessLevel).MaxAsync(cancellationToken) ?? 0;
        return (AccessLevel)level;
    }

    /// <summary>A namespace path and its ancestors' paths (<c>a</c>, <c>a/b</c>, <c>a/b/c</c>).</summary>
    private static List<string> NamespacePrefixes(string fullPath)
    {
        var parts = fullPath.Split('/');
        return Enumerable.Range(1, parts.Length).Select(k => string.Join('/', parts, 0, k)).ToList();
    }

    /// <summary>Whether the caller can see a project at all (read it in the API, pull when the registry is on).</summary>
    public async Task<bool> CanReadProjectAsync(Principal principal, ProjectEntity project, CancellationToken cancellationToken)
    {
        if (project.Visibility == Visibility.Public) return true;
        if (principal.Kind == PrincipalKind.DeployToken) return principal.ProjectId == project.Id;
        if (principal.UserId is not { } userId) return false;
        if (principal.IsAdmin) return true;
        if (project.Visibility == Visibility.Internal) return true;
        return await GetProjectAccessLevelAsync(userId, project, cancellationToken) >= AccessLevel.Guest;
    }

    /// <summary>
    /// What <paramref name="principal"/> may do in <paramref name="repository"/>: nothing when the instance's
    /// or the project's registry is off or no project owns the name; otherwise pull for public projects,
    /// for signed-in users on internal ones and for Reporter+ on private ones; push and delete for Developer+;
    /// everything for admins; deploy tokens only in their project per their scopes; CI job tokens per
    /// <see cref="GetJobTokenAccessAsync"/>; all capped by the credential's scopes (<c>read_registry</c> pull; <c>write_registry</c> and <c>api</c> pull, push, delete).
    /// </summary>
    public async Task<RepositoryAccess> GetRepositoryAccessAsync(Principal principal, RepositoryName repository, CancellationToken cancellationToken)
    {
        // One round trip for the instance switch and the project (this runs for every scope of every token request);
        // a second only when no project owns the name.
        var candidates = ProjectPathCandidates(repository);
        var rows = await db.Projects.Where(p => candidates.Contains(p.FullPath.ToLower()))
            .Select(p => new { Project = p, Switch = db.InstanceSettings.Where(s => s.Key == RegistryEnabledSetting).Select(s => s.Value).FirstOrDefault() })
            .ToListAsync(cancellationToken);
        bool enabled = rows.Count > 0 ? IsOn(rows[0].Switch) : await IsRegistryEnabledAsync(cancellationToken);
        if (!enabled)
            return new RepositoryAccess(null, false, false, false, "the container registry is turned off for this instance");
        var project = rows.Select(r => r.Project).OrderByDescending(p => p.FullPath.Length).FirstOrDefault();
        if (project is null)
            return new RepositoryAccess(null, false, false, false, $"no project owns the repository {repository}: repositories live at <namespace>/<project>[/<image>] of an existing project");
        if (!project.RegistryEnabled)
            return new RepositoryAccess(project, false, false, false, $"the container registry is turned off for project {project.FullPath}");

        bool pull, push, delete;
        string why;
        switch (principal.Kind)
        {
            case PrincipalKind.Anonymous:
                pull = project.Visibility == Visibility.Public;
                push = delete = false;
                why = pull ? "anonymous callers may only pull" : $"project {project.FullPath} is not public: sign in";
                break;
            case PrincipalKind.DeployToken:
                if (principal.ProjectId != project.Id)
                    return new RepositoryAccess(project, false, false, false, $"deploy token {principal.Name} belongs to another project than {project.FullPath}");
                pull = principal.HasScope(TokenScopes.ReadRegistry) || principal.HasScope(TokenScopes.WriteRegistry);
                push = principal.HasScope(TokenScopes.WriteRegistry);
                delete = false;
                why = $"deploy token {principal.Name} has scopes: {string.Join(", ", principal.Scopes ?? new HashSet<string>())}; pulling needs read_registry or write_registry, pushing needs write_registry, deleting needs a Developer";
                break;
            case PrincipalKind.JobToken:
                (pull, push, delete, why) = await GetJobTokenAccessAsync(principal, project, cancellationToken);
                break;
            default:
                if (principal.IsAdmin)
                {
                    pull = push = delete = true;
                    why = "";
                }
                else
                {
                    var level = await GetProjectAccessLevelAsync(principal.UserId!.Value, project, cancellationToken);
                    pull = project.Visibility is Visibility.Public or Visibility.Internal || level >= AccessLevel.Reporter;
                    push = delete = level >= AccessLevel.Developer;
                    why = $"{principal.Name} {(level == AccessLevel.None ? "has no role" : $"has the {level} role")} in {project.FullPath}: pulling a {project.Visibility} project needs {(project.Visibility == Visibility.Private ? "Reporter" : "a signed-in user")}, pushing and deleting need Developer";
                }
                if (principal.Scopes is { } scopes)
                {
                    bool full = scopes.Contains(TokenScopes.Api) || scopes.Contains(TokenScopes.WriteRegistry);
                    bool read = full || scopes.Contains(TokenScopes.ReadRegistry);
                    pull &= read;
                    push &= full;
                    delete &= full;
                    if (!read || !full) why += $"; the token's scopes are {string.Join(", ", scopes)} (read_registry: pull; write_registry: pull, push, delete)";
                }
                break;
        }
        return new RepositoryAccess(project, pull, push, delete, why);
    }

    /// <summary>
    /// A CI job token's access (GitLab's job token model): in its own project what the user who started the job
    /// may do (pull; push and delete for Developer+); in a project whose job-token allowlist holds the job's
    /// project, pull when that user may pull there; public projects, pull; nothing elsewhere. A job of a project
    /// runner is also capped by the runner's creator; a job of a trusted OIDC identity (no user) may pull and
    /// push in its own project only.
    /// </summary>
    private async Task<(bool Pull, bool Push, bool Delete, string Why)> GetJobTokenAccessAsync(Principal principal, ProjectEntity project, CancellationToken cancellationToken)
    {
        var jobId = principal.CredentialId;
        var job = await db.CiJobs.Where(j => j.Id == jobId).Select(j => new { j.ProjectId, j.UserId, j.CapUserId }).FirstOrDefaultAsync(cancellationToken);
        if (job is null) return (false, false, false, "the CI job of this job token no longer exists");
        bool own = job.ProjectId == project.Id;
        var jobName = $"the CI job token of job {jobId}";
        if (job.UserId is not { } userId)
        {
            // A trusted OIDC identity: push/pull on its project only.
            if (own) return (true, true, false, $"{jobName} (a trusted CI identity) may pull and push in {project.FullPath}, not delete");
            bool publicPull = project.Visibility == Visibility.Public;
            return (publicPull, false, false, $"{jobName} (a trusted CI identity) may push only to its own project; it may pull {project.FullPath} only if it is public");
        }
        var level = await JobUserLevelAsync(userId, project, cancellationToken);
        string capNote = "";
        if (job.CapUserId is { } capId)
        {
            var cap = await JobUserLevelAsync(capId, project, cancellationToken);
            if (cap < level) { level = cap; capNote = " (capped by the creator of its project runner)"; }
        }
        bool userPull = project.Visibility is Visibility.Public or Visibility.Internal || level >= AccessLevel.Reporter;
        var role = level == AccessLevel.None ? "no role" : $"the {level} role";
        if (own)
        {
            bool write = level >= AccessLevel.Developer;
            return (userPull, write, write,
                $"{jobName} acts for its user, who has {role}{capNote} in {project.FullPath}: pushing and deleting need Developer, pulling a {project.Visibility} project needs {(project.Visibility == Visibility.Private ? "Reporter" : "a signed-in user")}");
        }
        if (project.Visibility == Visibility.Public)
            return (true, false, false, $"{jobName} may push and delete only in its own project");
        var sourceProjectId = job.ProjectId;
        bool allowed = await db.JobTokenAllowlist.AnyAsync(a => a.ProjectId == project.Id && a.SourceProjectId == sourceProjectId, cancellationToken);
        if (!allowed)
            return (false, false, false, $"{jobName} may push only to its own project, and may pull from {project.FullPath} only if a Maintainer adds the job's project to the job token allowlist of {project.FullPath}");
        return (userPull, false, false,
            $"{jobName} may pull from {project.FullPath} (its job token allowlist includes the job's project) only within the rights of the job's user, who has {role}{capNote} there; it may push and delete only in its own project");
    }

    /// <summary>The level that stands for an instance administrator in protection rules (above Owner), GitLab's <c>admin</c>.</summary>
    public const int AdminLevel = 60;

    /// <summary>
    /// The access level a caller acts with in a project, for protection rules: <see cref="AdminLevel"/> for instance
    /// administrators; a user's effective level (<see cref="GetProjectAccessLevelAsync"/>); for a CI job token, the
    /// level of the job's user (capped by a project runner's creator; none for trusted OIDC identities); none for deploy
    /// tokens and anonymous callers.
    /// </summary>
    public async Task<int> GetActingLevelAsync(Principal principal, ProjectEntity project, CancellationToken cancellationToken)
    {
        switch (principal.Kind)
        {
            case PrincipalKind.Anonymous or PrincipalKind.DeployToken:
                return 0;
            case PrincipalKind.JobToken:
                var jobId = principal.CredentialId;
                var job = await db.CiJobs.Where(j => j.Id == jobId).Select(j => new { j.UserId, j.CapUserId }).FirstOrDefaultAsync(cancellationToken);
                if (job?.UserId is not { } jobUser) return 0;
                var level = await JobUserLevelAsync(jobUser, project, cancellationToken);
                if (job.CapUserId is { } capId) level = (AccessLevel)Math.Min((int)level, (int)await JobUserLevelAsync(capId, project, cancellationToken));
                return (int)level;
            default:
                if (principal.IsAdmin) return AdminLevel;
                return principal.UserId is { } userId ? (int)await GetProjectAccessLevelAsync(userId, project, cancellationToken) : 0;
        }
    }

    /// <summary>The level of a job's user in a project: Owner for admins, none for blocked or deleted users.</summary>
    private async Task<AccessLevel> JobUserLevelAsync(long userId, ProjectEntity project, CancellationToken cancellationToken)
    {
        var user = await db.Users.Where(u => u.Id == userId).Select(u => new { u.IsAdmin, u.IsBlocked }).FirstOrDefaultAsync(cancellationToken);
        if (user is null || user.IsBlocked) return AccessLevel.None;
        return user.IsAdmin ? AccessLevel.Owner : await GetProjectAccessLevelAsync(userId, project, cancellationToken);
    }
}
