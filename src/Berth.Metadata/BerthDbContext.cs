using Microsoft.EntityFrameworkCore;

namespace Berth.Metadata;

/// <summary>
/// The metadata database: the source of truth for which repositories, blob links, manifests, tags and
/// upload sessions exist. Blob bytes live in storage. Table and column names are plain identifiers so
/// the same raw SQL (upserts on hot paths) runs on SQLite and PostgreSQL.
/// </summary>
public sealed class BerthDbContext(DbContextOptions<BerthDbContext> options) : DbContext(options)
{
    /// <summary>Repositories.</summary>
    public DbSet<RepositoryEntity> Repositories => Set<RepositoryEntity>();
    /// <summary>Stored blobs.</summary>
    public DbSet<BlobEntity> Blobs => Set<BlobEntity>();
    /// <summary>Repository → blob links.</summary>
    public DbSet<RepositoryBlobEntity> RepositoryBlobs => Set<RepositoryBlobEntity>();
    /// <summary>Manifests.</summary>
    public DbSet<ManifestEntity> Manifests => Set<ManifestEntity>();
    /// <summary>Manifest references.</summary>
    public DbSet<ManifestReferenceEntity> ManifestReferences => Set<ManifestReferenceEntity>();
    /// <summary>Tags.</summary>
    public DbSet<TagEntity> Tags => Set<TagEntity>();
    /// <summary>Upload sessions.</summary>
    public DbSet<UploadSessionEntity> UploadSessions => Set<UploadSessionEntity>();

    /// <inheritdoc/>
    protected override void OnModelCreating(ModelBuilder b)
    {
        b.Entity<RepositoryEntity>(e =>
        {
            e.ToTable("repositories");
            e.HasKey(x => x.Id);
            e.Property(x => x.Name).HasMaxLength(255);
            e.HasIndex(x => x.Name).IsUnique();
        });
        b.Entity<BlobEntity>(e =>
        {
            e.ToTable("blobs");
            e.HasKey(x => x.Digest);
            e.Property(x => x.Digest).HasMaxLength(200);
        });
        b.Entity<RepositoryBlobEntity>(e =>
        {
            e.ToTable("repository_blobs");
            e.HasKey(x => new { x.RepositoryId, x.Digest });
            e.Property(x => x.Digest).HasMaxLength(200);
            e.HasIndex(x => x.Digest);
            e.HasOne<RepositoryEntity>().WithMany().HasForeignKey(x => x.RepositoryId).OnDelete(DeleteBehavior.Cascade);
            e.HasOne<BlobEntity>().WithMany().HasForeignKey(x => x.Digest).OnDelete(DeleteBehavior.Restrict);
        });
        b.Entity<ManifestEntity>(e =>
        {
            e.ToTable("manifests");
            e.HasKey(x => x.Id);
            e.Property(x => x.Digest).HasMaxLength(200);
            e.Property(x => x.MediaType).HasMaxLength(255);
            e.Property(x => x.ArtifactType).HasMaxLength(255);
            e.Property(x => x.SubjectDigest).HasMaxLength(200);
            e.HasIndex(x => new { x.RepositoryId, x.Digest }).IsUnique();
            e.HasIndex(x => new { x.RepositoryId, x.SubjectDigest });
            e.HasOne<RepositoryEntity>().WithMany().HasForeignKey(x => x.RepositoryId).OnDelete(DeleteBehavior.Cascade);
        });
        b.Entity<ManifestReferenceEntity>(e =>
        {
            e.ToTable("manifest_references");
            e.HasKey(x => new { x.ManifestId, x.Digest });
            e.Property(x => x.Digest).HasMaxLength(200);
            e.HasIndex(x => x.Digest);
            e.HasOne<ManifestEntity>().WithMany().HasForeignKey(x => x.ManifestId).OnDelete(DeleteBehavior.Cascade);
        });
        b.Entity<TagEntity>(e =>
        {
            e.ToTable("tags");
            e.HasKey(x => new { x.RepositoryId, x.Name });
            e.Property(x => x.Name).HasMaxLength(128);
            e.HasIndex(x => x.ManifestId);
            e.HasOne<RepositoryEntity>().WithMany().HasForeignKey(x => x.RepositoryId).OnDelete(DeleteBehavior.Cascade);
            e.HasOne<ManifestEntity>().WithMany().HasForeignKey(x => x.ManifestId).OnDelete(DeleteBehavior.Cascade);
        });
        b.Entity<UploadSessionEntity>(e =>
        {
            e.ToTable("upload_sessions");
            e.HasKey(x => x.Id);
            e.HasOne<RepositoryEntity>().WithMany().HasForeignKey(x => x.RepositoryId).OnDelete(DeleteBehavior.Cascade);
        });
    }
}
