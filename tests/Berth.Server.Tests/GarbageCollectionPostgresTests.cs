using Berth.Server.Tests.Infrastructure;

namespace Berth.Server.Tests;

/// <summary>The core garbage collection scenario on PostgreSQL (row locks instead of SQLite's single writer).</summary>
public sealed class GarbageCollectionPostgresTests : IAsyncLifetime
{
    private readonly TestClock _clock = new();
    private PostgresServer? _postgres;
    private BerthFactory? _factory;

    public async Task InitializeAsync()
    {
        _postgres = await PostgresServer.StartAsync();
        var connection = await _postgres.CreateDatabaseAsync("berth_gc");
        _factory = new BerthFactory
        {
            Clock = _clock,
            Settings = new Dictionary<string, string>(GarbageCollectionTests.GcSettings)
            {
                ["Database:Type"] = "PostgreSQL",
                ["Database:ConnectionString"] = connection,
            },
        };
    }

    public async Task DisposeAsync()
    {
        _factory?.Dispose();
        if (_postgres is not null) await _postgres.DisposeAsync();
    }

    [Fact]
    public async Task Deleted_image_loses_its_unique_blobs_after_the_delay_and_shared_ones_stay()
    {
        using var client = _factory!.CreateRegistryClient();
        await GarbageCollectionTests.DeletedImageScenarioAsync(_factory, client, _clock);
    }
}
