using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>Tests whose registry server is restarted with a webhook endpoint configured.</summary>
[CollectionDefinition(Name)]
public sealed class NotificationRegistryCollection : ICollectionFixture<RegistryServerFixture>
{
    /// <summary>The collection name used in <c>[Collection]</c>.</summary>
    public const string Name = "Notification registry server";
}

/// <summary>
/// Registry events: a webhook receiver on loopback gets skopeo's push and delete in CNCF Distribution's
/// envelope, also after it was down for a while (retries with backoff) and after Berth was killed and
/// restarted with events still queued (the queue is in the database); a project hook gets "image pushed"
/// with its secret token.
/// </summary>
[Collection(NotificationRegistryCollection.Name)]
public sealed class NotificationTests(RegistryServerFixture server, ITestOutputHelper output) : IDisposable
{
    private const string EnvelopeType = "application/vnd.docker.distribution.events.v1+json";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly ContainerTools _tools = new(server, output);
    private readonly WebhookReceiver _receiver = new();

    [BerthOnlyFact("Berth's durable notification queue and project hooks")]
    public async Task Push_and_delete_events_reach_the_endpoint_across_receiver_downtime_and_a_restart()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var ct = timeout.Token;
        _receiver.Start();
        server.ExtraArguments.Clear();
        server.ExtraArguments.AddRange([
            "--Notifications:Endpoints:0:Name", "receiver",
            "--Notifications:Endpoints:0:Url", _receiver.Url("/events"),
            "--Notifications:Endpoints:0:Headers:Authorization", "Bearer endpoint-secret",
            "--Notifications:Endpoints:0:Backoff", "00:00:00.200",
            "--Notifications:Endpoints:0:Ignore:Actions:0", "pull",
            "--Notifications:MaxBackoff", "00:00:01",
            "--Notifications:PollInterval", "00:00:00.200",
        ]);
        await server.RestartAsync(graceful: true, ct);

        // A project hook for "image pushed" / "tag deleted", with a secret token.
        var projectId = (await server.ApiRequestAsync(HttpMethod.Get, $"projects/{Uri.EscapeDataString(server.RepositoryPrefix)}", cancellationToken: ct))["id"]!.GetValue<long>();
        var hook = await server.ApiRequestAsync(HttpMethod.Post, $"projects/{projectId}/hooks", new { url = _receiver.Url("/hook"), token = "hook-secret" }, ct);
        Assert.True(hook["image_push_events"]!.GetValue<bool>());
        Assert.Null(hook["token"]);

        // 1. push with skopeo: blob and manifest push events in the Distribution envelope.
        var repository = server.NewRepository("events");
        var (layout, digest) = await TestImages.PushWithSkopeoAsync(_tools, $"{server.Host}/{repository}:v1", "notify me\n", $"{server.Username}:{server.Password}");
        var pushed = await _receiver.WaitForAsync(r => r.Path == "/events" && HasEvent(r, "push", repository, digest), Wait, "manifest push");
        Assert.Equal(EnvelopeType, pushed.ContentType);
        Assert.Equal("Bearer endpoint-secret", pushed.Headers["Authorization"]);
        var e = FindEvent(pushed, "push", repository, digest);
        var target = e.GetProperty("target");
        Assert.Equal("application/vnd.oci.image.manifest.v1+json", target.GetProperty("mediaType").GetString());
        Assert.Equal("v1", target.GetProperty("tag").GetString());
        Assert.Equal(layout.ResolveTag("v1").Size, target.GetProperty("size").GetInt64());
        Assert.Equal(target.GetProperty("size").GetInt64(), target.GetProperty("length").GetInt64());
        Assert.Equal($"http://{server.Host}/v2/{repository}/manifests/{digest}", target.GetProperty("url").GetString());
        Assert.False(string.IsNullOrEmpty(e.GetProperty("id").GetString()));
        Assert.True(DateTimeOffset.TryParse(e.GetProperty("timestamp").GetString(), out _));
        Assert.Equal("PUT", e.GetProperty("request").GetProperty("method").GetString());
        Assert.False(string.IsNullOrEmpty(e.GetProperty("request").GetProperty("id").GetString()));
        Assert.Contains("skopeo", e.GetProperty("request").GetProperty("useragent").GetString(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(RegistryServerFixture.RootUsername, e.GetProperty("actor").GetProperty("name").GetString());
        Assert.False(string.IsNullOrEmpty(e.GetProperty("source").GetProperty("instanceID").GetString()));
        var layer = layout.ReadManifest(digest).Layers[0];
        await _receiver.WaitForAsync(r => r.Path == "/events" && r.Events().Any(x => x.GetProperty("action").GetString() == "push"
            && x.GetProperty("target").GetProperty("mediaType").GetString() == "application/octet-stream"
            && x.GetProperty("target").GetProperty("digest").GetString() == layer.Digest), Wait, "layer push");
        var hooked = await _receiver.WaitForAsync(r => r.Path == "/hook" && HasEvent(r, "push", repository, digest), Wait, "project hook push");
        Assert.Equal("hook-secret", hooked.Headers["X-Gitlab-Token"]);
        Assert.DoesNotContain(hooked.Events(), x => x.GetProperty("target").GetProperty("mediaType").GetString() == "application/octet-stream");

        // Pulls are ignored by this endpoint's configuration (Ignore:Actions: pull).
        await _tools.SkopeoAsync(["inspect", "--tls-verify=false", .. _tools.Credentials("--creds"), $"docker://{server.Host}/{repository}:v1"]);

        // 2. the receiver is down: the delete is retried with backoff until it is back.
        _receiver.Stop();
        await _tools.SkopeoAsync(["delete", "--tls-verify=false", .. _tools.Credentials("--creds"), $"docker://{server.Host}/{repository}:v1"]);
        var failing = await WaitForStatusAsync(s => s["consecutive_failures"]!.GetValue<int>() >= 2 && s["pending"]!.GetValue<long>() >= 1, ct);
        output.WriteLine($"while down: {failing.ToJsonString()}");
        Assert.Contains("127.0.0.1", failing["last_error"]!.GetValue<string>());
        Assert.NotNull(failing["last_failure_at"]);
        _receiver.Start();
        var deleted = await _receiver.WaitForAsync(r => r.Path == "/events" && HasEvent(r, "delete", repository, digest), Wait, "manifest delete after the receiver came back");
        Assert.Equal(EnvelopeType, deleted.ContentType);
        var healthy = await WaitForStatusAsync(s => s["consecutive_failures"]!.GetValue<int>() == 0 && s["pending"]!.GetValue<long>() == 0, ct);
        Assert.NotNull(healthy["last_success_at"]);
        Assert.DoesNotContain(_receiver.Received, r => r.Events().Any(x => x.GetProperty("action").GetString() == "pull"));

        // 3. queued while the receiver is down, then Berth is killed: the event is delivered after the restart.
        _receiver.Stop();
        var (_, second) = await TestImages.PushWithSkopeoAsync(_tools, $"{server.Host}/{repository}:v2", "after restart\n", $"{server.Username}:{server.Password}");
        await WaitForStatusAsync(s => s["pending"]!.GetValue<long>() >= 1 && s["consecutive_failures"]!.GetValue<int>() >= 1, ct);
        await server.RestartAsync(graceful: false, ct);
        _receiver.Start();
        var afterRestart = await _receiver.WaitForAsync(r => r.Path == "/events" && HasEvent(r, "push", repository, second), Wait, "push queued before the restart");
        Assert.Equal("v2", FindEvent(afterRestart, "push", repository, second).GetProperty("target").GetProperty("tag").GetString());
    }

    private static bool HasEvent(ReceivedWebhook request, string action, string repository, string digest) =>
        request.Events().Any(e => Matches(e, action, repository, digest));

    private static JsonElement FindEvent(ReceivedWebhook request, string action, string repository, string digest) =>
        request.Events().First(e => Matches(e, action, repository, digest));

    private static bool Matches(JsonElement e, string action, string repository, string digest) =>
        e.GetProperty("action").GetString() == action
        && e.GetProperty("target").GetProperty("repository").GetString() == repository
        && e.GetProperty("target").TryGetProperty("digest", out var d) && d.GetString() == digest;

    /// <summary>Polls <c>GET /api/v4/admin/notification_endpoints</c> until the <c>receiver</c> endpoint's status matches.</summary>
    private async Task<JsonNode> WaitForStatusAsync(Func<JsonNode, bool> match, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        JsonNode? last = null;
        while (watch.Elapsed < Wait)
        {
            var list = await server.ApiRequestAsync(HttpMethod.Get, "admin/notification_endpoints", cancellationToken: ct);
            last = list.AsArray().First(n => n!["name"]!.GetValue<string>() == "receiver");
            if (match(last!)) return last!;
            await Task.Delay(200, ct);
        }
        throw new TimeoutException($"endpoint status never matched; last: {last?.ToJsonString()}\n{server.ServerLogTail(40)}");
    }

    public void Dispose()
    {
        _receiver.Dispose();
        _tools.Dispose();
    }
}
