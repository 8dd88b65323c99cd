using Microsoft.EntityFrameworkCore;

namespace Berth.Metadata;

public sealed partial class BerthDbContext
{
    /// <summary>CI runner credentials.</summary>
    public DbSet<RunnerEntity> Runners => Set<RunnerEntity>();
    /// <summary>CI jobs and their (hashed) job tokens.</summary>
    public DbSet<CiJobEntity> CiJobs => Set<CiJobEntity>();
    /// <summary>Job-token allowlists.</summary>
    public DbSet<JobTokenAllowlistEntity> JobTokenAllowlist => Set<JobTokenAllowlistEntity>();
    /// <summary>Trusted OIDC identities of projects.</summary>
    public DbSet<TrustedIdentityEntity> TrustedIdentities => Set<TrustedIdentityEntity>();

    private static void OnCiModelCreating(ModelBuilder b)
    {
        b.Entity<RunnerEntity>(e =>
        {
            e.ToTable("ci_runners");
            e.Property(x => x.Description).HasMaxLength(255);
            e.HasIndex(x => x.TokenHash).IsUnique();
            e.HasIndex(x => x.ProjectId);
            e.HasOne<ProjectEntity>().WithMany().HasForeignKey(x => x.ProjectId).OnDelete(DeleteBehavior.Cascade);
        });
        b.Entity<CiJobEntity>(e =>
        {
            e.ToTable("ci_jobs");
            e.Property(x => x.Name).HasMaxLength(255);
            e.Property(x => x.Subject).HasMaxLength(1024);
            e.HasIndex(x => x.TokenHash).IsUnique();
            e.HasIndex(x => x.ProjectId);
            e.HasIndex(x => x.ExpiresAt);
            e.HasOne<ProjectEntity>().WithMany().HasForeignKey(x => x.ProjectId).OnDelete(DeleteBehavior.Cascade);
            e.HasOne<UserEntity>().WithMany().HasForeignKey(x => x.UserId).OnDelete(DeleteBehavior.Cascade);
            e.HasOne<UserEntity>().WithMany().HasForeignKey(x => x.CapUserId).OnDelete(DeleteBehavior.Cascade);
            e.HasOne<RunnerEntity>().WithMany().HasForeignKey(x => x.RunnerId).OnDelete(DeleteBehavior.SetNull);
            e.HasOne<TrustedIdentityEntity>().WithMany().HasForeignKey(x => x.TrustId).OnDelete(DeleteBehavior.SetNull);
        });
        b.Entity<JobTokenAllowlistEntity>(e =>
        {
            e.ToTable("job_token_allowlist");
            e.HasKey(x => new { x.ProjectId, x.SourceProjectId });
            e.HasIndex(x => x.SourceProjectId);
            e.HasOne<ProjectEntity>().WithMany().HasForeignKey(x => x.ProjectId).OnDelete(DeleteBehavior.Cascade);
            e.HasOne<ProjectEntity>().WithMany().HasForeignKey(x => x.SourceProjectId).OnDelete(DeleteBehavior.Cascade);
        });
        b.Entity<TrustedIdentityEntity>(e =>
        {
            e.ToTable("ci_trusted_identities");
            e.Property(x => x.Issuer).HasMaxLength(1024);
            e.Property(x => x.Audience).HasMaxLength(1024);
            e.Property(x => x.JwksUrl).HasMaxLength(2048);
            e.Property(x => x.Description).HasMaxLength(255);
            e.HasIndex(x => x.ProjectId);
            e.HasOne<ProjectEntity>().WithMany().HasForeignKey(x => x.ProjectId).OnDelete(DeleteBehavior.Cascade);
        });
    }
}
