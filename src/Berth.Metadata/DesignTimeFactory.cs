using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Berth.Metadata;

/// <summary>Lets <c>dotnet ef migrations add</c> build the context (SQLite migrations).</summary>
public sealed class DesignTimeFactory : IDesignTimeDbContextFactory<BerthDbContext>
{
    /// <inheritdoc/>
    public BerthDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<BerthDbContext>().UseSqlite("Data Source=design.db").Options);
}
