using Berth.Metadata;

namespace Berth.Server.Registry;

/// <summary>Options of the registry lifecycle worker (section <c>Registry:Lifecycle</c>).</summary>
public sealed class LifecycleOptions
{
    /// <summary>Seconds between two passes of the worker (repository deletions, due cleanup policies). Default 60.</summary>
    public int IntervalSeconds { get; set; } = 60;

    /// <summary>How many due cleanup policies one pass runs at most. Default 10.</summary>
    public int PoliciesPerPass { get; set; } = 10;
}

/// <summary>
/// The background job that finishes asynchronous repository deletions and runs due cleanup policies. Every
/// <see cref="LifecycleOptions.IntervalSeconds"/> (timed by the registered <see cref="TimeProvider"/>) it takes the
/// <c>registry-lifecycle</c> lease in <c>job_leases</c> (<see cref="BerthDbContext.TryAcquireLeaseAsync"/>), so one
/// replica at a time does the work, then runs one pass through <see cref="RegistryLifecycle"/>.
/// </summary>
public sealed partial class RegistryLifecycleWorker(IServiceScopeFactory scopes, TimeProvider clock, Microsoft.Extensions.Options.IOptions<LifecycleOptions> options, ILogger<RegistryLifecycleWorker> logger) : BackgroundService
{
    /// <summary>The lease's name in <c>job_leases</c>.</summary>
    public const string LeaseName = "registry-lifecycle";

    private readonly string _holder = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..8]}";

    /// <inheritdoc/>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromSeconds(Math.Max(1, options.Value.IntervalSeconds));
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, clock, stoppingToken);
                await RunOnceAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogPassFailed(logger, ex);
            }
        }
    }

    /// <summary>One pass: takes the lease (returns false when another replica holds it), finishes due repository
    /// deletions and runs due cleanup policies.</summary>
    public async Task<bool> RunOnceAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BerthDbContext>();
        var ttl = TimeSpan.FromSeconds(Math.Max(300, options.Value.IntervalSeconds * 3));
        if (!await db.TryAcquireLeaseAsync(LeaseName, _holder, ttl, clock.GetUtcNow(), cancellationToken)) return false;
        var lifecycle = scope.ServiceProvider.GetRequiredService<RegistryLifecycle>();
        await lifecycle.RunRepositoryDeletionsAsync(cancellationToken);
        await lifecycle.RunDuePoliciesAsync(Math.Max(1, options.Value.PoliciesPerPass), cancellationToken);
        return true;
    }

    [LoggerMessage(EventId = 3410, Level = LogLevel.Error, Message = "Registry lifecycle pass failed; retrying next interval")]
    private static partial void LogPassFailed(ILogger logger, Exception exception);
}
