using Berth.Metadata;
using Berth.Server;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Berth.Bench.Micro;

/// <summary>Berth's own service registrations (<see cref="BerthApp.AddBerth"/>) on the embedded defaults in a
/// temp data folder, with the database migrated: what the server resolves per request, without HTTP.</summary>
internal sealed class BenchHost : IAsyncDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("berth-micro-").FullName;

    public ServiceProvider Services { get; }

    private BenchHost()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["DataDir"] = _dataDir })
            .Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging();
        BerthApp.AddBerth(services, configuration);
        Services = services.BuildServiceProvider();
    }

    public static async Task<BenchHost> StartAsync()
    {
        var host = new BenchHost();
        await using var scope = host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BerthDbContext>();
        await db.Database.MigrateAsync();
        await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;");
        return host;
    }

    public async ValueTask DisposeAsync()
    {
        await Services.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dataDir, recursive: true);
    }
}
