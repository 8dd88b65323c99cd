using Berth.Auth.Accounts;
using Berth.Metadata;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Berth.Auth.Ci;

/// <summary>A job just created, with its token: the only time the token is known.</summary>
/// <param name="Job">The stored job (token hash only).</param>
/// <param name="Token">The job token (<c>bjob-…</c>), the password of <c>gitlab-ci-token</c>.</param>
/// <param name="Project">The job's project.</param>
/// <param name="User">The user the job acts for; null for a trusted OIDC identity.</param>
public sealed record CreatedJob(CiJobEntity Job, string Token, ProjectEntity Project, UserEntity? User);

/// <summary>Whether a job's token is still usable.</summary>
public enum CiJobStatus
{
    /// <summary>Usable.</summary>
    Running,
    /// <summary>Finished by a finish call; refused.</summary>
    Finished,
    /// <summary>Past its expiry; refused.</summary>
    Expired,
}

/// <summary>
/// CI jobs and their job tokens (<c>bjob-…</c>, sent as the password of <c>gitlab-ci-token</c>), and the
/// job-token allowlists of projects. A job token acts for the user who started the job (never with more than
/// that user's rights, see <see cref="AccessPolicy"/>) within the job's project; it expires when the job is
/// finished or after <see cref="CiOptions.JobTokenMaxLifetimeMinutes"/>. Tokens are stored as SHA-256 hashes;
/// issue and finish are written to the audit log (<see cref="CiAudit"/>). Throws <see cref="AccountException"/>
/// for refused operations.
/// </summary>
public sealed class CiJobService(BerthDbContext db, AccessPolicy policy, IOptions<CiOptions> options, TimeProvider clock, ILoggerFactory loggers)
{
    private readonly ILogger _audit = loggers.CreateLogger(CiAudit.Category);

    private DateTime Now => clock.GetUtcNow().UtcDateTime;

    /// <summary>The settings in force.</summary>
    public CiOptions Options => options.Value;

    /// <summary>The status of a job at this moment.</summary>
    public CiJobStatus StatusOf(CiJobEntity job) =>
        job.FinishedAt is not null ? CiJobStatus.Finished : job.ExpiresAt <= Now ? CiJobStatus.Expired : CiJobStatus.Running;

    /// <summary>
    /// Creates a job for a runner: a job of <paramref name="projectIdOrPath"/> started by
    /// <paramref name="userIdOrName"/>, whose token lives <paramref name="lifetimeMinutes"/> (default and at most
    /// <see cref="CiOptions.JobTokenMaxLifetimeMinutes"/>).
    /// </summary>
    /// <exception cref="AccountException">Project or user not found (404); the runner belongs to another project,
    /// the user is blocked or cannot see the project (403); a bad lifetime (400).</exception>
    public async Task<CreatedJob> CreateForRunnerAsync(RunnerEntity runner, string projectIdOrPath, string userIdOrName, string? name, int? lifetimeMinutes, CancellationToken cancellationToken)
    {
        var project = await FindProjectAsync(projectIdOrPath, cancellationToken) ?? throw AccountException.NotFound("Project");
        if (runner.ProjectId is { } own && own != project.Id)
            throw new AccountException(AccountErrorKind.Forbidden, $"runner {runner.Id} is a project runner of another project; it cannot start jobs of {project.FullPath}");
        var user = await FindUserAsync(userIdOrName, cancellationToken) ?? throw AccountException.NotFound("User");
        if (user.IsBlocked) throw new AccountException(AccountErrorKind.Forbidden, $"the user {user.Username} is blocked");
        var asUser = new Principal(PrincipalKind.User, user.Username) { UserId = user.Id, IsAdmin = user.IsAdmin };
        if (!await policy.CanReadProjectAsync(asUser, project, cancellationToken))
            throw new AccountException(AccountErrorKind.Forbidden, $"the user {user.Username} has no access to project {project.FullPath}, so cannot start its jobs");
        var max = options.Value.JobTokenMaxLifetimeMinutes;
        if (lifetimeMinutes is < 1) throw AccountException.Invalid("timeout", "timeout must be at least 1 (minutes)");
        var minutes = Math.Min(lifetimeMinutes ?? max, max);
        if (name is { Length: > 255 }) throw AccountException.Invalid("name", "name is too long (maximum is 255 characters)");
        long? cap = null;
        if (runner.ProjectId is not null)
        {
            // A project runner never acts with more than the Maintainer who created it has.
            var creator = runner.CreatorId is { } cid ? await db.Users.FirstOrDefaultAsync(u => u.Id == cid, cancellationToken) : null;
            if (creator is null || creator.IsBlocked)
                throw new AccountException(AccountErrorKind.Forbidden, $"the user who created runner {runner.Id} no longer exists or is blocked: create a new runner");
            if (creator.Id != user.Id) cap = creator.Id;
        }
        var job = await CreateAsync(project, user.Id, cap, runner.Id, null, name, null, minutes, cancellationToken);
        CiAudit.JobTokenIssued(_audit, job.Job.Id, project.FullPath, user.Username, $"runner {runner.Id}", job.Job.ExpiresAt);
        return job with { User = user };
    }

    /// <summary>Creates a job for a verified OIDC identity of <paramref name="trust"/>: push/pull on its project,
    /// for <see cref="CiOptions.OidcTokenLifetimeMinutes"/> (at most the maximum lifetime).</summary>
    public async Task<CreatedJob> CreateForTrustAsync(TrustedIdentityEntity trust, ProjectEntity project, string? subject, CancellationToken cancellationToken)
    {
        var minutes = Math.Min(options.Value.OidcTokenLifetimeMinutes, options.Value.JobTokenMaxLifetimeMinutes);
        if (subject is { Length: > 1024 }) subject = subject[..1024];
        var job = await CreateAsync(project, null, null, null, trust.Id, null, subject, minutes, cancellationToken);
        CiAudit.JobTokenIssued(_audit, job.Job.Id, project.FullPath, $"trusted identity {trust.Id} (sub {subject})", $"OIDC issuer {trust.Issuer}", job.Job.ExpiresAt);
        return job;
    }

    private async Task<CreatedJob> CreateAsync(ProjectEntity project, long? userId, long? capUserId, long? runnerId, long? trustId, string? name, string? subject, int minutes, CancellationToken cancellationToken)
    {
        var now = Now;
        var secret = SecretTokens.Generate(SecretTokens.JobTokenPrefix);
        var job = new CiJobEntity
        {
            ProjectId = project.Id,
            UserId = userId,
            CapUserId = capUserId,
            RunnerId = runnerId,
            TrustId = trustId,
            Name = string.IsNullOrWhiteSpace(name) ? null : name.Trim(),
            Subject = subject,
            TokenHash = SecretTokens.Hash(secret),
            CreatedAt = now,
            ExpiresAt = now.AddMinutes(minutes),
        };
        db.CiJobs.Add(job);
        await db.SaveChangesAsync(cancellationToken);
        db.ChangeTracker.Clear();
        // Forget jobs that ended long ago, now and then.
        if (Random.Shared.Next(100) == 0)
        {
            var old = now.AddDays(-30);
            await db.CiJobs.Where(j => j.ExpiresAt < old).ExecuteDeleteAsync(cancellationToken);
        }
        return new CreatedJob(job, secret, project, null);
    }

    /// <summary>One job.</summary>
    /// <exception cref="AccountException">Not found.</exception>
    public async Task<CiJobEntity> GetAsync(long id, CancellationToken cancellationToken) =>
        await db.CiJobs.FirstOrDefaultAsync(j => j.Id == id, cancellationToken) ?? throw AccountException.NotFound("Job");

    /// <summary>The job a token belongs to (whatever its status), or null.</summary>
    public async Task<CiJobEntity?> FindByTokenAsync(string token, CancellationToken cancellationToken)
    {
        if (!token.StartsWith(SecretTokens.JobTokenPrefix, StringComparison.Ordinal)) return null;
        var hash = SecretTokens.Hash(token);
        var job = await db.CiJobs.FirstOrDefaultAsync(j => j.TokenHash == hash, cancellationToken);
        return job is not null && SecretTokens.HashEquals(job.TokenHash, hash) ? job : null;
    }

    /// <summary>Finishes a job: its token is refused from now on (also registry tokens issued for it). Finishing
    /// a finished job changes nothing.</summary>
    public async Task<CiJobEntity> FinishAsync(CiJobEntity job, string by, CancellationToken cancellationToken)
    {
        if (job.FinishedAt is not null) return job;
        var now = Now;
        await db.CiJobs.Where(j => j.Id == job.Id && j.FinishedAt == null).ExecuteUpdateAsync(s => s.SetProperty(j => j.FinishedAt, now), cancellationToken);
        CiAudit.JobFinished(_audit, job.Id, job.ProjectId, by);
        return await GetAsync(job.Id, cancellationToken);
    }

    /// <summary>True while the job's token is usable (not finished, not expired): one primary-key lookup, for
    /// registry and refresh tokens issued to a job token.</summary>
    public Task<bool> IsActiveAsync(long? jobId, CancellationToken cancellationToken)
    {
        if (jobId is not { } id) return Task.FromResult(false);
        var now = Now;
        return db.CiJobs.AnyAsync(j => j.Id == id && j.FinishedAt == null && j.ExpiresAt > now, cancellationToken);
    }

    /// <summary>The projects on <paramref name="projectId"/>'s allowlist (whose job tokens may pull from it), by id.</summary>
    public async Task<IReadOnlyList<ProjectEntity>> ListAllowlistAsync(long projectId, CancellationToken cancellationToken) =>
        await (from a in db.JobTokenAllowlist
               join p in db.Projects on a.SourceProjectId equals p.Id
               where a.ProjectId == projectId
               orderby p.Id
               select p).ToListAsync(cancellationToken);

    /// <summary>Lets job tokens of <paramref name="sourceProjectId"/> pull from <paramref name="projectId"/>.</summary>
    /// <exception cref="AccountException">The project itself (400); already on the list (409).</exception>
    public async Task AddToAllowlistAsync(long projectId, long sourceProjectId, long byUserId, CancellationToken cancellationToken)
    {
        if (projectId == sourceProjectId)
            throw AccountException.Invalid("target_project_id", "a project's own job tokens always have access to it; add another project");
        if (await db.JobTokenAllowlist.AnyAsync(a => a.ProjectId == projectId && a.SourceProjectId == sourceProjectId, cancellationToken))
            throw new AccountException(AccountErrorKind.Conflict, "Target project is already in the job token scope");
        db.JobTokenAllowlist.Add(new JobTokenAllowlistEntity { ProjectId = projectId, SourceProjectId = sourceProjectId, CreatedAt = Now });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException)
        {
            throw new AccountException(AccountErrorKind.Conflict, "Target project is already in the job token scope");
        }
        finally
        {
            db.ChangeTracker.Clear();
        }
        CiAudit.AllowlistChanged(_audit, projectId, sourceProjectId, "added", byUserId);
    }

    /// <summary>Removes a project from the allowlist.</summary>
    /// <exception cref="AccountException">Not on the list (404).</exception>
    public async Task RemoveFromAllowlistAsync(long projectId, long sourceProjectId, long byUserId, CancellationToken cancellationToken)
    {
        int n = await db.JobTokenAllowlist.Where(a => a.ProjectId == projectId && a.SourceProjectId == sourceProjectId).ExecuteDeleteAsync(cancellationToken);
        if (n == 0) throw AccountException.NotFound("Project in the job token allowlist");
        CiAudit.AllowlistChanged(_audit, projectId, sourceProjectId, "removed", byUserId);
    }

    /// <summary>A project by id or full path (case-insensitive, URL-encoded or not), or null.</summary>
    public async Task<ProjectEntity?> FindProjectAsync(string idOrPath, CancellationToken cancellationToken)
    {
        idOrPath = Uri.UnescapeDataString(idOrPath.Trim());
        if (long.TryParse(idOrPath, out var id)) return await db.Projects.FirstOrDefaultAsync(p => p.Id == id, cancellationToken);
        var lower = idOrPath.Trim('/').ToLowerInvariant();
        return await db.Projects.FirstOrDefaultAsync(p => p.FullPath.ToLower() == lower, cancellationToken);
    }

    private async Task<UserEntity?> FindUserAsync(string idOrName, CancellationToken cancellationToken)
    {
        idOrName = idOrName.Trim();
        if (long.TryParse(idOrName, out var id)) return await db.Users.FirstOrDefaultAsync(u => u.Id == id, cancellationToken);
        var lower = idOrName.ToLowerInvariant();
        return await db.Users.FirstOrDefaultAsync(u => u.NormalizedUsername == lower, cancellationToken);
    }
}
