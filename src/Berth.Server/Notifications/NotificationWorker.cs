using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Berth.Metadata;
using Berth.Server.Observability;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Berth.Server.Notifications;

/// <summary>
/// Delivers queued registry events. Every <c>Notifications:PollInterval</c> it trims each endpoint's queue to
/// <c>Notifications:MaxQueuedEvents</c> (oldest dropped and counted), then, for each endpoint with waiting events
/// whose backoff has passed, takes the endpoint's lease (one atomic UPDATE of its <c>notification_endpoints</c>
/// row, so with several replicas exactly one delivers an endpoint at a time and its events go out in order) and
/// POSTs the oldest events, up to <c>Notifications:BatchSize</c> per envelope, until the queue is empty or a POST
/// fails. A 2xx or 3xx answer deletes the sent events (delivered at least once); anything else (other status,
/// timeout, connection error) keeps them and delays the endpoint by its backoff, doubled per consecutive failure
/// up to <c>Notifications:MaxBackoff</c>. Events are retried until delivered or dropped by the queue bound.
/// </summary>
internal sealed partial class NotificationWorker(IServiceScopeFactory scopes, IOptions<NotificationOptions> options, TimeProvider clock,
    IDataProtectionProvider protection, IHostApplicationLifetime lifetime, ILogger<NotificationWorker> logger) : BackgroundService
{
    /// <summary>Purpose string of the data protector that encrypts project hook tokens.</summary>
    internal const string TokenPurpose = "Berth.ProjectHooks.Token";

    private readonly string _owner = Guid.NewGuid().ToString("N");
    private readonly HashSet<string> _knownRows = new(StringComparer.Ordinal);
    private readonly HttpClient _client = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(2), AllowAutoRedirect = false }) { Timeout = Timeout.InfiniteTimeSpan };
    private readonly HttpClient _insecureClient = new(new SocketsHttpHandler
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        AllowAutoRedirect = false,
        SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true }, // only for hooks with enable_ssl_verification=false
    }) { Timeout = Timeout.InfiniteTimeSpan };

    private sealed record Destination(string Name, Uri Url, IReadOnlyDictionary<string, string> Headers, TimeSpan Timeout, TimeSpan Backoff, bool VerifyTls);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The first pass waits until the server listens, so it does not compete with start-up on a small machine.
        if (!await StartedAsync(lifetime, stoppingToken)) return;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await PassAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                LogPassFailed(logger, ex);
            }
            try
            {
                await Task.Delay(options.Value.PollInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>Waits for <see cref="IHostApplicationLifetime.ApplicationStarted"/>; false when stopping first.</summary>
    internal static async Task<bool> StartedAsync(IHostApplicationLifetime lifetime, CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        using (stoppingToken.Register(() => started.TrySetResult()))
            await started.Task;
        return !stoppingToken.IsCancellationRequested;
    }

    public override void Dispose()
    {
        _client.Dispose();
        _insecureClient.Dispose();
        base.Dispose();
    }

    /// <summary>One round: trim queues, then deliver every endpoint that is due (endpoints in parallel).</summary>
    internal async Task PassAsync(CancellationToken cancellationToken)
    {
        List<Destination> destinations;
        Dictionary<string, int> pending;
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<BerthDbContext>();
            destinations = await DestinationsAsync(db, cancellationToken);
            if (destinations.Count == 0) return;
            await EnsureRowsAsync(db, destinations, cancellationToken);
            pending = await db.NotificationEvents.GroupBy(e => e.Endpoint).Select(g => new { g.Key, Count = g.Count() })
                .ToDictionaryAsync(x => x.Key, x => x.Count, cancellationToken);
            int max = options.Value.MaxQueuedEvents;
            foreach (var (name, count) in pending.Where(p => p.Value > max).ToList())
            {
                int dropped = await TrimAsync(db, name, max, cancellationToken);
                pending[name] = count - dropped;
            }
        }
        foreach (var d in destinations) BerthMetrics.NotificationsPending(d.Name, pending.GetValueOrDefault(d.Name));
        await Task.WhenAll(destinations.Where(d => pending.GetValueOrDefault(d.Name) > 0).Select(d => DeliverEndpointAsync(d, cancellationToken)));
    }

    private async Task<List<Destination>> DestinationsAsync(BerthDbContext db, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var result = o.Endpoints.Where(e => !e.Disabled)
            .Select(e => new Destination(e.Name, new Uri(e.Url), e.Headers, e.Timeout, e.Backoff, VerifyTls: true)).ToList();
        var protector = protection.CreateProtector(TokenPurpose);
        foreach (var hook in await db.ProjectHooks.OrderBy(h => h.Id).ToListAsync(cancellationToken))
        {
            if (!Uri.TryCreate(hook.Url, UriKind.Absolute, out var url)) continue;
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["X-Gitlab-Event"] = "Registry Hook" };
            if (hook.ProtectedToken is { } token)
            {
                try
                {
                    headers["X-Gitlab-Token"] = protector.Unprotect(token);
                }
                catch (System.Security.Cryptography.CryptographicException ex)
                {
                    LogTokenUnreadable(logger, ex, hook.Id);
                    continue;
                }
            }
            result.Add(new Destination(NotificationNames.ProjectHook(hook.Id), url, headers, o.HookTimeout, o.HookBackoff, hook.EnableSslVerification));
        }
        return result;
    }

    private async Task EnsureRowsAsync(BerthDbContext db, List<Destination> destinations, CancellationToken cancellationToken)
    {
        foreach (var d in destinations.Where(d => !_knownRows.Contains(d.Name)))
        {
            await db.Database.ExecuteSqlInterpolatedAsync($"""
                INSERT INTO notification_endpoints ("Name", "ConsecutiveFailures", "Delivered", "Failures", "Dropped") VALUES ({d.Name}, {0}, {0L}, {0L}, {0L})
                ON CONFLICT ("Name") DO NOTHING
                """, cancellationToken);
            _knownRows.Add(d.Name);
        }
    }

    /// <summary>Drops the oldest events of an endpoint beyond <paramref name="max"/>; returns how many.</summary>
    private async Task<int> TrimAsync(BerthDbContext db, string endpoint, int max, CancellationToken cancellationToken)
    {
        var cutoff = await db.NotificationEvents.Where(e => e.Endpoint == endpoint).OrderByDescending(e => e.Id).Skip(max).Select(e => (long?)e.Id).FirstOrDefaultAsync(cancellationToken);
        if (cutoff is null) return 0;
        int dropped = await db.NotificationEvents.Where(e => e.Endpoint == endpoint && e.Id <= cutoff).ExecuteDeleteAsync(cancellationToken);
        if (dropped == 0) return 0;
        await db.NotificationEndpoints.Where(e => e.Name == endpoint).ExecuteUpdateAsync(s => s.SetProperty(e => e.Dropped, e => e.Dropped + dropped), cancellationToken);
        BerthMetrics.NotificationsDropped(endpoint, dropped);
        LogDropped(logger, dropped, endpoint, max);
        return dropped;
    }

    private async Task DeliverEndpointAsync(Destination destination, CancellationToken cancellationToken)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<BerthDbContext>();
            if (!await TryLeaseAsync(db, destination, cancellationToken)) return;
            try
            {
                while (!cancellationToken.IsCancellationRequested)
                {
                    var batch = await db.NotificationEvents.Where(e => e.Endpoint == destination.Name).OrderBy(e => e.Id)
                        .Take(options.Value.BatchSize).Select(e => new { e.Id, e.Payload }).ToListAsync(cancellationToken);
                    if (batch.Count == 0) break;
                    var ids = batch.Select(b => b.Id).ToList();
                    var error = await PostAsync(destination, batch.Select(b => b.Payload), cancellationToken);
                    var now = clock.GetUtcNow().UtcDateTime;
                    if (error is null)
                    {
                        await db.NotificationEvents.Where(e => ids.Contains(e.Id)).ExecuteDeleteAsync(CancellationToken.None);
                        await db.NotificationEndpoints.Where(e => e.Name == destination.Name).ExecuteUpdateAsync(s => s
                            .SetProperty(e => e.LastSuccessAt, now)
                            .SetProperty(e => e.ConsecutiveFailures, 0)
                            .SetProperty(e => e.NextAttemptAt, (DateTime?)null)
                            .SetProperty(e => e.Delivered, e => e.Delivered + batch.Count)
                            .SetProperty(e => e.LeaseUntil, now + LeaseTime(destination)), CancellationToken.None);
                        BerthMetrics.NotificationsDelivered(destination.Name, batch.Count);
                        continue;
                    }
                    int failures = await db.NotificationEndpoints.Where(e => e.Name == destination.Name).Select(e => e.ConsecutiveFailures).FirstAsync(CancellationToken.None) + 1;
                    var wait = Backoff(destination.Backoff, failures);
                    await db.NotificationEvents.Where(e => ids.Contains(e.Id)).ExecuteUpdateAsync(s => s.SetProperty(e => e.Attempts, e => e.Attempts + 1), CancellationToken.None);
                    await db.NotificationEndpoints.Where(e => e.Name == destination.Name).ExecuteUpdateAsync(s => s
                        .SetProperty(e => e.LastFailureAt, now)
                        .SetProperty(e => e.LastError, error.Length > 1000 ? error[..1000] : error)
                        .SetProperty(e => e.ConsecutiveFailures, failures)
                        .SetProperty(e => e.Failures, e => e.Failures + 1)
                        .SetProperty(e => e.NextAttemptAt, now + wait), CancellationToken.None);
                    BerthMetrics.NotificationDeliveryFailed(destination.Name);
                    LogDeliveryFailed(logger, destination.Name, batch.Count, error, failures, wait.TotalSeconds);
                    break;
                }
            }
            finally
            {
                await db.NotificationEndpoints.Where(e => e.Name == destination.Name && e.LeaseOwner == _owner)
                    .ExecuteUpdateAsync(s => s.SetProperty(e => e.LeaseOwner, (string?)null).SetProperty(e => e.LeaseUntil, (DateTime?)null), CancellationToken.None);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            LogEndpointFailed(logger, ex, destination.Name);
        }
    }

    // Held only while a POST is in flight; a replica that dies mid-delivery blocks the endpoint for at most this long.
    private static TimeSpan LeaseTime(Destination destination) => destination.Timeout + TimeSpan.FromSeconds(5);

    /// <summary>Takes the endpoint's lease when nobody holds it and its backoff has passed (one atomic UPDATE).</summary>
    private async Task<bool> TryLeaseAsync(BerthDbContext db, Destination destination, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var until = now + LeaseTime(destination);
        int n = await db.NotificationEndpoints
            .Where(e => e.Name == destination.Name && (e.LeaseUntil == null || e.LeaseUntil < now) && (e.NextAttemptAt == null || e.NextAttemptAt <= now))
            .ExecuteUpdateAsync(s => s.SetProperty(e => e.LeaseOwner, _owner).SetProperty(e => e.LeaseUntil, until), cancellationToken);
        return n == 1;
    }

    /// <summary><paramref name="first"/> doubled per consecutive failure after the first, at most <c>Notifications:MaxBackoff</c>.</summary>
    internal TimeSpan Backoff(TimeSpan first, int failures)
    {
        var max = options.Value.MaxBackoff;
        double factor = Math.Pow(2, Math.Min(30, Math.Max(0, failures - 1)));
        var wait = TimeSpan.FromTicks((long)Math.Min(first.Ticks * factor, max.Ticks));
        return wait < first ? first : wait;
    }

    /// <summary>POSTs one envelope; null when accepted (2xx/3xx), else what went wrong.</summary>
    private async Task<string?> PostAsync(Destination destination, IEnumerable<string> events, CancellationToken cancellationToken)
    {
        var body = new StringBuilder("{\"events\":[");
        bool first = true;
        foreach (var e in events)
        {
            if (!first) body.Append(',');
            body.Append(e);
            first = false;
        }
        body.Append("]}");
        using var request = new HttpRequestMessage(HttpMethod.Post, destination.Url)
        {
            Content = new StringContent(body.ToString(), Encoding.UTF8),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(RegistryEvents.EnvelopeMediaType);
        foreach (var (name, value) in destination.Headers)
        {
            if (!request.Headers.TryAddWithoutValidation(name, value)) request.Content.Headers.TryAddWithoutValidation(name, value);
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(destination.Timeout);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            var client = destination.VerifyTls ? _client : _insecureClient;
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            int status = (int)response.StatusCode;
            if (status is >= 200 and < 400) return null;
            var text = await ReadStartAsync(response, timeout.Token);
            return $"{destination.Url.GetLeftPart(UriPartial.Path)} answered {status} {response.ReasonPhrase}{(text.Length > 0 ? ": " + text : "")}";
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return $"{destination.Url.GetLeftPart(UriPartial.Path)} did not answer within {destination.Timeout.TotalSeconds:0.###} s";
        }
        catch (HttpRequestException ex)
        {
            return $"{destination.Url.GetLeftPart(UriPartial.Path)}: {ex.Message}";
        }
        finally
        {
            BerthMetrics.NotificationDeliveryDuration(System.Diagnostics.Stopwatch.GetElapsedTime(started));
        }
    }

    private static async Task<string> ReadStartAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            var buffer = new byte[300];
            int n = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken);
            return Encoding.UTF8.GetString(buffer, 0, n).ReplaceLineEndings(" ").Trim();
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException or OperationCanceledException)
        {
            return "";
        }
    }

    [LoggerMessage(EventId = 7001, Level = LogLevel.Warning, Message = "Notification endpoint {Endpoint}: {Count} events not delivered ({Error}); failure {Failures} in a row, next attempt in {WaitSeconds} s")]
    private static partial void LogDeliveryFailed(ILogger logger, string endpoint, int count, string error, int failures, double waitSeconds);

    [LoggerMessage(EventId = 7002, Level = LogLevel.Warning, Message = "Notification endpoint {Endpoint}: queue full ({Max} events), dropped the {Dropped} oldest")]
    private static partial void LogDropped(ILogger logger, int dropped, string endpoint, int max);

    [LoggerMessage(EventId = 7003, Level = LogLevel.Error, Message = "Notification delivery round failed")]
    private static partial void LogPassFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 7004, Level = LogLevel.Error, Message = "Notification endpoint {Endpoint}: delivery failed")]
    private static partial void LogEndpointFailed(ILogger logger, Exception exception, string endpoint);

    [LoggerMessage(EventId = 7005, Level = LogLevel.Error, Message = "Project hook {HookId}: its secret token cannot be decrypted with this instance's data-protection keys; it is skipped until its token is set again")]
    private static partial void LogTokenUnreadable(ILogger logger, Exception exception, long hookId);
}
