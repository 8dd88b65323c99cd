using Microsoft.EntityFrameworkCore;

namespace Berth.Metadata;

/// <summary>A lease on a named periodic job: only the replica holding an unexpired lease runs the job.</summary>
public sealed class JobLeaseEntity
{
    /// <summary>The job's name, e.g. <c>upload-session-cleanup</c>; primary key.</summary>
    public required string Name { get; set; }
    /// <summary>Who holds the lease: a replica's id (host name, process id and a random suffix).</summary>
    public required string Holder { get; set; }
    /// <summary>When the lease runs out (UTC); after that any replica may take it.</summary>
    public DateTime ExpiresAt { get; set; }
}

public sealed partial class BerthDbContext
{
    /// <summary>Leases of periodic jobs (one runner at a time across replicas).</summary>
    public DbSet<JobLeaseEntity> JobLeases => Set<JobLeaseEntity>();

    /// <summary>True when this context talks to PostgreSQL (the Npgsql provider).</summary>
    public bool IsPostgreSql => Database.ProviderName == "Npgsql.EntityFrameworkCore.PostgreSQL";

    private void OnScaleOutModelCreating(ModelBuilder b)
    {
        b.Entity<JobLeaseEntity>(e =>
        {
            e.ToTable("job_leases");
            e.HasKey(x => x.Name);
            e.Property(x => x.Name).HasMaxLength(100);
            e.Property(x => x.Holder).HasMaxLength(255);
        });
        if (IsPostgreSql)
        {
            // Tags and repository names list in byte order (the spec's lexical order), whatever the database's
            // locale: the "C" collation compares bytes, as SQLite's default BINARY collation does.
            b.Entity<TagEntity>().Property(x => x.Name).UseCollation("C");
            b.Entity<RepositoryEntity>().Property(x => x.Name).UseCollation("C");
        }
    }

    /// <summary>
    /// Takes or renews the lease of periodic job <paramref name="name"/> for <paramref name="holder"/>: succeeds when
    /// nobody holds it, the holder's lease has expired, or <paramref name="holder"/> already holds it. One atomic
    /// upsert (<c>INSERT … ON CONFLICT DO UPDATE … WHERE</c>), the same SQL on SQLite and PostgreSQL.
    /// </summary>
    /// <param name="name">The job's name (at most 100 characters).</param>
    /// <param name="holder">The caller's replica id.</param>
    /// <param name="ttl">How long the lease lasts; renew before it runs out.</param>
    /// <param name="now">The current time (UTC).</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>True when the caller now holds the lease.</returns>
    public async Task<bool> TryAcquireLeaseAsync(string name, string holder, TimeSpan ttl, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var at = now.UtcDateTime;
        var expires = (now + ttl).UtcDateTime;
        int rows = await Database.ExecuteSqlInterpolatedAsync($"""
            INSERT INTO job_leases ("Name", "Holder", "ExpiresAt") VALUES ({name}, {holder}, {expires})
            ON CONFLICT ("Name") DO UPDATE SET "Holder" = excluded."Holder", "ExpiresAt" = excluded."ExpiresAt"
            WHERE job_leases."ExpiresAt" <= {at} OR job_leases."Holder" = {holder}
            """, cancellationToken);
        return rows > 0;
    }

    /// <summary>Gives up a lease early (when the job is done and should run elsewhere next time).</summary>
    public Task ReleaseLeaseAsync(string name, string holder, CancellationToken cancellationToken) =>
        JobLeases.Where(l => l.Name == name && l.Holder == holder).ExecuteDeleteAsync(cancellationToken);
}
