using Microsoft.EntityFrameworkCore;

namespace Berth.Metadata;

/// <summary>
/// A blob queued for garbage-collection review: nothing referenced it when the collector marked it. It is deleted at
/// or after <see cref="ReviewAfter"/> only if, at that moment and under the blob row's lock, it is still queued and
/// still unreferenced; any push that links or references the blob deletes this row first (a rescue).
/// See docs/garbage-collection.md.
/// </summary>
public sealed class GcBlobReviewEntity
{
    /// <summary>The blob's digest; primary key (and a foreign key to <c>blobs</c>, cascading).</summary>
    public required string Digest { get; set; }
    /// <summary>Earliest time (UTC) the blob may be deleted.</summary>
    public DateTime ReviewAfter { get; set; }
    /// <summary>When it was queued (UTC).</summary>
    public DateTime QueuedAt { get; set; }
}

/// <summary>
/// A manifest queued for garbage-collection review: no tag reached it (directly, through an index, or through the
/// subject/referrer relation) when the collector marked it. Deleted at or after <see cref="ReviewAfter"/> only if it is
/// still unreachable then; pushes that tag it, reference it from an index or name it as a subject delete this row.
/// </summary>
public sealed class GcManifestReviewEntity
{
    /// <summary>The manifest's id; primary key (and a foreign key to <c>manifests</c>, cascading).</summary>
    public long ManifestId { get; set; }
    /// <summary>Earliest time (UTC) the manifest may be deleted.</summary>
    public DateTime ReviewAfter { get; set; }
    /// <summary>When it was queued (UTC).</summary>
    public DateTime QueuedAt { get; set; }
}

/// <summary>A namespace's container registry storage quota: the most deduplicated blob bytes its repositories may hold.</summary>
public sealed class NamespaceQuotaEntity
{
    /// <summary>The namespace (user or group); primary key, cascading with the namespace.</summary>
    public long NamespaceId { get; set; }
    /// <summary>The quota in bytes (positive).</summary>
    public long QuotaBytes { get; set; }
    /// <summary>When it was last set (UTC).</summary>
    public DateTime UpdatedAt { get; set; }
}

public sealed partial class BerthDbContext
{
    /// <summary>Blobs queued for garbage-collection review.</summary>
    public DbSet<GcBlobReviewEntity> GcBlobReviews => Set<GcBlobReviewEntity>();

    /// <summary>Manifests queued for garbage-collection review.</summary>
    public DbSet<GcManifestReviewEntity> GcManifestReviews => Set<GcManifestReviewEntity>();

    /// <summary>Registry storage quotas of namespaces.</summary>
    public DbSet<NamespaceQuotaEntity> NamespaceQuotas => Set<NamespaceQuotaEntity>();

    private static void OnLifecycleModelCreating(ModelBuilder b)
    {
        b.Entity<GcBlobReviewEntity>(e =>
        {
            e.ToTable("gc_blob_review_queue");
            e.HasKey(x => x.Digest);
            e.Property(x => x.Digest).HasMaxLength(200);
            e.HasIndex(x => x.ReviewAfter);
            e.HasOne<BlobEntity>().WithMany().HasForeignKey(x => x.Digest).OnDelete(DeleteBehavior.Cascade);
        });
        b.Entity<GcManifestReviewEntity>(e =>
        {
            e.ToTable("gc_manifest_review_queue");
            e.HasKey(x => x.ManifestId);
            e.Property(x => x.ManifestId).ValueGeneratedNever();
            e.HasIndex(x => x.ReviewAfter);
            e.HasOne<ManifestEntity>().WithMany().HasForeignKey(x => x.ManifestId).OnDelete(DeleteBehavior.Cascade);
        });
        b.Entity<NamespaceQuotaEntity>(e =>
        {
            e.ToTable("namespace_registry_quotas");
            e.HasKey(x => x.NamespaceId);
            e.Property(x => x.NamespaceId).ValueGeneratedNever();
            e.HasOne<NamespaceEntity>().WithMany().HasForeignKey(x => x.NamespaceId).OnDelete(DeleteBehavior.Cascade);
        });
    }
}
