using Microsoft.Extensions.Options;
using Prometheus;

namespace Berth.Server.Observability;

/// <summary>Metrics settings (section <c>Metrics</c>).</summary>
public sealed class MetricsOptions
{
    /// <summary>Where <c>/metrics</c> is served, e.g. <c>http://127.0.0.1:9100</c>: a separate listener, never the
    /// registry's own port. Unset (default): no metrics listener.</summary>
    public string? Urls { get; set; }
}

/// <summary>
/// Berth's Prometheus metrics (prometheus-net, default registry). Names: <c>berth_http_requests_total{route,method,status}</c>,
/// <c>berth_http_request_duration_seconds{route,method}</c>, <c>berth_http_request_bytes_total{route}</c> and
/// <c>berth_http_response_bytes_total{route}</c> (bytes), <c>berth_blob_upload_duration_seconds{method}</c>,
/// <c>berth_tokens_issued_total{outcome}</c>, <c>berth_rate_limit_hits_total{where}</c>,
/// <c>berth_storage_operation_duration_seconds{backend,operation}</c>, <c>berth_storage_errors_total{backend,operation}</c>,
/// <c>berth_db_command_duration_seconds{kind}</c>, <c>berth_db_command_errors_total{kind}</c>,
/// <c>berth_notifications_queued_total{action}</c>, <c>berth_notifications_delivered_total{endpoint}</c>,
/// <c>berth_notification_delivery_failures_total{endpoint}</c>, <c>berth_notifications_dropped_total{endpoint}</c>,
/// <c>berth_notifications_pending{endpoint}</c>, <c>berth_notification_delivery_duration_seconds</c>,
/// <c>berth_notifications_queue_errors_total</c>; garbage collection: <c>berth_gc_runs_total{outcome}</c>,
/// <c>berth_gc_run_duration_seconds</c>, <c>berth_gc_last_run_timestamp_seconds</c>, <c>berth_gc_deleted_total{kind}</c>,
/// <c>berth_gc_deleted_bytes_total{kind}</c> (bytes), <c>berth_gc_queued_total{kind}</c>.
/// </summary>
public static class BerthMetrics
{
    private static readonly Counter Requests = Metrics.CreateCounter("berth_http_requests_total", "HTTP requests by route template, method and status.", "route", "method", "status");
    private static readonly Histogram Durations = Metrics.CreateHistogram("berth_http_request_duration_seconds", "HTTP request duration in seconds.",
        new HistogramConfiguration { LabelNames = ["route", "method"], Buckets = Histogram.ExponentialBuckets(0.001, 2, 16) });
    private static readonly Counter BytesIn = Metrics.CreateCounter("berth_http_request_bytes_total", "Request body bytes received.", "route");
    private static readonly Counter BytesOut = Metrics.CreateCounter("berth_http_response_bytes_total", "Response body bytes sent (declared length).", "route");
    private static readonly Histogram UploadDurations = Metrics.CreateHistogram("berth_blob_upload_duration_seconds", "Duration of blob upload requests (POST/PATCH/PUT) in seconds.",
        new HistogramConfiguration { LabelNames = ["method"], Buckets = Histogram.ExponentialBuckets(0.005, 2, 16) });
    private static readonly Counter Tokens = Metrics.CreateCounter("berth_tokens_issued_total", "Token service answers by outcome (issued, refused, rate_limited, invalid_request).", "outcome");
    private static readonly Counter RateLimits = Metrics.CreateCounter("berth_rate_limit_hits_total", "Requests refused by a rate limit.", "where");
    private static readonly Counter GcRuns = Metrics.CreateCounter("berth_gc_runs_total", "Garbage collection passes by outcome (ok, failed).", "outcome");
    private static readonly Histogram GcDurations = Metrics.CreateHistogram("berth_gc_run_duration_seconds", "Duration of garbage collection passes in seconds.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.01, 2, 16) });
    private static readonly Gauge GcLastRun = Metrics.CreateGauge("berth_gc_last_run_timestamp_seconds", "Unix time (seconds) when the last garbage collection pass on this replica finished.");
    private static readonly Counter GcDeletedItems = Metrics.CreateCounter("berth_gc_deleted_total", "Items deleted by garbage collection, by kind (manifest, blob).", "kind");
    private static readonly Counter GcDeletedBytes = Metrics.CreateCounter("berth_gc_deleted_bytes_total", "Bytes deleted by garbage collection, by kind (manifest: bytes in the database; blob: bytes in storage).", "kind");
    private static readonly Counter GcQueuedItems = Metrics.CreateCounter("berth_gc_queued_total", "Items queued for garbage collection review, by kind (manifest, blob).", "kind");
    private static readonly Counter StorageErrors = Metrics.CreateCounter("berth_storage_errors_total", "Storage driver operations that failed (not counting 'not found'), by backend and operation.", "backend", "operation");
    private static readonly Histogram StorageDurations = Metrics.CreateHistogram("berth_storage_operation_duration_seconds", "Storage driver operation latency in seconds (streams: until opened), by backend and operation.",
        new HistogramConfiguration { LabelNames = ["backend", "operation"], Buckets = Histogram.ExponentialBuckets(0.0001, 2, 18) });
    private static readonly Histogram DbDurations = Metrics.CreateHistogram("berth_db_command_duration_seconds", "Metadata database command latency in seconds, by kind (reader, non_query, scalar).",
        new HistogramConfiguration { LabelNames = ["kind"], Buckets = Histogram.ExponentialBuckets(0.00005, 2, 18) });
    private static readonly Counter DbErrors = Metrics.CreateCounter("berth_db_command_errors_total", "Metadata database commands that failed, by kind.", "kind");
    private static readonly Counter NotificationQueued = Metrics.CreateCounter("berth_notifications_queued_total", "Registry events queued for notification endpoints (one per endpoint), by action.", "action");
    private static readonly Counter NotificationDelivered = Metrics.CreateCounter("berth_notifications_delivered_total", "Registry events delivered, by endpoint.", "endpoint");
    private static readonly Counter NotificationFailures = Metrics.CreateCounter("berth_notification_delivery_failures_total", "Failed notification POSTs (the events stay queued), by endpoint.", "endpoint");
    private static readonly Counter NotificationDropped = Metrics.CreateCounter("berth_notifications_dropped_total", "Registry events dropped because the endpoint's queue was full, by endpoint.", "endpoint");
    private static readonly Gauge NotificationPending = Metrics.CreateGauge("berth_notifications_pending", "Registry events waiting for delivery, by endpoint (as last seen by this replica).", "endpoint");
    private static readonly Histogram NotificationDurations = Metrics.CreateHistogram("berth_notification_delivery_duration_seconds", "Duration of notification POSTs in seconds.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.001, 2, 16) });
    private static readonly Counter NotificationQueueErrors = Metrics.CreateCounter("berth_notifications_queue_errors_total", "Registry events that could not be queued (database failure).");

    /// <summary>Records one finished HTTP request.</summary>
    public static void ObserveRequest(string route, string method, int status, long bytesIn, long bytesOut, TimeSpan duration)
    {
        // Exemplar.None: the default exemplar reads the current trace context for every observation; nothing reads exemplars here.
        Requests.WithLabels(route, method, StatusText(status)).Inc(1, Exemplar.None);
        Durations.WithLabels(route, method).Observe(duration.TotalSeconds, Exemplar.None);
        if (bytesIn > 0) BytesIn.WithLabels(route).Inc(bytesIn, Exemplar.None);
        if (bytesOut > 0) BytesOut.WithLabels(route).Inc(bytesOut, Exemplar.None);
        if (route.StartsWith("/v2/{name}/blobs/uploads", StringComparison.Ordinal) && method is "POST" or "PATCH" or "PUT")
            UploadDurations.WithLabels(method).Observe(duration.TotalSeconds, Exemplar.None);
        if (status == 429) RateLimits.WithLabels(route).Inc(1, Exemplar.None);
    }

    private static readonly string[] StatusTexts = Enumerable.Range(0, 600).Select(s => s.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    private static string StatusText(int status) => (uint)status < StatusTexts.Length ? StatusTexts[status] : status.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Records a token service outcome.</summary>
    public static void TokenOutcome(string outcome) => Tokens.WithLabels(outcome).Inc();

    /// <summary>Records a finished garbage collection pass.</summary>
    public static void GcRun(string outcome, TimeSpan duration)
    {
        GcRuns.WithLabels(outcome).Inc();
        GcDurations.Observe(duration.TotalSeconds);
        GcLastRun.SetToCurrentTimeUtc();
    }

    /// <summary>Records items garbage collection deleted: <paramref name="count"/> of them, <paramref name="bytes"/> bytes in all.</summary>
    public static void GcDeleted(Berth.Server.Registry.GcItemKind kind, int count, long bytes)
    {
        if (count == 0) return;
        var label = kind == Berth.Server.Registry.GcItemKind.Blob ? "blob" : "manifest";
        GcDeletedItems.WithLabels(label).Inc(count);
        GcDeletedBytes.WithLabels(label).Inc(bytes);
    }

    /// <summary>Records items queued for garbage collection review.</summary>
    public static void GcQueued(Berth.Server.Registry.GcItemKind kind, int count)
    {
        if (count > 0) GcQueuedItems.WithLabels(kind == Berth.Server.Registry.GcItemKind.Blob ? "blob" : "manifest").Inc(count);
    }

    /// <summary>Records a storage failure seen by a request.</summary>
    /// <summary>Records a storage failure.</summary>
    public static void StorageError(string backend, string operation) => StorageErrors.WithLabels(backend, operation).Inc();

    /// <summary>Records one storage driver operation's latency.</summary>
    public static void StorageOperation(string backend, string operation, TimeSpan duration) => StorageDurations.WithLabels(backend, operation).Observe(duration.TotalSeconds);

    /// <summary>Records one database command's latency, and whether it failed.</summary>
    public static void DbCommand(string kind, TimeSpan duration, bool failed)
    {
        DbDurations.WithLabels(kind).Observe(duration.TotalSeconds, Exemplar.None);
        if (failed) DbErrors.WithLabels(kind).Inc();
    }

    /// <summary>Records queued notification events.</summary>
    public static void NotificationsQueued(string action, int count) => NotificationQueued.WithLabels(action).Inc(count);

    /// <summary>Records an event that could not be queued.</summary>
    public static void NotificationQueueError() => NotificationQueueErrors.Inc();

    /// <summary>Records delivered notification events.</summary>
    public static void NotificationsDelivered(string endpoint, int count) => NotificationDelivered.WithLabels(endpoint).Inc(count);

    /// <summary>Records a failed notification POST.</summary>
    public static void NotificationDeliveryFailed(string endpoint) => NotificationFailures.WithLabels(endpoint).Inc();

    /// <summary>Records events dropped from a full queue.</summary>
    public static void NotificationsDropped(string endpoint, int count) => NotificationDropped.WithLabels(endpoint).Inc(count);

    /// <summary>Sets an endpoint's waiting events.</summary>
    public static void NotificationsPending(string endpoint, int count) => NotificationPending.WithLabels(endpoint).Set(count);

    /// <summary>Records one notification POST's duration.</summary>
    public static void NotificationDeliveryDuration(TimeSpan duration) => NotificationDurations.Observe(duration.TotalSeconds);

    /// <summary>Starts the separate <c>/metrics</c> listener when <c>Metrics:Urls</c> is set.</summary>
    public static IServiceCollection AddBerthMetrics(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<MetricsOptions>().BindConfiguration("Metrics");
        services.AddHostedService<MetricsListener>(); // does nothing unless Metrics:Urls is set
        return services;
    }

    private sealed class MetricsListener(IOptions<MetricsOptions> options, ILogger<MetricsListener> logger) : IHostedService
    {
        private KestrelMetricServer? _server;

        public Task StartAsync(CancellationToken cancellationToken)
        {
            if (string.IsNullOrWhiteSpace(options.Value.Urls)) return Task.CompletedTask;
            var url = options.Value.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[0];
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != "http")
                throw new OptionsValidationException("Metrics", typeof(MetricsOptions), [$"Metrics:Urls must be an http:// URL such as http://127.0.0.1:9100, not '{url}'"]);
            var host = uri.Host is "0.0.0.0" or "*" or "+" ? "+" : uri.Host;
            _server = new KestrelMetricServer(host, uri.Port, "/metrics");
            _server.Start();
            logger.LogInformation("Metrics listening on {Url}metrics", uri.GetLeftPart(UriPartial.Authority) + "/");
            return Task.CompletedTask;
        }

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            if (_server is not null) await _server.StopAsync();
        }
    }
}
