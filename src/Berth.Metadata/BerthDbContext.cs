using Microsoft.EntityFrameworkCore;

namespace Berth.Metadata;

/// <summary>
/// The metadata database: the source of truth for which repositories, blob links, manifests, tags and
/// upload sessions exist. Blob bytes live in storage. Table and column names are plain identifiers so
/// the same raw SQL (upserts on hot paths) runs on SQLite and PostgreSQL.
/// </summary>
public sealed partial class BerthDbContext(DbContextOptions<BerthDbContext> options) : DbContext(options)
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

    /// <summary>Users.</summary>
    public DbSet<UserEntity> Users => Set<UserEntity>();
    /// <summary>2FA recovery codes.</summary>
    public DbSet<RecoveryCodeEntity> RecoveryCodes => Set<RecoveryCodeEntity>();
    /// <summary>Namespaces (users' and groups).</summary>
    public DbSet<NamespaceEntity> Namespaces => Set<NamespaceEntity>();
    /// <summary>Projects.</summary>
    public DbSet<ProjectEntity> Projects => Set<ProjectEntity>();
    /// <summary>Group and project memberships.</summary>
    public DbSet<MemberEntity> Members => Set<MemberEntity>();
    /// <summary>Personal access tokens.</summary>
    public DbSet<PersonalAccessTokenEntity> PersonalAccessTokens => Set<PersonalAccessTokenEntity>();
    /// <summary>Deploy tokens.</summary>
    public DbSet<DeployTokenEntity> DeployTokens => Set<DeployTokenEntity>();
    /// <summary>Token-signing keys.</summary>
    public DbSet<SigningKeyEntity> SigningKeys => Set<SigningKeyEntity>();
    /// <summary>Failed sign-ins (rate limiting).</summary>
    public DbSet<FailedSignInEntity> FailedSignIns => Set<FailedSignInEntity>();
    /// <summary>Instance settings.</summary>
    public DbSet<InstanceSettingEntity> InstanceSettings => Set<InstanceSettingEntity>();

    /// <inheritdoc/>
    protected override void OnModelCreating(ModelBuilder b)
    {
        OnIdentityModelCreating(b);
        OnCiModelCreating(b);
        OnScaleOutModelCreating(b);
        OnAuditModelCreating(b);
        OnLifecycleModelCreating(b);
        OnHousekeepingModelCreating(b);
        OnNotificationsModelCreating(b);
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

    private static void OnIdentityModelCreating(ModelBuilder b)
    {
        b.Entity<UserEntity>(e =>
        {
            e.ToTable("users");
            e.Property(x => x.Username).HasMaxLength(255);
            e.Property(x => x.NormalizedUsername).HasMaxLength(255);
            e.HasIndex(x => x.NormalizedUsername).IsUnique();
            e.HasIndex(x => x.Email).IsUnique();
        });
        b.Entity<RecoveryCodeEntity>(e =>
        {
            e.ToTable("recovery_codes");
            e.HasIndex(x => x.UserId);
            e.HasOne<UserEntity>().WithMany().HasForeignKey(x => x.UserId).OnDelete(DeleteBehavior.Cascade);
        });
        b.Entity<NamespaceEntity>(e =>
        {
            e.ToTable("namespaces");
            e.Property(x => x.FullPath).HasMaxLength(255);
            e.HasIndex(x => x.FullPath).IsUnique();
            e.HasIndex(x => x.ParentId);
            e.HasOne<NamespaceEntity>().WithMany().HasForeignKey(x => x.ParentId).OnDelete(DeleteBehavior.Restrict);
            e.HasOne<UserEntity>().WithMany().HasForeignKey(x => x.OwnerId).OnDelete(DeleteBehavior.Cascade);
        });
        b.Entity<ProjectEntity>(e =>
        {
            e.ToTable("projects");
            e.Property(x => x.FullPath).HasMaxLength(255);
            e.HasIndex(x => x.FullPath).IsUnique();
            e.HasIndex(x => x.NamespaceId);
            e.HasOne<NamespaceEntity>().WithMany().HasForeignKey(x => x.NamespaceId).OnDelete(DeleteBehavior.Restrict);
        });
        b.Entity<MemberEntity>(e =>
        {
            e.ToTable("members");
            e.HasIndex(x => new { x.NamespaceId, x.UserId }).IsUnique();
            e.HasIndex(x => new { x.ProjectId, x.UserId }).IsUnique();
            e.HasIndex(x => x.UserId);
            e.HasOne<UserEntity>().WithMany().HasForeignKey(x => x.UserId).OnDelete(DeleteBehavior.Cascade);
            e.HasOne<NamespaceEntity>().WithMany().HasForeignKey(x => x.NamespaceId).OnDelete(DeleteBehavior.Cascade);
            e.HasOne<ProjectEntity>().WithMany().HasForeignKey(x => x.ProjectId).OnDelete(DeleteBehavior.Cascade);
        });
        b.Entity<PersonalAccessTokenEntity>(e =>
        {
            e.ToTable("personal_access_tokens");
            e.HasIndex(x => x.TokenHash).IsUnique();
            e.HasIndex(x => x.UserId);
            e.HasOne<UserEntity>().WithMany().HasForeignKey(x => x.UserId).OnDelete(DeleteBehavior.Cascade);
        });
        b.Entity<DeployTokenEntity>(e =>
        {
            e.ToTable("deploy_tokens");
            e.HasIndex(x => x.TokenHash).IsUnique();
            e.HasIndex(x => x.Username).IsUnique();
            e.HasIndex(x => x.ProjectId);
            e.HasOne<ProjectEntity>().WithMany().HasForeignKey(x => x.ProjectId).OnDelete(DeleteBehavior.Cascade);
        });
        b.Entity<SigningKeyEntity>(e =>
        {
            e.ToTable("signing_keys");
            e.Property(x => x.Id).HasMaxLength(100);
        });
        b.Entity<FailedSignInEntity>(e =>
        {
            e.ToTable("failed_sign_ins");
            e.HasIndex(x => new { x.Key, x.At });
        });
        b.Entity<InstanceSettingEntity>(e =>
        {
            e.ToTable("instance_settings");
            e.HasKey(x => x.Key);
        });
    }
}
