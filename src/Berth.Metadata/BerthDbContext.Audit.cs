using Microsoft.EntityFrameworkCore;

namespace Berth.Metadata;

/// <summary>One audited action: who did what to which target, when, from where, in which request.</summary>
public sealed class AuditEventEntity
{
    /// <summary>Key, increasing with time.</summary>
    public long Id { get; set; }
    /// <summary>When it happened (UTC).</summary>
    public DateTime CreatedAt { get; set; }
    /// <summary>What happened, e.g. <c>sign_in</c>, <c>sign_in_failed</c>, <c>tag_deleted</c>, <c>job_token_issued</c>.</summary>
    public required string Action { get; set; }
    /// <summary>Who did it: a username, a token's name, or <c>anonymous</c>/<c>system</c>.</summary>
    public required string Actor { get; set; }
    /// <summary>What it was done to (a repository, a project path, a token id), if anything.</summary>
    public string? Target { get; set; }
    /// <summary>A human-readable sentence with the details (never a secret).</summary>
    public required string Details { get; set; }
    /// <summary>The client address, when known.</summary>
    public string? Address { get; set; }
    /// <summary>The request id (<c>X-Request-Id</c>), when the action came from a request.</summary>
    public string? RequestId { get; set; }
}

public sealed partial class BerthDbContext
{
    /// <summary>The audit log.</summary>
    public DbSet<AuditEventEntity> AuditEvents => Set<AuditEventEntity>();

    private static void OnAuditModelCreating(ModelBuilder b)
    {
        b.Entity<AuditEventEntity>(e =>
        {
            e.ToTable("audit_events");
            e.HasKey(x => x.Id);
            e.Property(x => x.Action).HasMaxLength(100);
            e.Property(x => x.Actor).HasMaxLength(255);
            e.Property(x => x.Target).HasMaxLength(512);
            e.Property(x => x.Details).HasMaxLength(4000);
            e.Property(x => x.Address).HasMaxLength(64);
            e.Property(x => x.RequestId).HasMaxLength(128);
            e.HasIndex(x => x.CreatedAt);
            e.HasIndex(x => x.Action);
        });
    }
}
