using Microsoft.EntityFrameworkCore;

namespace Berth.Metadata;

/// <summary>
/// One registry event waiting to be delivered to one notification endpoint (the durable queue): the event is
/// stored as the JSON of one CNCF Distribution notification event (<c>{"id","timestamp","action","target",…}</c>),
/// delivered inside the envelope <c>{"events":[…]}</c> and deleted once the endpoint accepted it.
/// </summary>
public sealed class NotificationEventEntity
{
    /// <summary>Key, increasing with time: the delivery order of an endpoint's events.</summary>
    public long Id { get; set; }
    /// <summary>The endpoint's name (<see cref="NotificationEndpointEntity.Name"/>).</summary>
    public required string Endpoint { get; set; }
    /// <summary>The event's JSON (one element of the envelope's <c>events</c> array).</summary>
    public required string Payload { get; set; }
    /// <summary>When it was queued (UTC).</summary>
    public DateTime CreatedAt { get; set; }
    /// <summary>How many delivery attempts failed so far.</summary>
    public int Attempts { get; set; }
}

/// <summary>
/// Delivery state of one notification endpoint (a configured <c>Notifications:Endpoints</c> entry, or a project
/// hook named <c>project-hook:&lt;id&gt;</c>): the lease a replica holds while it delivers (so several replicas never
/// send the same events twice at once), the backoff after failures, and the status shown to administrators.
/// </summary>
public sealed class NotificationEndpointEntity
{
    /// <summary>The endpoint's name, the key.</summary>
    public required string Name { get; set; }
    /// <summary>The replica delivering now (a random id per process), if any.</summary>
    public string? LeaseOwner { get; set; }
    /// <summary>Until when that replica's lease holds (UTC).</summary>
    public DateTime? LeaseUntil { get; set; }
    /// <summary>No delivery before this time (UTC), set by the backoff after a failure.</summary>
    public DateTime? NextAttemptAt { get; set; }
    /// <summary>Failed attempts since the last success.</summary>
    public int ConsecutiveFailures { get; set; }
    /// <summary>Last accepted delivery (UTC).</summary>
    public DateTime? LastSuccessAt { get; set; }
    /// <summary>Last failed delivery (UTC).</summary>
    public DateTime? LastFailureAt { get; set; }
    /// <summary>What the last failure was (status and body start, or the connection error).</summary>
    public string? LastError { get; set; }
    /// <summary>Events delivered, in total.</summary>
    public long Delivered { get; set; }
    /// <summary>Failed delivery attempts, in total.</summary>
    public long Failures { get; set; }
    /// <summary>Events dropped because the endpoint's queue was full, in total.</summary>
    public long Dropped { get; set; }
}

/// <summary>A project's webhook (GitLab-style <c>/projects/:id/hooks</c>) for registry events: image pushed, tag deleted.</summary>
public sealed class ProjectHookEntity
{
    /// <summary>Key.</summary>
    public long Id { get; set; }
    /// <summary>The project.</summary>
    public long ProjectId { get; set; }
    /// <summary>Where events are POSTed (http or https).</summary>
    public required string Url { get; set; }
    /// <summary>The secret token sent as <c>X-Gitlab-Token</c>, encrypted with the instance's data-protection keys; null when none.</summary>
    public string? ProtectedToken { get; set; }
    /// <summary>Send manifest pushes ("image pushed").</summary>
    public bool ImagePushEvents { get; set; } = true;
    /// <summary>Send tag deletes ("tag deleted").</summary>
    public bool TagDeleteEvents { get; set; } = true;
    /// <summary>Verify the receiver's TLS certificate.</summary>
    public bool EnableSslVerification { get; set; } = true;
    /// <summary>When it was created (UTC).</summary>
    public DateTime CreatedAt { get; set; }
}

public sealed partial class BerthDbContext
{
    /// <summary>Registry events waiting for delivery.</summary>
    public DbSet<NotificationEventEntity> NotificationEvents => Set<NotificationEventEntity>();

    /// <summary>Delivery state per notification endpoint.</summary>
    public DbSet<NotificationEndpointEntity> NotificationEndpoints => Set<NotificationEndpointEntity>();

    /// <summary>Project webhooks.</summary>
    public DbSet<ProjectHookEntity> ProjectHooks => Set<ProjectHookEntity>();

    private static void OnNotificationsModelCreating(ModelBuilder b)
    {
        b.Entity<NotificationEventEntity>(e =>
        {
            e.ToTable("notification_events");
            e.HasKey(x => x.Id);
            e.Property(x => x.Endpoint).HasMaxLength(200);
            e.HasIndex(x => new { x.Endpoint, x.Id });
        });
        b.Entity<NotificationEndpointEntity>(e =>
        {
            e.ToTable("notification_endpoints");
            e.HasKey(x => x.Name);
            e.Property(x => x.Name).HasMaxLength(200);
            e.Property(x => x.LeaseOwner).HasMaxLength(64);
            e.Property(x => x.LastError).HasMaxLength(1000);
        });
        b.Entity<ProjectHookEntity>(e =>
        {
            e.ToTable("project_hooks");
            e.HasKey(x => x.Id);
            e.Property(x => x.Url).HasMaxLength(2048);
            e.HasOne<ProjectEntity>().WithMany().HasForeignKey(x => x.ProjectId).OnDelete(DeleteBehavior.Cascade);
            e.HasIndex(x => x.ProjectId);
        });
    }
}
