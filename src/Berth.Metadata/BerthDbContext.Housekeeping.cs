using Microsoft.EntityFrameworkCore;

namespace Berth.Metadata;

/// <summary>
/// A repository whose deletion was requested (<c>DELETE /api/v4/projects/:id/registry/repositories/:repository_id</c>)
/// and is not finished yet. The row exists while the deletion is pending or failing; the background worker removes it
/// together with the repository. GitLab's <c>status</c> field of the repository shows <see cref="Status"/>.
/// </summary>
public sealed class RepositoryDeletionEntity
{
    /// <summary>Status: the deletion waits for the worker.</summary>
    public const string Scheduled = "delete_scheduled";

    /// <summary>Status: the last attempt failed; the worker retries after a back-off.</summary>
    public const string Failed = "delete_failed";

    /// <summary>The repository; primary key.</summary>
    public long RepositoryId { get; set; }
    /// <summary><see cref="Scheduled"/> or <see cref="Failed"/>.</summary>
    public required string Status { get; set; }
    /// <summary>How many attempts failed so far.</summary>
    public int Attempts { get; set; }
    /// <summary>The error of the last failed attempt, or null.</summary>
    public string? LastError { get; set; }
    /// <summary>When the deletion was requested (UTC).</summary>
    public DateTime ScheduledAt { get; set; }
    /// <summary>The earliest time of the next attempt (UTC).</summary>
    public DateTime NextAttemptAt { get; set; }
}

/// <summary>
/// A project's cleanup policy (GitLab's <c>container_expiration_policy</c>): which tags of its repositories the
/// scheduler deletes, and how often it runs. Absent row: the defaults, disabled.
/// </summary>
public sealed class ContainerExpirationPolicyEntity
{
    /// <summary>The project; primary key.</summary>
    public long ProjectId { get; set; }
    /// <summary>Whether the scheduler runs the policy.</summary>
    public bool Enabled { get; set; }
    /// <summary>How often it runs: <c>1d</c>, <c>7d</c>, <c>14d</c>, <c>1month</c> or <c>3month</c>.</summary>
    public required string Cadence { get; set; }
    /// <summary>Keep this many most recent tags per repository (null: no such rule).</summary>
    public int? KeepN { get; set; }
    /// <summary>Only delete tags older than this: <c>7d</c>, <c>14d</c>, <c>30d</c> or <c>90d</c> (null: any age).</summary>
    public string? OlderThan { get; set; }
    /// <summary>Tags whose whole name matches this regular expression are candidates for deletion (null or empty: none).</summary>
    public string? NameRegex { get; set; }
    /// <summary>Tags whose whole name matches this regular expression are kept (null: none).</summary>
    public string? NameRegexKeep { get; set; }
    /// <summary>When the scheduler runs it next (UTC); null while disabled.</summary>
    public DateTime? NextRunAt { get; set; }
    /// <summary>When the policy was first saved (UTC).</summary>
    public DateTime CreatedAt { get; set; }
    /// <summary>When the policy was last changed (UTC).</summary>
    public DateTime UpdatedAt { get; set; }
}

/// <summary>The log of one cleanup policy run: how many tags went, how long it took, what failed.</summary>
public sealed class CleanupRunEntity
{
    /// <summary>Surrogate key.</summary>
    public long Id { get; set; }
    /// <summary>The project.</summary>
    public long ProjectId { get; set; }
    /// <summary><c>running</c>, <c>finished</c> or <c>failed</c> (finished with failures, or aborted).</summary>
    public required string Status { get; set; }
    /// <summary>When it started (UTC).</summary>
    public DateTime StartedAt { get; set; }
    /// <summary>When it ended (UTC), or null while running.</summary>
    public DateTime? FinishedAt { get; set; }
    /// <summary>Run time in milliseconds.</summary>
    public long DurationMs { get; set; }
    /// <summary>How many repositories it went through.</summary>
    public int Repositories { get; set; }
    /// <summary>How many tags it deleted.</summary>
    public int TagsDeleted { get; set; }
    /// <summary>How many tags it skipped because a protection rule covers them.</summary>
    public int TagsProtected { get; set; }
    /// <summary>How many deletions failed.</summary>
    public int Failures { get; set; }
    /// <summary>What failed, one line per failure (at most about 4000 characters), or null.</summary>
    public string? FailureDetails { get; set; }
}

/// <summary>
/// A protected-tag rule of a project (GitLab's container registry protection tag rule): tags whose name matches
/// <see cref="TagNamePattern"/> (an RE2-style regular expression, unanchored) may be pushed and deleted only by callers
/// with at least the given access levels (40 Maintainer, 50 Owner, 60 instance administrator).
/// </summary>
public sealed class ProtectedTagRuleEntity
{
    /// <summary>Surrogate key.</summary>
    public long Id { get; set; }
    /// <summary>The project.</summary>
    public long ProjectId { get; set; }
    /// <summary>The tag name pattern (at most 100 characters).</summary>
    public required string TagNamePattern { get; set; }
    /// <summary>Minimum access level to push (overwrite or create) a matching tag.</summary>
    public int MinimumAccessLevelForPush { get; set; }
    /// <summary>Minimum access level to delete a matching tag.</summary>
    public int MinimumAccessLevelForDelete { get; set; }
    /// <summary>When the rule was made (UTC).</summary>
    public DateTime CreatedAt { get; set; }
}

public sealed partial class BerthDbContext
{
    /// <summary>Pending and failing repository deletions.</summary>
    public DbSet<RepositoryDeletionEntity> RepositoryDeletions => Set<RepositoryDeletionEntity>();
    /// <summary>Cleanup policies.</summary>
    public DbSet<ContainerExpirationPolicyEntity> ContainerExpirationPolicies => Set<ContainerExpirationPolicyEntity>();
    /// <summary>Cleanup policy run logs.</summary>
    public DbSet<CleanupRunEntity> CleanupRuns => Set<CleanupRunEntity>();
    /// <summary>Protected-tag rules.</summary>
    public DbSet<ProtectedTagRuleEntity> ProtectedTagRules => Set<ProtectedTagRuleEntity>();

    private static void OnHousekeepingModelCreating(ModelBuilder b)
    {
        b.Entity<RepositoryDeletionEntity>(e =>
        {
            e.ToTable("repository_deletions");
            e.HasKey(x => x.RepositoryId);
            e.Property(x => x.Status).HasMaxLength(32);
            e.Property(x => x.LastError).HasMaxLength(2000);
            e.HasIndex(x => x.NextAttemptAt);
            e.HasOne<RepositoryEntity>().WithMany().HasForeignKey(x => x.RepositoryId).OnDelete(DeleteBehavior.Cascade);
        });
        b.Entity<ContainerExpirationPolicyEntity>(e =>
        {
            e.ToTable("container_expiration_policies");
            e.HasKey(x => x.ProjectId);
            e.Property(x => x.Cadence).HasMaxLength(16);
            e.Property(x => x.OlderThan).HasMaxLength(16);
            e.Property(x => x.NameRegex).HasMaxLength(255);
            e.Property(x => x.NameRegexKeep).HasMaxLength(255);
            e.HasIndex(x => new { x.Enabled, x.NextRunAt });
            e.HasOne<ProjectEntity>().WithMany().HasForeignKey(x => x.ProjectId).OnDelete(DeleteBehavior.Cascade);
        });
        b.Entity<CleanupRunEntity>(e =>
        {
            e.ToTable("cleanup_runs");
            e.HasKey(x => x.Id);
            e.Property(x => x.Status).HasMaxLength(16);
            e.Property(x => x.FailureDetails).HasMaxLength(4000);
            e.HasIndex(x => new { x.ProjectId, x.StartedAt });
            e.HasOne<ProjectEntity>().WithMany().HasForeignKey(x => x.ProjectId).OnDelete(DeleteBehavior.Cascade);
        });
        b.Entity<ProtectedTagRuleEntity>(e =>
        {
            e.ToTable("protected_tag_rules");
            e.HasKey(x => x.Id);
            e.Property(x => x.TagNamePattern).HasMaxLength(100);
            e.HasIndex(x => x.ProjectId);
            e.HasOne<ProjectEntity>().WithMany().HasForeignKey(x => x.ProjectId).OnDelete(DeleteBehavior.Cascade);
        });
    }
}
