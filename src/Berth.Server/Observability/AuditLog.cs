using System.Text.RegularExpressions;
using System.Threading.Channels;
using Berth.Metadata;

namespace Berth.Server.Observability;

/// <summary>
/// The audit log: every log entry of category <c>Berth.Audit</c> becomes a row of <c>audit_events</c>, written by one
/// background task. Entries are written explicitly where the change happens: accounts (sign-in ok/failed, sign-out,
/// tokens created/revoked, 2FA on/off, memberships, permissions, project settings: <c>Berth.Auth.Accounts.AccountAudit</c>),
/// CI credentials (events 4100–4130), the token service, registry deletes and instance settings
/// (<see cref="Auditor"/>). The row's action is the entry's <c>Action</c> or its event name in snake case; its actor
/// the entry's <c>Actor</c>/<c>User</c>/<c>UserId</c>/<c>By</c> value, else the request's caller; its target
/// <c>Target</c>/<c>Repository</c>/<c>Project</c>/<c>ProjectId</c>; its address the entry's <c>Address</c>, else the
/// request's client address.
/// </summary>
public static partial class AuditLog
{
    /// <summary>The log category whose entries are audited.</summary>
    public const string Category = "Berth.Audit";

    /// <summary>Registers the bridge provider and its writer.</summary>
    public static IServiceCollection AddBerthAudit(this IServiceCollection services)
    {
        services.AddHttpContextAccessor();
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
}

/// <summary>The queue between the audit log provider and its writer (bounded at 10 000 entries).</summary>
internal sealed class AuditQueue
{
    public Channel<AuditEventEntity> Channel { get; } = System.Threading.Channels.Channel.CreateBounded<AuditEventEntity>(
        new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
}

/// <summary>Turns <c>Berth.Audit</c> log entries into <see cref="AuditEventEntity"/> rows on the queue.</summary>
internal sealed class AuditLoggerProvider(AuditQueue queue, TimeProvider clock, IHttpContextAccessor http) : ILoggerProvider, ISupportExternalScope
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
                Actor = Trim(Get("Actor", "User", "Username", "UserId", "By", "IssuedTo") ?? Auditor.ActorOf(provider._http.HttpContext), 255),
                Target = Get("Target", "Repository", "Project", "ProjectId", "JobId", "RunnerId", "TrustId") is { } t ? Trim(t, 512) : null,
                Details = Trim(Get("What") ?? formatter(state, exception), 4000),
                Address = (Get("Address") ?? provider._http.HttpContext?.Connection.RemoteIpAddress?.ToString()) is { } a ? Trim(a, 64) : null,
                RequestId = requestId is null ? null : Trim(requestId, 128),
            };
            provider.QueueWrite(entity);
        }
    }

    private readonly TimeProvider _clock = clock;
    private readonly IHttpContextAccessor _http = http;

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
