using System.Text.Json;
using System.Text.Json.Serialization;
using Berth.Distribution;
using Berth.Metadata;
using Berth.Server.Auth;
using Berth.Server.Configuration;
using Berth.Server.Observability;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Berth.Server.Notifications;

/// <summary>
/// Queues registry events for the notification endpoints, in CNCF Distribution's event shape
/// (<c>{"id","timestamp","action","target":{mediaType,size,digest,length,repository,url,tag},"request":{id,addr,host,method,useragent},"actor":{name},"source":{addr,instanceID}}</c>).
/// Called by the registry service (manifest push and delete, blob push and mount), by the web UI's deletes and
/// by the pull handlers, so every path emits the same events. An event goes to each configured endpoint that
/// wants its action and media type, and, for "image pushed" (a manifest push) and "tag deleted", to the hooks of
/// the project owning the repository. Nothing is queued (and the database is not asked) when nobody listens.
/// An event is queued after its change is committed; a failure to queue is logged and counted
/// (<c>berth_notifications_queue_errors_total</c>), never reported to the client whose change succeeded.
/// </summary>
public sealed partial class RegistryEvents(BerthDbContext db, IOptions<NotificationOptions> options, IOptions<BerthOptions> berth,
    IHttpContextAccessor http, TimeProvider clock, ILogger<RegistryEvents> logger)
{
    /// <summary>The media type of the envelope: <c>application/vnd.docker.distribution.events.v1+json</c>.</summary>
    public const string EnvelopeMediaType = "application/vnd.docker.distribution.events.v1+json";

    /// <summary>The target media type of blob events (Distribution's "layer" events).</summary>
    public const string BlobMediaType = "application/octet-stream";

    /// <summary>This process's instance id (<c>source.instanceID</c>).</summary>
    public static readonly string InstanceId = Guid.NewGuid().ToString();

    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>A manifest was pushed (action <c>push</c>); <paramref name="size"/> in bytes.</summary>
    public Task ManifestPushedAsync(RepositoryName repository, Digest digest, string mediaType, long size, string? tag) =>
        QueueAsync("push", repository, new EventTarget(mediaType, size, digest.ToString(), size, repository.Value, ManifestUrl(repository, digest), tag), hookEvent: HookEvent.ImagePushed);

    /// <summary>A manifest was served (action <c>pull</c>).</summary>
    public Task ManifestPulledAsync(RepositoryName repository, Digest digest, string mediaType, long size, string? tag) =>
        QueueAsync("pull", repository, new EventTarget(mediaType, size, digest.ToString(), size, repository.Value, ManifestUrl(repository, digest), tag), hookEvent: null);

    /// <summary>A blob upload finished (action <c>push</c>, media type <c>application/octet-stream</c>).</summary>
    public Task BlobPushedAsync(RepositoryName repository, Digest digest, long size) =>
        QueueAsync("push", repository, new EventTarget(BlobMediaType, size, digest.ToString(), size, repository.Value, BlobUrl(repository, digest), null), hookEvent: null);

    /// <summary>A blob was mounted from another repository (action <c>mount</c>).</summary>
    public Task BlobMountedAsync(RepositoryName repository, RepositoryName from, Digest digest, long size) =>
        QueueAsync("mount", repository, new EventTarget(BlobMediaType, size, digest.ToString(), size, repository.Value, BlobUrl(repository, digest), null) { FromRepository = from.Value }, hookEvent: null);

    /// <summary>A blob was served (action <c>pull</c>).</summary>
    public Task BlobPulledAsync(RepositoryName repository, Digest digest, long size) =>
        QueueAsync("pull", repository, new EventTarget(BlobMediaType, size, digest.ToString(), size, repository.Value, BlobUrl(repository, digest), null), hookEvent: null);

    /// <summary>A manifest was deleted by digest (action <c>delete</c>, target digest and repository).</summary>
    public Task ManifestDeletedAsync(RepositoryName repository, Digest digest) =>
        QueueAsync("delete", repository, new EventTarget(null, null, digest.ToString(), null, repository.Value, null, null), hookEvent: null);

    /// <summary>A tag was deleted (action <c>delete</c>, target tag and repository); project hooks get it as "tag deleted".</summary>
    public Task TagDeletedAsync(RepositoryName repository, string tag) =>
        QueueAsync("delete", repository, new EventTarget(null, null, null, null, repository.Value, null, tag), hookEvent: HookEvent.TagDeleted);

    /// <summary>A whole repository was deleted (action <c>delete</c>, target repository only).</summary>
    public Task RepositoryDeletedAsync(RepositoryName repository) =>
        QueueAsync("delete", repository, new EventTarget(null, null, null, null, repository.Value, null, null), hookEvent: null);

    private enum HookEvent { ImagePushed, TagDeleted }

    private async Task QueueAsync(string action, RepositoryName repository, EventTarget target, HookEvent? hookEvent)
    {
        var endpoints = options.Value.Endpoints.Where(e => e.Wants(action, target.MediaType)).Select(e => e.Name).ToList();
        if (endpoints.Count == 0 && hookEvent is null) return;
        try
        {
            if (hookEvent is { } kind)
            {
                var prefixes = Prefixes(repository.Value);
                var hooks = from h in db.ProjectHooks
                            join p in db.Projects on h.ProjectId equals p.Id
                            where prefixes.Contains(p.FullPath.ToLower())
                            select h;
                hooks = kind == HookEvent.ImagePushed ? hooks.Where(h => h.ImagePushEvents) : hooks.Where(h => h.TagDeleteEvents);
                foreach (var id in await hooks.Select(h => h.Id).ToListAsync(CancellationToken.None))
                    endpoints.Add(NotificationNames.ProjectHook(id));
            }
            if (endpoints.Count == 0) return;
            var now = clock.GetUtcNow();
            var payload = JsonSerializer.Serialize(new RegistryEvent(Guid.NewGuid().ToString(), now.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture),
                action, target, RequestOf(), new EventActor(ActorOf()), SourceOf()), Json);
            var created = now.UtcDateTime;
            foreach (var endpoint in endpoints)
            {
                await db.Database.ExecuteSqlInterpolatedAsync($"""
                    INSERT INTO notification_events ("Endpoint", "Payload", "CreatedAt", "Attempts") VALUES ({endpoint}, {payload}, {created}, {0})
                    """, CancellationToken.None);
            }
            BerthMetrics.NotificationsQueued(action, endpoints.Count);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            BerthMetrics.NotificationQueueError();
            LogQueueFailed(logger, ex, action, repository.Value);
        }
    }

    /// <summary>The repository name and every parent path: the project owning it is one of them.</summary>
    private static List<string> Prefixes(string repository)
    {
        var result = new List<string>();
        for (int i = repository.IndexOf('/'); i > 0; i = repository.IndexOf('/', i + 1)) result.Add(repository[..i]);
        result.Add(repository);
        return result;
    }

    private string BaseUrl()
    {
        if (berth.Value.ExternalUrl is { Length: > 0 } external) return external.TrimEnd('/');
        var request = http.HttpContext?.Request;
        return request is null ? "" : $"{request.Scheme}://{request.Host}";
    }

    private string ManifestUrl(RepositoryName repository, Digest digest) => $"{BaseUrl()}/v2/{repository}/manifests/{digest}";

    private string BlobUrl(RepositoryName repository, Digest digest) => $"{BaseUrl()}/v2/{repository}/blobs/{digest}";

    private EventRequest? RequestOf()
    {
        var context = http.HttpContext;
        if (context is null) return null;
        return new EventRequest(context.TraceIdentifier, context.Connection.RemoteIpAddress is { } ip ? $"{ip}:{context.Connection.RemotePort}" : "",
            context.Request.Host.Value ?? "", context.Request.Method, context.Request.Headers.UserAgent.ToString());
    }

    private string ActorOf()
    {
        var context = http.HttpContext;
        if (context is null) return "";
        var principal = BasicCredentials.GetPrincipal(context);
        if (principal.IsAuthenticated) return principal.Name;
        return context.User.Identity?.IsAuthenticated == true ? context.User.Identity.Name ?? "" : "";
    }

    private EventSource SourceOf()
    {
        var context = http.HttpContext;
        var port = context?.Connection.LocalPort ?? 0;
        return new EventSource(port > 0 ? $"{Environment.MachineName}:{port}" : Environment.MachineName, InstanceId);
    }

    [LoggerMessage(EventId = 7000, Level = LogLevel.Error, Message = "Could not queue the {Action} event of {Repository} for notification endpoints")]
    private static partial void LogQueueFailed(ILogger logger, Exception exception, string action, string repository);
}

/// <summary>One event of the Distribution envelope.</summary>
/// <param name="Id">Unique event id.</param>
/// <param name="Timestamp">When it happened, RFC 3339 UTC.</param>
/// <param name="Action"><c>push</c>, <c>pull</c>, <c>mount</c> or <c>delete</c>.</param>
/// <param name="Target">What it happened to.</param>
/// <param name="Request">The request that caused it (absent for background work).</param>
/// <param name="Actor">Who caused it.</param>
/// <param name="Source">The Berth instance that saw it.</param>
public sealed record RegistryEvent(string Id, string Timestamp, string Action, EventTarget Target, EventRequest? Request, EventActor Actor, EventSource Source);

/// <summary>An event's target: a manifest, blob, tag or repository. <paramref name="Size"/> and <paramref name="Length"/> in bytes (equal).</summary>
/// <param name="MediaType">The manifest's media type, or <c>application/octet-stream</c> for blobs.</param>
/// <param name="Size">Size in bytes.</param>
/// <param name="Digest">The content digest.</param>
/// <param name="Length">Size in bytes (Distribution's deprecated duplicate of size).</param>
/// <param name="Repository">The repository name.</param>
/// <param name="Url">Where the content can be fetched.</param>
/// <param name="Tag">The tag, for tag pushes, pulls by tag and tag deletes.</param>
public sealed record EventTarget(string? MediaType, long? Size, string? Digest, long? Length, string Repository, string? Url, string? Tag)
{
    /// <summary>The source repository of a mount.</summary>
    public string? FromRepository { get; init; }
}

/// <summary>The request of an event: its id (<c>X-Request-Id</c>), client address, Host header, method and User-Agent.</summary>
/// <param name="Id">Request id.</param>
/// <param name="Addr">Client address and port.</param>
/// <param name="Host">Host header.</param>
/// <param name="Method">HTTP method.</param>
/// <param name="Useragent">User-Agent header.</param>
public sealed record EventRequest(string Id, string Addr, string Host, string Method, string Useragent);

/// <summary>Who caused an event (empty for anonymous).</summary>
/// <param name="Name">User or token name.</param>
public sealed record EventActor(string Name);

/// <summary>The instance that saw an event.</summary>
/// <param name="Addr">Host name and port.</param>
/// <param name="InstanceID">This process's id.</param>
public sealed record EventSource(string Addr, [property: JsonPropertyName("instanceID")] string InstanceID);

/// <summary>The envelope POSTed to endpoints: <c>{"events":[…]}</c>.</summary>
/// <param name="Events">The events, oldest first.</param>
public sealed record EventEnvelope(IReadOnlyList<JsonElement> Events);
