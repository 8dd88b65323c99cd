using System.Text.RegularExpressions;
using System.Threading.Channels;
using Berth.Metadata;

namespace Berth.Server.Observability;

/// <summary>
/// The audit log: every log entry of category <c>Berth.Audit</c> (CI credentials' events 4100–4130, sign-ins,
/// deletes and administrative changes written by <see cref="AuditLog"/>) becomes a row of <c>audit_events</c>, written
/// by one background task. The row's action is the entry's event name in snake case, its actor the entry's
/// <c>Actor</c>/<c>User</c>/<c>UserId</c>/<c>By</c> value, its target <c>Target</c>/<c>Repository</c>/<c>Project</c>/<c>ProjectId</c>.
/// </summary>
public static partial class AuditLog
{
    /// <summary>The log category whose entries are audited.</summary>
    public const string Category = "Berth.Audit";

    /// <summary>Registers the bridge provider and its writer.</summary>
    public static IServiceCollection AddBerthAudit(this IServiceCollection services)
    {
        services.AddSingleton<AuditQueue>();
        services.AddSingleton<ILoggerProvider, AuditLoggerProvider>();
        services.AddHostedService<AuditWriter>();
        return services;
    }

    /// <summary>Writes an audit entry (category <c>Berth.Audit</c>, event 4200).</summary>
    [LoggerMessage(EventId = 4200, EventName = "Audit", Level = LogLevel.Information,
        Message = "Audit {Action} by {Actor} on {Target} from {Address}: {What}")]
    public static partial void Write(ILogger logger, string action, string actor, string target, string? address, string what);

    [GeneratedRegex("(?<=[a-z0-9])([A-Z])", RegexOptions.CultureInvariant)]
    private static partial Regex Upper();

    internal static string SnakeCase(string name) => Upper().Replace(name, "_$1").ToLowerInvariant();

    /// <summary>Audits a finished request that changed something (called by the request tracking middleware).</summary>
    internal static void AuditRequest(HttpContext context, ILogger audit, string route, string? repository, string? reference, string actor)
    {
        var method = context.Request.Method;
        int status = context.Response.StatusCode;
        if (HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) || status >= 400) return;
        var path = context.Request.Path.Value ?? "";
        var address = context.Connection.RemoteIpAddress?.ToString();
        string? action = null;
        if (path.StartsWith("/v2/", StringComparison.Ordinal)) return; // registry deletes are audited by the registry service
        if (path.StartsWith("/jwt/", StringComparison.Ordinal) || path.StartsWith("/-/health", StringComparison.Ordinal)) return;
        var lower = path.ToLowerInvariant();
        action = lower switch
        {
            _ when lower == "/oauth/token" => "sign_in",
            _ when lower.Contains("sign_in") => status is >= 300 and < 400 ? "sign_in" : null, // a failed web sign-in re-renders the form
            _ when lower.Contains("sign_out") => "sign_out",
            _ when lower.Contains("two_factor") || lower.Contains("2fa") || lower.Contains("recovery") => "two_factor_changed",
            _ when (lower.Contains("access_tokens") || lower.Contains("deploy_tokens") || lower.Contains("/tokens")) && (HttpMethods.IsDelete(method) || lower.Contains("revoke")) => "token_revoked",
            _ when lower.Contains("access_tokens") || lower.Contains("deploy_tokens") || lower.Contains("/tokens") => "token_created",
            _ when lower.Contains("members") => "membership_changed",
            _ when lower.Contains("/tags") && (HttpMethods.IsDelete(method) || lower.Contains("delete")) => "tag_deleted",
            _ when lower.Contains("/repositories") && (HttpMethods.IsDelete(method) || lower.Contains("delete")) => "repository_deleted",
            _ when lower.Contains("settings") || lower.Contains("/application/") => "settings_changed",
            _ when HttpMethods.IsDelete(method) => "deleted",
            _ => "changed",
        };
        if (action is not null) Write(audit, action, actor, route, address, $"{method} {path} answered {status}");
    }
}

/// <summary>The queue between the audit log provider and its writer (bounded at 10 000 entries).</summary>
internal sealed class AuditQueue
{
    public Channel<AuditEventEntity> Channel { get; } = System.Threading.Channels.Channel.CreateBounded<AuditEventEntity>(
        new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
}

/// <summary>Turns <c>Berth.Audit</c> log entries into <see cref="AuditEventEntity"/> rows on the queue.</summary>
internal sealed class AuditLoggerProvider(AuditQueue queue, TimeProvider clock) : ILoggerProvider, ISupportExternalScope
{
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

    public ILogger CreateLogger(string categoryName) => categoryName == AuditLog.Category ? new AuditLogger(this) : Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose() { }

    private sealed class AuditLogger(AuditLoggerProvider provider) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => provider._scopes.Push(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var values = new Dictionary<string, object?>(StringComparer.Ordinal);
            if (state is IEnumerable<KeyValuePair<string, object?>> pairs)
                foreach (var (k, v) in pairs) values[k] = v;
            string? requestId = null;
            provider._scopes.ForEachScope((scope, _) =>
            {
                if (scope is IEnumerable<KeyValuePair<string, object?>> s)
                    foreach (var (k, v) in s) if (k == "RequestId") requestId = v?.ToString();
            }, (object?)null);
            string? Get(params string[] keys) => keys.Select(k => values.TryGetValue(k, out var v) ? Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) : null).FirstOrDefault(v => !string.IsNullOrEmpty(v));
            var action = Get("Action") ?? (eventId.Name is { Length: > 0 } name ? AuditLog.SnakeCase(name) : "event_" + eventId.Id);
            var entity = new AuditEventEntity
            {
                CreatedAt = provider._clock.GetUtcNow().UtcDateTime,
                Action = Trim(action, 100),
                Actor = Trim(Get("Actor", "User", "Username", "UserId", "By", "IssuedTo") ?? "system", 255),
                Target = Get("Target", "Repository", "Project", "ProjectId", "JobId", "RunnerId", "TrustId") is { } t ? Trim(t, 512) : null,
                Details = Trim(Get("What") ?? formatter(state, exception), 4000),
                Address = Get("Address") is { } a ? Trim(a, 64) : null,
                RequestId = requestId is null ? null : Trim(requestId, 128),
            };
            provider.QueueWrite(entity);
        }
    }

    private readonly TimeProvider _clock = clock;

    private void QueueWrite(AuditEventEntity entity) => queue.Channel.Writer.TryWrite(entity);

    private static string Trim(string s, int max) => s.Length <= max ? s : s[..max];
}

/// <summary>Writes queued audit rows in batches; what is queued at shutdown is written before the host stops.</summary>
internal sealed class AuditWriter(AuditQueue queue, IServiceScopeFactory scopes, ILogger<AuditWriter> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (await queue.Channel.Reader.WaitToReadAsync(stoppingToken)) await DrainAsync(CancellationToken.None);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await DrainAsync(cancellationToken);
    }

    /// <summary>Writes everything queued now.</summary>
    internal async Task DrainAsync(CancellationToken cancellationToken)
    {
        var batch = new List<AuditEventEntity>();
        while (batch.Count < 500 && queue.Channel.Reader.TryRead(out var e)) batch.Add(e);
        if (batch.Count == 0) return;
        if (batch.Count == 500) await DrainAsync(cancellationToken); // more waiting: written after this batch
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<BerthDbContext>();
            db.AuditEvents.AddRange(batch);
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogError(ex, "Could not write {Count} audit events", batch.Count);
        }
    }
}
