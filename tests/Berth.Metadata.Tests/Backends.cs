using Berth.Metadata;
using Berth.Server;
using Berth.Tests.Shared;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Berth.Metadata.Tests;

/// <summary>One private PostgreSQL 15 cluster for the whole run, with a migrated template database that each test
/// copies (<c>CREATE DATABASE … TEMPLATE</c>: much faster than migrating every time).</summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    public const string Template = "berth_template";

    public PostgresServer Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await PostgresServer.StartAsync();
        await Server.CreateDatabaseAsync(Template);
        var options = new DbContextOptionsBuilder<BerthDbContext>();
        Berth.Metadata.PostgreSql.PostgreSqlMetadata.UsePostgreSqlMetadata(options, Server.ConnectionString(Template) + ";Pooling=false");
        await using (var db = new BerthDbContext(options.Options))
        {
            await db.Database.MigrateAsync();
        }
        NpgsqlConnection.ClearAllPools();
    }

    /// <summary>A new database: an empty one, or a copy of the migrated template.</summary>
    public async Task<string> NewDatabaseAsync(bool migrated)
    {
        var name = "t_" + Guid.NewGuid().ToString("N")[..16];
        await using var connection = new NpgsqlConnection(Server.ConnectionString() + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(migrated ? $"CREATE DATABASE {name} TEMPLATE {Template}" : $"CREATE DATABASE {name}", connection);
        await command.ExecuteNonQueryAsync();
        return Server.ConnectionString(name);
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture>
{
    public const string Name = "postgres";
}

/// <summary>A running "replica": Berth's real service registrations (BerthApp.AddBerth) over a database, no web server.</summary>
public sealed class Replica : IAsyncDisposable
{
    private readonly IHost _host;

    public Replica(IDictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.ClearProviders();
        BerthApp.AddBerth(builder.Services, builder.Configuration);
        _host = builder.Build();
    }

    public IServiceProvider Services => _host.Services;

    public AsyncServiceScope Scope() => _host.Services.CreateAsyncScope();

    public async ValueTask DisposeAsync()
    {
        await ((IAsyncDisposable)_host).DisposeAsync();
    }
}
