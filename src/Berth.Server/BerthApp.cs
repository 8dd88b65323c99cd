using Berth.Auth;
using Berth.Auth.Accounts;
using Berth.Auth.Tokens;
using Berth.Metadata;
using Berth.Server.Auth;
using Berth.Server.Api;
using Berth.Server.ApiV4;
using Berth.Server.Configuration;
using Berth.Server.Hosting;
using Berth.Server.Notifications;
using Berth.Server.Observability;
using Berth.Server.Registry;
using Berth.Server.Web;
using Berth.Storage;
using Microsoft.AspNetCore.Connections;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Berth.Server;

/// <summary>Builds the Berth web application: configuration, services, endpoints.</summary>
public static class BerthApp
{
    /// <summary>The default listen address.</summary>
    public const string DefaultUrl = "http://127.0.0.1:5000";

    /// <summary>Creates the application from host arguments (already stripped of the verb).</summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddEnvironmentVariables("BERTH_");
        builder.Configuration.AddCommandLine(args);
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]))
            builder.WebHost.UseUrls(DeploymentHosting.IsTlsConfigured(builder.Configuration) ? DeploymentHosting.DefaultHttpsUrl : DefaultUrl);
        builder.AddBerthLogging();
        configure?.Invoke(builder);
        DeploymentHosting.Configure(builder);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = null; // blobs are streamed; manifests are limited by their handler
            k.AddServerHeader = false;
        });
        // 64 KiB socket receive blocks instead of 4 KiB: a blob push makes a sixteenth of the receives (see the type).
        builder.Services.AddSingleton<IMemoryPoolFactory<byte>, LargeBlockMemoryPoolFactory>();
        AddBerth(builder.Services, builder.Configuration);
        builder.Services.AddBerthWeb();
        builder.Services.AddBerthNotificationDelivery(); // needs the web's data-protection keys (project hook tokens)
        builder.Services.AddHostedService<GarbageCollectionWorker>(); // the server only, not the admin CLI verbs
        var app = builder.Build();
        app.UseRequestTracking(); // first: request id, log scope, access log, HTTP metrics
        app.UseDeployment();
        app.MapHealthEndpoints();
        app.MapBerthHealthRoutes();
        app.MapAuditApi();
        app.MapRegistryApi();
        app.MapTokenService();
        app.MapApiV4();
        app.UseBerthWebErrorPages();
        app.MapBerthWeb(); // the web UI, "/" included
        return app;
    }

    /// <summary>Registers options, storage, metadata and registry services.</summary>
    public static void AddBerth(IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<IValidateOptions<StorageOptions>, OptionsValidator>();
        services.AddSingleton<IValidateOptions<DatabaseOptions>, OptionsValidator>();
        services.AddSingleton<IValidateOptions<AuthOptions>, OptionsValidator>();
        services.AddSingleton<IValidateOptions<RegistryOptions>, OptionsValidator>();
        services.AddOptions<BerthOptions>().Bind(configuration);
        services.AddOptions<StorageOptions>().BindConfiguration("Storage").ValidateOnStart();
        services.AddOptions<DatabaseOptions>().BindConfiguration("Database").ValidateOnStart();
        services.AddOptions<AuthOptions>().BindConfiguration("Auth").ValidateOnStart();
        services.AddOptions<RegistryOptions>().BindConfiguration("Registry").ValidateOnStart();

        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<IStorageDriver>(sp =>
        {
            var data = sp.GetRequiredService<IOptions<BerthOptions>>().Value;
            var storage = sp.GetRequiredService<IOptions<StorageOptions>>().Value;
            if (storage.IsS3) return new InstrumentedStorageDriver(new Berth.Storage.S3.S3StorageDriver(storage.S3));
            var root = storage.FileSystem.RootDirectory ?? Path.Combine(data.DataDir, "storage");
            return new InstrumentedStorageDriver(new FileSystemStorageDriver(Path.GetFullPath(root)));
        });
        services.AddSingleton<BlobStore>();
        services.AddSingleton<RegistryReadCache>();
        services.AddSingleton<RegistryReadCache.WriteWatcher>();
        services.AddDbContextPool<BerthDbContext>((sp, options) =>
        {
            var data = sp.GetRequiredService<IOptions<BerthOptions>>().Value;
            var db = sp.GetRequiredService<IOptions<DatabaseOptions>>().Value;
            if (db.IsPostgreSql)
            {
                Berth.Metadata.PostgreSql.PostgreSqlMetadata.UsePostgreSqlMetadata(options, db.ConnectionString!);
            }
            else
            {
                var connection = db.ConnectionString ?? $"Data Source={Path.GetFullPath(Path.Combine(data.DataDir, "berth.db"))};Default Timeout=30;Pooling=True";
                options.UseSqlite(connection);
                // The SQLite model compiled ahead of time (src/Berth.Metadata/CompiledModels/Sqlite, regenerated by
                // scripts/ef-compiled-model.sh; a Metadata test fails when it is stale): no model building at start-up.
                options.UseModel(Berth.Metadata.CompiledModels.Sqlite.BerthDbContextModel.Instance);
            }
            options.UseQueryTrackingBehavior(QueryTrackingBehavior.NoTracking);
            options.AddInterceptors(DbCommandMetrics.Instance, sp.GetRequiredService<RegistryReadCache.WriteWatcher>());
        });
        services.AddScoped<RegistryService>();
        services.AddScoped<GarbageCollector>();
        services.AddScoped<RegistryUsage>();
        services.AddScoped<TagProtection>();
        services.AddScoped<RegistryLifecycle>();
        services.AddOptions<LifecycleOptions>().BindConfiguration("Registry:Lifecycle");
        services.AddSingleton<RegistryLifecycleWorker>();
        services.AddHostedService(sp => sp.GetRequiredService<RegistryLifecycleWorker>());
        services.AddSchema1Support();
        services.AddOptions<RegistryTokenOptions>().BindConfiguration("Auth");
        services.AddOptions<PasswordOptions>().BindConfiguration("Auth:Passwords");
        services.AddOptions<SignInLimitOptions>().BindConfiguration("Auth:SignInLimits");
        services.AddSingleton<PasswordHashing>();
        services.AddSingleton<SigningKeyStore>();
        services.AddSingleton<VerifiedTokenCache>();
        services.AddScoped<CredentialValidator>();
        services.AddScoped<AccessPolicy>();
        services.AddScoped<RegistryTokenService>();
        services.AddSingleton<IRegistryAuthorizer>(sp =>
            string.Equals(sp.GetRequiredService<IOptions<AuthOptions>>().Value.Mode, "none", StringComparison.OrdinalIgnoreCase)
                ? new AnonymousAuthorizer(sp.GetRequiredService<IOptions<AuthOptions>>())
                : ActivatorUtilities.CreateInstance<TokenAuthorizer>(sp));
        services.AddBerthAccounts();
        Berth.Auth.Ci.CiServiceCollectionExtensions.AddBerthCi(services);
        services.AddHostedService<BerthInitializer>();
        services.AddBerthMetrics(configuration);
        services.AddBerthAudit();
        services.AddBerthNotifications();
        services.AddBerthHealth(); // after the initializer: the start-up storage check runs on a migrated database
    }

}

/// <summary>
/// Prepares storage and the database before the server accepts requests: creates the data folder,
/// applies pending migrations (none: nothing but one read of the history table), switches SQLite to WAL. Runs in <see cref="IHostedLifecycleService.StartingAsync"/>,
/// so it also runs under the in-process test host.
/// </summary>
internal sealed class BerthInitializer(IServiceProvider services, IOptions<BerthOptions> data, ILogger<BerthInitializer> logger) : IHostedLifecycleService
{
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(data.Value.DataDir);
        var driver = services.GetRequiredService<IStorageDriver>();
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BerthDbContext>();
        // Up to date (every start but the first after an upgrade): skip Migrate, which also builds the migrations'
        // model snapshot and diffs it against the model (hundreds of milliseconds of start-up on a small machine).
        if ((await db.Database.GetPendingMigrationsAsync(cancellationToken)).Any())
            await db.Database.MigrateAsync(cancellationToken);
        if (db.Database.IsSqlite())
        {
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
        }
        await Berth.Server.Accounts.RootAccount.EnsureAsync(scope.ServiceProvider, cancellationToken);
        logger.LogInformation("Berth ready: data in {DataDir}, storage {Storage}", Path.GetFullPath(data.Value.DataDir), driver.Name);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
