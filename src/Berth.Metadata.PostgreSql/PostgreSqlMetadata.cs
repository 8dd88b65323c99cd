using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Berth.Metadata.PostgreSql;

/// <summary>
/// PostgreSQL as Berth's metadata database (<c>Database:Type</c> = <c>PostgreSQL</c>): the shared
/// <see cref="BerthDbContext"/> model on the Npgsql provider, with its own migrations in this assembly (the SQLite
/// ones live in Berth.Metadata). Tag and repository names use the <c>"C"</c> collation so listings are in byte order.
/// </summary>
public static class PostgreSqlMetadata
{
    /// <summary>This assembly's name, where the PostgreSQL migrations are.</summary>
    public const string MigrationsAssembly = "Berth.Metadata.PostgreSql";

    /// <summary>Points <paramref name="options"/> at PostgreSQL with this assembly's migrations. Transient
    /// failures (a restarting server, a failover) are retried by the caller, not here: Berth's upserts run in
    /// explicit transactions, which Npgsql's retrying strategy does not allow.</summary>
    public static DbContextOptionsBuilder UsePostgreSqlMetadata(this DbContextOptionsBuilder options, string connectionString) =>
        options.UseNpgsql(connectionString, npgsql => npgsql.MigrationsAssembly(MigrationsAssembly));

    /// <inheritdoc cref="UsePostgreSqlMetadata(DbContextOptionsBuilder, string)"/>
    public static DbContextOptionsBuilder<BerthDbContext> UsePostgreSqlMetadata(this DbContextOptionsBuilder<BerthDbContext> options, string connectionString) =>
        options.UseNpgsql(connectionString, npgsql => npgsql.MigrationsAssembly(MigrationsAssembly));
}

/// <summary>Lets <c>dotnet ef migrations add &lt;Name&gt; --project src/Berth.Metadata.PostgreSql</c> build the context.</summary>
public sealed class PostgreSqlDesignTimeFactory : IDesignTimeDbContextFactory<BerthDbContext>
{
    /// <inheritdoc/>
    public BerthDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<BerthDbContext>().UsePostgreSqlMetadata("Host=127.0.0.1;Database=berth_design").Options);
}
