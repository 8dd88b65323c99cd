using System.Diagnostics;
using System.Text;
using Berth.Auth;
using Berth.Distribution;
using Berth.Metadata;
using Microsoft.EntityFrameworkCore;

namespace Berth.Server.Registry;

/// <summary>The outcome of deleting a set of tags: how many went, which failed and why.</summary>
public sealed record TagDeletionResult(int Deleted, IReadOnlyList<string> Failures);

/// <summary>Cleanup policy cadences and <c>older_than</c>/<c>keep_n</c> values GitLab offers.</summary>
public static class CleanupPolicyValues
{
    /// <summary>Allowed <c>cadence</c> values and their periods.</summary>
    public static readonly IReadOnlyDictionary<string, TimeSpan> Cadences = new Dictionary<string, TimeSpan>(StringComparer.Ordinal)
    {
        ["1d"] = TimeSpan.FromDays(1),
        ["7d"] = TimeSpan.FromDays(7),
        ["14d"] = TimeSpan.FromDays(14),
        ["1month"] = TimeSpan.FromDays(30),
        ["3month"] = TimeSpan.FromDays(90),
    };

    /// <summary>Allowed <c>older_than</c> values.</summary>
    public static readonly IReadOnlyList<string> OlderThan = ["7d", "14d", "30d", "60d", "90d"];

    /// <summary>Allowed <c>keep_n</c> values.</summary>
    public static readonly IReadOnlyList<int> KeepN = [1, 5, 10, 25, 50, 100];

    /// <summary>The policy a project has before anyone saves one (GitLab's defaults): disabled, daily, keep 10, older
    /// than 90 days, every tag a candidate.</summary>
    public static ContainerExpirationPolicyEntity Default(long projectId, DateTime now) => new()
    {
        ProjectId = projectId,
        Enabled = false,
        Cadence = "1d",
        KeepN = 10,
        OlderThan = "90d",
        NameRegex = ".*",
        NameRegexKeep = null,
        CreatedAt = now,
        UpdatedAt = now,
    };
}

/// <summary>
/// Storage lifecycle operations over the registry: deleting tags (each through <see cref="RegistryService.DeleteManifestAsync"/>,
/// the same path as <c>/v2</c> DELETE), scheduling and finishing asynchronous repository deletions (retried with
/// back-off, status visible as GitLab's <c>delete_scheduled</c>/<c>delete_failed</c>), and running cleanup policies
/// with a run log. The background <see cref="RegistryLifecycleWorker"/> calls the <c>Run…</c> methods on one replica.
/// </summary>
public sealed partial class RegistryLifecycle(BerthDbContext db, RegistryService registry, TagProtection protection, TimeProvider clock, ILogger<RegistryLifecycle> logger, Observability.Auditor audit)
{
    /// <summary>How many repository deletions one pass handles at most.</summary>
    public const int DeletionBatch = 20;

    /// <summary>The longest wait between two attempts of a failing deletion.</summary>
    public static readonly TimeSpan MaxRetryDelay = TimeSpan.FromHours(1);

    private DateTime Now => clock.GetUtcNow().UtcDateTime;

    /// <summary>The repositories of a project: named by its full path (lowercase) or below it.</summary>
    public IQueryable<RepositoryEntity> ProjectRepositories(ProjectEntity project)
    {
        var root = project.FullPath.ToLowerInvariant();
        var below = root + "/";
        return db.Repositories.Where(r => r.Name == root || r.Name.StartsWith(below));
    }

    /// <summary>
    /// Deletes tags of a repository one by one through the registry service. Tags that no longer exist are skipped;
    /// a failing delete is recorded and the rest go on. Protection is checked by the caller (or skipped, for cleanup).
    /// </summary>
    public async Task<TagDeletionResult> DeleteTagsAsync(RepositoryName repository, IReadOnlyCollection<string> tags, CancellationToken cancellationToken)
    {
        int deleted = 0;
        var failures = new List<string>();
        foreach (var name in tags.Distinct(StringComparer.Ordinal))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!Tag.TryParse(name, out var tag))
            {
                failures.Add($"{repository}:{name}: not a valid tag");
                continue;
            }
            try
            {
                if (await registry.DeleteManifestAsync(repository, Reference.FromTag(tag), cancellationToken)) deleted++;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogTagDeleteFailed(logger, ex, repository.Value, name);
                failures.Add($"{repository}:{name}: {ex.Message}");
            }
        }
        return new TagDeletionResult(deleted, failures);
    }

    /// <summary>Deletes tags a caller asked for (API, web UI): refuses the whole request first when any of them is
    /// protected against <paramref name="principal"/>.</summary>
    /// <exception cref="RegistryException">DENIED by a protection rule.</exception>
    public async Task<TagDeletionResult> DeleteTagsAsAsync(Principal principal, RepositoryName repository, IReadOnlyCollection<string> tags, CancellationToken cancellationToken)
    {
        await protection.CheckDeleteAsync(principal, repository, tags, cancellationToken);
        return await DeleteTagsAsync(repository, tags, cancellationToken);
    }

    /// <summary>Deletes a repository now (the web UI): refused when one of its tags is protected against <paramref name="principal"/>.</summary>
    /// <exception cref="RegistryException">DENIED by a protection rule.</exception>
    public async Task DeleteRepositoryAsAsync(Principal principal, RepositoryName repository, CancellationToken cancellationToken)
    {
        var tags = await (from t in db.Tags join r in db.Repositories on t.RepositoryId equals r.Id where r.Name == repository.Value select t.Name).ToListAsync(cancellationToken);
        await protection.CheckDeleteAsync(principal, repository, tags, cancellationToken);
        await registry.DeleteRepositoryAsync(repository, cancellationToken);
    }

    /// <summary>Asks for a repository's deletion: marks it <c>delete_scheduled</c> (idempotent). The worker finishes it.</summary>
    /// <exception cref="RegistryException">DENIED when a protected tag in it is protected against <paramref name="principal"/>.</exception>
    public async Task ScheduleRepositoryDeletionAsync(Principal principal, RepositoryEntity repository, CancellationToken cancellationToken)
    {
        if (RepositoryName.TryParse(repository.Name, out var name, out _))
        {
            var tags = await db.Tags.Where(t => t.RepositoryId == repository.Id).Select(t => t.Name).ToListAsync(cancellationToken);
            await protection.CheckDeleteAsync(principal, name, tags, cancellationToken);
        }
        var now = Now;
        string status = RepositoryDeletionEntity.Scheduled;
        await db.Database.ExecuteSqlInterpolatedAsync($"""
            INSERT INTO repository_deletions ("RepositoryId", "Status", "Attempts", "LastError", "ScheduledAt", "NextAttemptAt")
            VALUES ({repository.Id}, {status}, {0}, {null}, {now}, {now})
            ON CONFLICT ("RepositoryId") DO NOTHING
            """, cancellationToken);
        audit.Record("repository_delete_scheduled", repository.Name, $"deletion of image repository {repository.Name} scheduled");
    }

    /// <summary>
    /// Finishes due repository deletions (at most <see cref="DeletionBatch"/>): each deletes the repository through
    /// <see cref="RegistryService.DeleteRepositoryAsync"/>; a failure marks it <c>delete_failed</c> with the error and
    /// retries after 1, 2, 4… minutes (at most <see cref="MaxRetryDelay"/>).
    /// </summary>
    /// <returns>How many repositories were deleted.</returns>
    public async Task<int> RunRepositoryDeletionsAsync(CancellationToken cancellationToken)
    {
        var now = Now;
        var due = await (from d in db.RepositoryDeletions
                         join r in db.Repositories on d.RepositoryId equals r.Id
                         where d.NextAttemptAt <= now
                         orderby d.NextAttemptAt
                         select new { d.RepositoryId, d.Attempts, r.Name }).Take(DeletionBatch).ToListAsync(cancellationToken);
        int done = 0;
        foreach (var item in due)
        {
            try
            {
                if (!RepositoryName.TryParse(item.Name, out var name, out _))
                    throw new InvalidOperationException($"the stored repository name '{item.Name}' is not a valid repository name");
                await registry.DeleteRepositoryAsync(name, cancellationToken); // the deletion row goes with it (cascade)
                await db.RepositoryDeletions.Where(d => d.RepositoryId == item.RepositoryId).ExecuteDeleteAsync(cancellationToken);
                done++;
                LogRepositoryDeleted(logger, item.Name, item.Attempts + 1);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                int attempts = item.Attempts + 1;
                var delay = TimeSpan.FromMinutes(Math.Min(MaxRetryDelay.TotalMinutes, Math.Pow(2, Math.Min(attempts - 1, 10))));
                var error = Truncate(ex.Message, 2000);
                var next = Now + delay;
                LogRepositoryDeleteFailed(logger, ex, item.Name, attempts, delay.TotalMinutes);
                await db.RepositoryDeletions.Where(d => d.RepositoryId == item.RepositoryId).ExecuteUpdateAsync(s => s
                    .SetProperty(d => d.Status, RepositoryDeletionEntity.Failed)
                    .SetProperty(d => d.Attempts, attempts)
                    .SetProperty(d => d.LastError, error)
                    .SetProperty(d => d.NextAttemptAt, next), CancellationToken.None);
            }
        }
        return done;
    }

    /// <summary>A project's cleanup policy (the defaults when none was saved).</summary>
    public async Task<ContainerExpirationPolicyEntity> GetPolicyAsync(long projectId, CancellationToken cancellationToken) =>
        await db.ContainerExpirationPolicies.FirstOrDefaultAsync(p => p.ProjectId == projectId, cancellationToken)
        ?? CleanupPolicyValues.Default(projectId, Now);

    /// <summary>
    /// Saves a project's cleanup policy after checking its values (cadence, keep_n, older_than from GitLab's lists;
    /// patterns compile). Enabling it, or changing the cadence of an enabled one, schedules the next run one cadence from now.
    /// </summary>
    /// <exception cref="TagRuleException">An invalid value, naming the field.</exception>
    public async Task<ContainerExpirationPolicyEntity> SavePolicyAsync(long projectId, Action<ContainerExpirationPolicyEntity> change, CancellationToken cancellationToken)
    {
        var now = Now;
        var existing = await db.ContainerExpirationPolicies.AsTracking().FirstOrDefaultAsync(p => p.ProjectId == projectId, cancellationToken);
        var policy = existing ?? CleanupPolicyValues.Default(projectId, now);
        bool wasEnabled = policy.Enabled;
        var cadence = policy.Cadence;
        change(policy);
        Validate(policy);
        policy.UpdatedAt = now;
        if (!policy.Enabled) policy.NextRunAt = null;
        else if (!wasEnabled || cadence != policy.Cadence || policy.NextRunAt is null) policy.NextRunAt = now + CleanupPolicyValues.Cadences[policy.Cadence];
        if (existing is null) db.ContainerExpirationPolicies.Add(policy);
        await db.SaveChangesAsync(cancellationToken);
        db.ChangeTracker.Clear();
        return policy;
    }

    /// <summary>Checks a policy's values.</summary>
    /// <exception cref="TagRuleException">An invalid value, naming the field.</exception>
    public static void Validate(ContainerExpirationPolicyEntity policy)
    {
        if (!CleanupPolicyValues.Cadences.ContainsKey(policy.Cadence))
            throw new TagRuleException($"container_expiration_policy.cadence does not have a valid value: use one of {string.Join(", ", CleanupPolicyValues.Cadences.Keys)}");
        if (policy.KeepN is { } n && !CleanupPolicyValues.KeepN.Contains(n))
            throw new TagRuleException($"container_expiration_policy.keep_n does not have a valid value: use one of {string.Join(", ", CleanupPolicyValues.KeepN)}");
        if (policy.OlderThan is { } o && !CleanupPolicyValues.OlderThan.Contains(o))
            throw new TagRuleException($"container_expiration_policy.older_than does not have a valid value: use one of {string.Join(", ", CleanupPolicyValues.OlderThan)}");
        if (!string.IsNullOrEmpty(policy.NameRegex)) TagPatterns.FullMatch(policy.NameRegex, "container_expiration_policy.name_regex");
        if (!string.IsNullOrEmpty(policy.NameRegexKeep)) TagPatterns.FullMatch(policy.NameRegexKeep, "container_expiration_policy.name_regex_keep");
    }

    /// <summary>
    /// Runs every enabled policy whose <c>next_run_at</c> has come (oldest first, at most <paramref name="limit"/>), and
    /// moves each one's next run a cadence ahead before running it (a crash does not make it run in a loop).
    /// </summary>
    /// <returns>The run logs written.</returns>
    public async Task<IReadOnlyList<CleanupRunEntity>> RunDuePoliciesAsync(int limit, CancellationToken cancellationToken)
    {
        var now = Now;
        var due = await db.ContainerExpirationPolicies.Where(p => p.Enabled && p.NextRunAt != null && p.NextRunAt <= now)
            .OrderBy(p => p.NextRunAt).Take(limit).ToListAsync(cancellationToken);
        var runs = new List<CleanupRunEntity>();
        foreach (var policy in due)
        {
            var next = now + CleanupPolicyValues.Cadences.GetValueOrDefault(policy.Cadence, TimeSpan.FromDays(1));
            await db.ContainerExpirationPolicies.Where(p => p.ProjectId == policy.ProjectId).ExecuteUpdateAsync(s => s.SetProperty(p => p.NextRunAt, next), cancellationToken);
            var project = await db.Projects.FirstOrDefaultAsync(p => p.Id == policy.ProjectId, cancellationToken);
            if (project is null) continue;
            runs.Add(await RunPolicyAsync(project, policy, cancellationToken));
        }
        return runs;
    }

    /// <summary>
    /// Runs a cleanup policy over every repository of the project (except those being deleted): picks tags with
    /// <see cref="TagDeletionCriteria"/>, skips protected ones, deletes the rest through the registry service, and
    /// writes a run log (deleted, protected, failures, duration).
    /// </summary>
    public async Task<CleanupRunEntity> RunPolicyAsync(ProjectEntity project, ContainerExpirationPolicyEntity policy, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var run = new CleanupRunEntity { ProjectId = project.Id, Status = "running", StartedAt = Now };
        db.CleanupRuns.Add(run);
        await db.SaveChangesAsync(cancellationToken);
        db.ChangeTracker.Clear();
        var failures = new List<string>();
        try
        {
            var criteria = new TagDeletionCriteria(
                string.IsNullOrEmpty(policy.NameRegex) ? null : TagPatterns.FullMatch(policy.NameRegex, "name_regex"),
                string.IsNullOrEmpty(policy.NameRegexKeep) ? null : TagPatterns.FullMatch(policy.NameRegexKeep, "name_regex_keep"),
                policy.KeepN,
                policy.OlderThan is null ? null : TagPatterns.ParseAge(policy.OlderThan, "older_than"),
                LatestNamedExplicitly: false);
            var rules = await protection.ListAsync(project.Id, cancellationToken);
            var repositories = await ProjectRepositories(project)
                .Where(r => !db.RepositoryDeletions.Any(d => d.RepositoryId == r.Id))
                .OrderBy(r => r.Name).Select(r => new { r.Id, r.Name }).ToListAsync(cancellationToken);
            foreach (var repository in repositories)
            {
                if (!RepositoryName.TryParse(repository.Name, out var name, out _)) continue;
                run.Repositories++;
                var tags = await db.Tags.Where(t => t.RepositoryId == repository.Id)
                    .Select(t => new TagAge(t.Name, t.UpdatedAt)).ToListAsync(cancellationToken);
                var selected = criteria.Select(tags, Now);
                var deletable = new List<string>();
                foreach (var tag in selected)
                {
                    if (TagProtection.Matching(rules, tag).Count > 0) run.TagsProtected++;
                    else deletable.Add(tag);
                }
                var result = await DeleteTagsAsync(name, deletable, cancellationToken);
                run.TagsDeleted += result.Deleted;
                failures.AddRange(result.Failures);
            }
            run.Status = failures.Count == 0 ? "finished" : "failed";
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            failures.Add("the run stopped: " + ex.Message);
            run.Status = "failed";
            LogCleanupFailed(logger, ex, project.FullPath);
        }
        run.Failures = failures.Count;
        run.FailureDetails = failures.Count == 0 ? null : Truncate(string.Join('\n', failures), 4000);
        run.FinishedAt = Now;
        run.DurationMs = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        db.CleanupRuns.Update(run);
        await db.SaveChangesAsync(CancellationToken.None);
        db.ChangeTracker.Clear();
        LogCleanupRun(logger, project.FullPath, run.TagsDeleted, run.TagsProtected, run.Failures, run.DurationMs);
        audit.Record("cleanup_run", project.FullPath, $"cleanup policy run {run.Id}: {run.TagsDeleted} tags deleted, {run.TagsProtected} protected tags kept, {run.Failures} failures");
        return run;
    }

    private static string Truncate(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "…";

    [LoggerMessage(EventId = 3400, Level = LogLevel.Warning, Message = "Deleting tag {Repository}:{Tag} failed")]
    private static partial void LogTagDeleteFailed(ILogger logger, Exception exception, string repository, string tag);

    [LoggerMessage(EventId = 3401, Level = LogLevel.Information, Message = "Repository {Repository} deleted (attempt {Attempt})")]
    private static partial void LogRepositoryDeleted(ILogger logger, string repository, int attempt);

    [LoggerMessage(EventId = 3402, Level = LogLevel.Warning, Message = "Deleting repository {Repository} failed (attempt {Attempt}); retrying in {Minutes} minutes")]
    private static partial void LogRepositoryDeleteFailed(ILogger logger, Exception exception, string repository, int attempt, double minutes);

    [LoggerMessage(EventId = 3403, Level = LogLevel.Information, Message = "Cleanup policy of {Project}: {Deleted} tags deleted, {Protected} protected tags kept, {Failures} failures, {DurationMs} ms")]
    private static partial void LogCleanupRun(ILogger logger, string project, int deleted, int @protected, int failures, long durationMs);

    [LoggerMessage(EventId = 3404, Level = LogLevel.Error, Message = "Cleanup policy run of {Project} stopped")]
    private static partial void LogCleanupFailed(ILogger logger, Exception exception, string project);
}
