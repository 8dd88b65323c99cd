using Berth.Metadata;
using Berth.Storage;
using Microsoft.EntityFrameworkCore;

namespace Berth.Server.Hosting;

/// <summary>The outcome of one readiness check (<c>database</c>, <c>storage</c>) with what failed.</summary>
public sealed record HealthCheckEntry(string Name, bool Ok, string Detail, IReadOnlyList<string>? Failures = null);

/// <summary>What <c>/-/health/ready</c> answers: ready when every check passed.</summary>
public sealed record ReadinessReport(bool Ready, DateTimeOffset CheckedAt, IReadOnlyList<HealthCheckEntry> Checks)
{
    /// <summary>"ready" or "not ready".</summary>
    public string Status => Ready ? "ready" : "not ready";
}

/// <summary>
/// The short health check of a running replica: the database answers and has every migration, and the storage
/// backend accepts a write, a stat and a delete of a scratch key (<see cref="StorageCheckDepth.Short"/>). Results
/// are cached for <see cref="CacheFor"/> so a load balancer polling every second does not hammer the backends.
/// The full check, every operation Berth uses, is <c>berth doctor</c>.
/// </summary>
public sealed class ReadinessCheck(IServiceScopeFactory scopes, IStorageDriver driver, TimeProvider clock, ILogger<ReadinessCheck> logger)
{
    /// <summary>How long a result is reused.</summary>
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(10);

    private readonly SemaphoreSlim _lock = new(1, 1);
    private ReadinessReport? _last;

    /// <summary>The latest report, checking again when the cached one is older than <see cref="CacheFor"/>.</summary>
    public async Task<ReadinessReport> GetAsync(CancellationToken cancellationToken)
    {
        if (_last is { } cached && clock.GetUtcNow() - cached.CheckedAt < CacheFor) return cached;
        await _lock.WaitAsync(cancellationToken);
        try
        {
            if (_last is { } again && clock.GetUtcNow() - again.CheckedAt < CacheFor) return again;
            var report = await CheckAsync(cancellationToken);
            if (_last?.Ready != report.Ready || !report.Ready)
            {
                foreach (var check in report.Checks.Where(c => !c.Ok))
                    logger.LogError("Readiness check {Check} failed: {Detail} {Failures}", check.Name, check.Detail, string.Join("; ", check.Failures ?? []));
            }
            _last = report;
            return report;
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Runs the checks now (no cache).</summary>
    public async Task<ReadinessReport> CheckAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(20));
        var checks = new List<HealthCheckEntry> { await CheckDatabaseAsync(timeout.Token), await CheckStorageAsync(driver, timeout.Token) };
        return new ReadinessReport(checks.All(c => c.Ok), clock.GetUtcNow(), checks);
    }

    private async Task<HealthCheckEntry> CheckDatabaseAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<BerthDbContext>();
            if (!await db.Database.CanConnectAsync(cancellationToken))
                return new HealthCheckEntry("database", false, $"cannot connect to the {(db.IsPostgreSql ? "PostgreSQL" : "SQLite")} database");
            var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).ToList();
            if (pending.Count > 0)
                return new HealthCheckEntry("database", false, $"{pending.Count} migration(s) not applied", pending);
            return new HealthCheckEntry("database", true, db.IsPostgreSql ? "PostgreSQL" : "SQLite");
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new HealthCheckEntry("database", false, ex.Message);
        }
    }

    /// <summary>The short storage check as a health entry (also used by the start-up check).</summary>
    public static async Task<HealthCheckEntry> CheckStorageAsync(IStorageDriver driver, CancellationToken cancellationToken)
    {
        if (driver is not IStorageChecks checks) return new HealthCheckEntry("storage", true, driver.Name + " (no self-check)");
        try
        {
            var results = await checks.RunChecksAsync(StorageCheckDepth.Short, cancellationToken);
            var failed = results.Where(r => !r.Ok && !r.Warning).Select(r => r.ToString()).ToList();
            return failed.Count == 0
                ? new HealthCheckEntry("storage", true, driver.Name)
                : new HealthCheckEntry("storage", false, $"the {driver.Name} storage backend refused {string.Join(", ", results.Where(r => !r.Ok && !r.Warning).Select(r => r.Operation))}", failed);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new HealthCheckEntry("storage", false, ex.Message);
        }
    }
}

/// <summary>
/// Liveness and readiness endpoints for load balancers and orchestrators: <c>GET /-/health/live</c> (the process
/// answers; 200 always) and <c>GET /-/health/ready</c> (200 when the database and storage checks pass, 503 with the
/// failing check otherwise; JSON either way).
/// </summary>
public static class HealthEndpoints
{
    /// <summary>Path of the liveness endpoint.</summary>
    public const string LivePath = "/-/health/live";

    /// <summary>Path of the readiness endpoint.</summary>
    public const string ReadyPath = "/-/health/ready";

    /// <summary>Registers <see cref="ReadinessCheck"/> and the start-up check.</summary>
    public static IServiceCollection AddBerthHealth(this IServiceCollection services)
    {
        services.AddSingleton<ReadinessCheck>();
        services.AddHostedService<StartupStorageCheck>();
        return services;
    }

    /// <summary>Maps the two endpoints.</summary>
    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet(LivePath, () => Results.Json(new { status = "alive" })).ExcludeFromDescription();
        app.MapGet(ReadyPath, async (ReadinessCheck check, CancellationToken cancellationToken) =>
        {
            var report = await check.GetAsync(cancellationToken);
            return Results.Json(new
            {
                status = report.Status,
                checkedAt = report.CheckedAt,
                checks = report.Checks.Select(c => new { name = c.Name, ok = c.Ok, detail = c.Detail, failures = c.Failures }),
            }, statusCode: report.Ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        }).ExcludeFromDescription();
        return app;
    }
}

/// <summary>
/// The short storage check at start-up (write, stat, delete a scratch key): a backend that refuses is logged as an
/// error naming the operation and the permission to grant, and the replica stays not ready (see
/// <c>/-/health/ready</c>) instead of failing its first push with a bare 403. It does not stop the start.
/// </summary>
internal sealed class StartupStorageCheck(IStorageDriver driver, ILogger<StartupStorageCheck> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        var entry = await ReadinessCheck.CheckStorageAsync(driver, timeout.Token);
        if (entry.Ok)
        {
            logger.LogInformation("Storage check passed: {Storage}", entry.Detail);
        }
        else
        {
            logger.LogError("Storage check failed at start-up: {Detail}. {Failures}. Run 'berth doctor' for every operation", entry.Detail, string.Join("; ", entry.Failures ?? []));
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
