using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Berth.Auth;

namespace Berth.Observability.Tests;

public sealed class MetricsAndClockTests
{
    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Fact]
    public async Task Metrics_listener_shows_a_push()
    {
        int port = FreePort();
        int closed = FreePort(); // nothing listens: every notification POST fails
        using var factory = new ObsFactory(new()
        {
            ["Metrics:Urls"] = $"http://127.0.0.1:{port}",
            ["Notifications:Endpoints:0:Name"] = "metrics-sink",
            ["Notifications:Endpoints:0:Url"] = $"http://127.0.0.1:{closed}/events",
            ["Notifications:PollInterval"] = "00:00:00.100",
        });
        var group = await factory.AddGroupAsync("metrics");
        await factory.AddProjectAsync(group, "app", "private");
        var (_, token, _, _) = await factory.RequestTokenAsync("root", ObsFactory.RootPassword, "repository:metrics/app:pull,push");
        await Registry.PushAsync(factory.CreateClient(), "metrics/app", "v1", token!);

        // /metrics is not on the registry's own port.
        using (var own = await factory.CreateClient().GetAsync("/metrics")) Assert.NotEqual(HttpStatusCode.OK, own.StatusCode);

        using var http = new HttpClient();
        var text = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics");
        Assert.Contains("berth_http_requests_total{route=\"/v2/{name}/manifests/{reference}\",method=\"PUT\",status=\"201\"}", text);
        Assert.Contains("berth_http_requests_total{route=\"/v2/{name}/blobs/uploads/{uuid}\",method=\"PATCH\",status=\"202\"}", text);
        Assert.Contains("berth_tokens_issued_total{outcome=\"issued\"}", text);
        Assert.Contains("berth_blob_upload_duration_seconds_count{method=\"PUT\"}", text);
        Assert.Contains("berth_http_request_bytes_total{route=\"/v2/{name}/blobs/uploads/{uuid}\"}", text);
        // storage operations by backend and operation, metadata database commands, notifications
        Assert.Contains("berth_storage_operation_duration_seconds_count{backend=\"filesystem\",operation=\"commit\"}", text);
        Assert.Contains("berth_storage_operation_duration_seconds_count{backend=\"filesystem\",operation=\"write\"}", text);
        Assert.Contains("berth_db_command_duration_seconds_count{kind=\"reader\"}", text);
        Assert.Contains("berth_db_command_duration_seconds_count{kind=\"non_query\"}", text);
        Assert.Contains("berth_notifications_queued_total{action=\"push\"}", text);
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!text.Contains("berth_notification_delivery_failures_total{endpoint=\"metrics-sink\"}") && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            text = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics");
        }
        Assert.Contains("berth_notification_delivery_failures_total{endpoint=\"metrics-sink\"}", text);
        Assert.Contains("berth_notifications_pending{endpoint=\"metrics-sink\"}", text);
    }

    [Fact]
    public async Task Token_from_an_issuer_ten_minutes_ahead_is_refused_as_not_yet_valid_with_both_times()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "berth-obs-tests", Guid.NewGuid().ToString("N"));
        var ahead = new ShiftedClock(TimeSpan.FromMinutes(10));
        string token;
        try
        {
            using (var issuer = new ObsFactory(new(), dataDir) { Clock = ahead, KeepDataDir = true })
            {
                var group = await issuer.AddGroupAsync("skew");
                await issuer.AddProjectAsync(group, "app", "public");
                var (status, issued, _, body) = await issuer.RequestTokenAsync("root", ObsFactory.RootPassword, "repository:skew/app:pull");
                Assert.True(status == 200, body);
                token = issued!;
            }
            using var registry = new ObsFactory(new(), dataDir);
            using var request = new HttpRequestMessage(HttpMethod.Get, "/v2/skew/app/tags/list");
            request.Headers.Authorization = new("Bearer", token);
            using var response = await registry.CreateClient().SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.Equal(401, (int)response.StatusCode);
            var error = JsonDocument.Parse(text).RootElement.GetProperty("errors")[0];
            var message = error.GetProperty("message").GetString()!;
            Assert.Contains("not valid yet", message);
            var nbf = DateTimeOffset.FromUnixTimeSeconds(ObsFactory.DecodePayload(token).GetProperty("nbf").GetInt64()).UtcDateTime;
            Assert.Contains(nbf.ToString("yyyy-MM-ddTHH:mm:ssZ"), message);
            Assert.Matches(@"registry's clock says \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", message);
            Assert.Equal("access policy", error.GetProperty("detail").GetProperty("component").GetString());
        }
        finally
        {
            try { Directory.Delete(dataDir, true); } catch (IOException) { }
        }
    }

    private sealed class ShiftedClock(TimeSpan offset) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + offset;
    }
}
