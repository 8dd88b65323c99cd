using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Berth.ScaleOut.Tests.Infrastructure;

namespace Berth.ScaleOut.Tests;

/// <summary>
/// Two Berth replicas sharing PostgreSQL and S3 (moto) behind nginx round-robin: podman signs in, pushes and pulls
/// through nginx; a chunked upload whose chunks alternate between the replicas (each PATCH sent to one replica's own
/// port, on the same upload session Location) becomes one verified blob; a token from one replica is accepted by the
/// other; and a replica killed in the middle of a push leaves an upload the other replica resumes to success.
/// </summary>
[Collection(ScaleOutCollection.Name)]
public sealed class ScaleOutTests(ScaleOutFixture fixture, ITestOutputHelper output)
{
    private const int MiB = 1024 * 1024;

    private static string Repository(string image) => $"{ScaleOutFixture.Project}/{image}-{Guid.NewGuid().ToString("N")[..8]}";

    private static string Scope(string repository) => $"repository:{repository}:pull,push";

    [Fact]
    public async Task Podman_logs_in_pushes_and_pulls_through_the_load_balancer()
    {
        using var podman = new Podman(output);
        var host = fixture.LoadBalancer.Host;
        await podman.RunAsync("login", "--tls-verify=false", "-u", "root", "-p", fixture.RootPassword, host);

        var context = Path.Combine(podman.WorkDirectory, "context");
        Directory.CreateDirectory(context);
        await File.WriteAllBytesAsync(Path.Combine(context, "random.bin"), RandomNumberGenerator.GetBytes(7 * MiB)); // one layer past S3's 5 MiB part size
        await File.WriteAllTextAsync(Path.Combine(context, "hello.txt"), $"hello from the scale-out test {Guid.NewGuid()}\n");
        await File.WriteAllTextAsync(Path.Combine(context, "Containerfile"), "FROM scratch\nCOPY random.bin /random.bin\nCOPY hello.txt /hello.txt\n");
        var image = $"{host}/{Repository("podman")}:v1";
        await podman.RunAsync("build", "--isolation", "chroot", "--signature-policy", podman.PolicyPath, "-f", Path.Combine(context, "Containerfile"), "-t", image, context);
        var builtId = (await podman.RunAsync("image", "inspect", "--format", "{{.Id}}", image)).Trim();
        await podman.RunAsync("push", "--tls-verify=false", "--signature-policy", podman.PolicyPath, image);
        await podman.RunAsync("rmi", image);
        await podman.RunAsync("pull", "--tls-verify=false", "--signature-policy", podman.PolicyPath, image);
        Assert.Equal(builtId, (await podman.RunAsync("image", "inspect", "--format", "{{.Id}}", image)).Trim());

        // Round-robin really spread the requests: both replicas served some of them.
        var log = fixture.LoadBalancer.AccessLog;
        foreach (var replica in fixture.Replicas)
            Assert.True(log.Contains($"upstream=127.0.0.1:{replica.Port}", StringComparison.Ordinal), $"{replica.Name} served nothing\n{fixture.Logs()}");
    }

    [Fact]
    public async Task Chunks_alternating_between_replicas_make_one_verified_blob_with_a_token_from_either()
    {
        var repository = Repository("chunked");
        var (a, b) = (fixture.Replicas[0], fixture.Replicas[1]);
        // A token issued by replica A, used on both replicas.
        var token = await fixture.TokenAsync(a.BaseAddress, Scope(repository));
        using var clientA = fixture.Client(a.BaseAddress, token);
        using var clientB = fixture.Client(b.BaseAddress, token);
        HttpClient[] clients = [clientA, clientB];

        var content = RandomNumberGenerator.GetBytes(11 * MiB + 12_345);
        int[] chunkSizes = [6 * MiB, 1 * MiB, 300_000, 2 * MiB]; // around S3's 5 MiB part minimum; the PUT brings the rest
        using var start = await clientA.PostAsync($"v2/{repository}/blobs/uploads/", null);
        Assert.True(start.StatusCode == HttpStatusCode.Accepted, $"{start.StatusCode} {await start.Content.ReadAsStringAsync()}\n{fixture.Logs()}");
        var location = start.Headers.Location!.ToString();
        long offset = 0;
        for (int i = 0; i < chunkSizes.Length; i++)
        {
            var client = clients[i % 2];
            using var request = new HttpRequestMessage(HttpMethod.Patch, location) { Content = new ByteArrayContent(content, (int)offset, chunkSizes[i]) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            request.Content.Headers.TryAddWithoutValidation("Content-Range", $"{offset}-{offset + chunkSizes[i] - 1}");
            using var response = await client.SendAsync(request);
            Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"chunk {i} on {(i % 2 == 0 ? "A" : "B")}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}\n{fixture.Logs()}");
            offset += chunkSizes[i];
            Assert.Equal($"0-{offset - 1}", response.Headers.GetValues("Range").Single());
            location = response.Headers.Location!.ToString();
        }
        // Out of order: the other replica knows the size too.
        using (var wrong = new HttpRequestMessage(HttpMethod.Patch, location) { Content = new ByteArrayContent([1, 2, 3]) })
        {
            wrong.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            wrong.Content.Headers.TryAddWithoutValidation("Content-Range", "0-2");
            using var refused = await clientA.SendAsync(wrong);
            Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, refused.StatusCode);
            Assert.Equal($"0-{offset - 1}", refused.Headers.GetValues("Range").Single());
        }
        var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));
        var separator = location.Contains('?', StringComparison.Ordinal) ? "&" : "?";
        using (var put = new HttpRequestMessage(HttpMethod.Put, $"{location}{separator}digest={digest}") { Content = new ByteArrayContent(content, (int)offset, content.Length - (int)offset) })
        {
            put.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            using var done = await clientB.SendAsync(put);
            Assert.True(done.StatusCode == HttpStatusCode.Created, $"{done.StatusCode} {await done.Content.ReadAsStringAsync()}\n{fixture.Logs()}");
        }

        // Pulled through nginx (both replicas in turn), with a token issued by replica B.
        var tokenB = await fixture.TokenAsync(b.BaseAddress, Scope(repository));
        using var viaNginx = fixture.Client(fixture.LoadBalancer.BaseAddress, tokenB);
        for (int i = 0; i < 2; i++)
        {
            using var get = await viaNginx.GetAsync($"v2/{repository}/blobs/{digest}");
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
            Assert.Equal(SHA256.HashData(content), SHA256.HashData(await get.Content.ReadAsByteArrayAsync()));
        }
        using var ranged = new HttpRequestMessage(HttpMethod.Get, $"v2/{repository}/blobs/{digest}");
        ranged.Headers.Range = new RangeHeaderValue(6 * MiB, 6 * MiB + 99);
        using var part = await fixture.Client(a.BaseAddress, tokenB).SendAsync(ranged);
        Assert.Equal(HttpStatusCode.PartialContent, part.StatusCode);
        Assert.Equal(content.AsSpan(6 * MiB, 100).ToArray(), await part.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task A_replica_killed_mid_push_leaves_an_upload_the_other_replica_finishes()
    {
        var repository = Repository("killed");
        var (a, b) = (fixture.Replicas[0], fixture.Replicas[1]);
        try
        {
            var token = await fixture.TokenAsync(b.BaseAddress, Scope(repository));
            using var clientA = fixture.Client(a.BaseAddress, token);
            var content = RandomNumberGenerator.GetBytes(16 * MiB);
            using var start = await clientA.PostAsync($"v2/{repository}/blobs/uploads/", null);
            Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
            var location = start.Headers.Location!.ToString();
            const int first = 6 * MiB;
            using (var chunk = new HttpRequestMessage(HttpMethod.Patch, location) { Content = new ByteArrayContent(content, 0, first) })
            {
                chunk.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                using var accepted = await clientA.SendAsync(chunk);
                Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
            }

            // The next chunk is cut off: replica A dies while it streams in.
            var halfway = new TaskCompletionSource();
            using (var dying = new HttpRequestMessage(HttpMethod.Patch, location) { Content = new SlowContent(content, first, content.Length - first, 5 * MiB, halfway) })
            {
                dying.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                var send = clientA.SendAsync(dying);
                await halfway.Task.WaitAsync(TimeSpan.FromSeconds(60));
                await a.KillAsync();
                await Assert.ThrowsAnyAsync<Exception>(async () =>
                {
                    using var r = await send;
                    r.EnsureSuccessStatusCode();
                });
            }

            // The client retries through the load balancer: it reaches replica B, which reports what is stored.
            using var retry = fixture.Client(fixture.LoadBalancer.BaseAddress, token);
            using var status = await retry.GetAsync(location);
            Assert.True(status.StatusCode == HttpStatusCode.NoContent, $"{status.StatusCode} {await status.Content.ReadAsStringAsync()}\n{fixture.Logs()}");
            var range = status.Headers.GetValues("Range").Single();
            long stored = long.Parse(range.Split('-')[1], System.Globalization.CultureInfo.InvariantCulture) + 1;
            output.WriteLine($"after the kill the session holds {stored} bytes (Range {range})");
            Assert.InRange(stored, first, content.Length);

            var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));
            using (var rest = new HttpRequestMessage(HttpMethod.Patch, location) { Content = new ByteArrayContent(content, (int)stored, content.Length - (int)stored) })
            {
                rest.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                rest.Content.Headers.TryAddWithoutValidation("Content-Range", $"{stored}-{content.Length - 1}");
                using var accepted = await retry.SendAsync(rest);
                Assert.True(accepted.StatusCode == HttpStatusCode.Accepted, $"{accepted.StatusCode} {await accepted.Content.ReadAsStringAsync()}\n{fixture.Logs()}");
                location = accepted.Headers.Location!.ToString();
            }
            var separator = location.Contains('?', StringComparison.Ordinal) ? "&" : "?";
            using (var put = new HttpRequestMessage(HttpMethod.Put, $"{location}{separator}digest={digest}"))
            {
                using var created = await retry.SendAsync(put);
                Assert.True(created.StatusCode == HttpStatusCode.Created, $"{created.StatusCode} {await created.Content.ReadAsStringAsync()}\n{fixture.Logs()}");
            }
            using var get = await retry.GetAsync($"v2/{repository}/blobs/{digest}");
            Assert.Equal(SHA256.HashData(content), SHA256.HashData(await get.Content.ReadAsByteArrayAsync()));

            // And a whole image push through nginx succeeds with one replica down.
            using var podman = new Podman(output);
            var context = Path.Combine(podman.WorkDirectory, "context");
            Directory.CreateDirectory(context);
            await File.WriteAllTextAsync(Path.Combine(context, "hello.txt"), $"pushed while replica A is down {Guid.NewGuid()}\n");
            await File.WriteAllTextAsync(Path.Combine(context, "Containerfile"), "FROM scratch\nCOPY hello.txt /hello.txt\n");
            var image = $"{fixture.LoadBalancer.Host}/{repository}:after-kill";
            await podman.RunAsync("build", "--isolation", "chroot", "--signature-policy", podman.PolicyPath, "-f", Path.Combine(context, "Containerfile"), "-t", image, context);
            await podman.RunAsync("push", "--tls-verify=false", "--signature-policy", podman.PolicyPath, "--creds", "root:" + fixture.RootPassword, image);
        }
        finally
        {
            if (!a.IsRunning) await a.StartAsync();
        }
    }

    [Fact]
    public async Task Every_replica_is_ready_and_says_which_backends_it_checked()
    {
        foreach (var replica in fixture.Replicas)
        {
            using var client = fixture.Client(replica.BaseAddress);
            using var response = await client.GetAsync("-/health/ready");
            var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("ready", body["status"]!.GetValue<string>());
            var checks = body["checks"]!.AsArray().ToDictionary(c => c!["name"]!.GetValue<string>(), c => c!["detail"]!.GetValue<string>());
            Assert.Equal("PostgreSQL", checks["database"]);
            Assert.Equal("s3", checks["storage"]);
        }
    }

    [Fact]
    public async Task A_tag_moved_or_deleted_through_one_replica_is_served_by_the_other_within_the_read_cache_lifetime()
    {
        // The replicas run with the default Registry:ReadCacheSeconds = 1: replica B may serve what it remembered for
        // at most a second after replica A's write; replica A serves its own write at once.
        var repository = Repository("cached");
        var (a, b) = (fixture.Replicas[0], fixture.Replicas[1]);
        var token = await fixture.TokenAsync(a.BaseAddress, Scope(repository) + ",delete");
        using var clientA = fixture.Client(a.BaseAddress, token);
        using var clientB = fixture.Client(b.BaseAddress, token);

        async Task<string> PushAsync(string tag)
        {
            var config = Encoding.UTF8.GetBytes($$"""{"architecture":"amd64","os":"linux","created":"{{Guid.NewGuid()}}"}""");
            var configDigest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(config));
            using (var blob = await clientA.PostAsync($"v2/{repository}/blobs/uploads/?digest={configDigest}", new ByteArrayContent(config)))
                Assert.True(blob.StatusCode == HttpStatusCode.Created, $"{blob.StatusCode} {await blob.Content.ReadAsStringAsync()}\n{fixture.Logs()}");
            var manifest = Encoding.UTF8.GetBytes($$"""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{configDigest}}","size":{{config.Length}}},"layers":[]}""");
            using var content = new ByteArrayContent(manifest);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/vnd.oci.image.manifest.v1+json");
            using var put = await clientA.PutAsync($"v2/{repository}/manifests/{tag}", content);
            Assert.True(put.StatusCode == HttpStatusCode.Created, $"{put.StatusCode} {await put.Content.ReadAsStringAsync()}\n{fixture.Logs()}");
            return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(manifest));
        }

        static async Task<string?> ServedAsync(HttpClient client, string path)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Accept.ParseAdd("application/vnd.oci.image.manifest.v1+json");
            using var response = await client.SendAsync(request);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                Assert.Contains("MANIFEST_UNKNOWN", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
                return null;
            }
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return response.Headers.GetValues("Docker-Content-Digest").Single();
        }

        // Polls replica B until it serves what replica A wrote; fails when that takes longer than the bound plus slack
        // for a busy test machine.
        async Task<TimeSpan> ConvergesAsync(string path, string? expected)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (await ServedAsync(clientB, path) != expected)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1 + 4), $"replica B still serves the old answer for {path} after {clock.Elapsed}\n{fixture.Logs()}");
                await Task.Delay(50);
            }
            return clock.Elapsed;
        }

        var first = await PushAsync("moving");
        Assert.Equal(first, await ServedAsync(clientB, $"v2/{repository}/manifests/moving"));
        Assert.Equal(first, await ServedAsync(clientB, $"v2/{repository}/manifests/moving")); // remembered by B now

        var second = await PushAsync("moving");
        Assert.Equal(second, await ServedAsync(clientA, $"v2/{repository}/manifests/moving")); // A: its own write, at once
        output.WriteLine($"moved tag served by B after {await ConvergesAsync($"v2/{repository}/manifests/moving", second)}");

        using (var delete = await clientA.DeleteAsync($"v2/{repository}/manifests/moving"))
            Assert.True(delete.StatusCode == HttpStatusCode.Accepted, $"{delete.StatusCode} {await delete.Content.ReadAsStringAsync()}");
        Assert.Null(await ServedAsync(clientA, $"v2/{repository}/manifests/moving"));
        output.WriteLine($"deleted tag answered 404 by B after {await ConvergesAsync($"v2/{repository}/manifests/moving", null)}");
    }

    /// <summary>Sends a slice of a buffer in pieces with pauses; signals once <paramref name="signalAfter"/> bytes are out.</summary>
    private sealed class SlowContent(byte[] buffer, int offset, int count, int signalAfter, TaskCompletionSource signal) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            int sent = 0;
            while (sent < count)
            {
                int n = Math.Min(256 * 1024, count - sent);
                await stream.WriteAsync(buffer.AsMemory(offset + sent, n));
                await stream.FlushAsync();
                sent += n;
                if (sent >= signalAfter) signal.TrySetResult();
                await Task.Delay(sent >= signalAfter ? 200 : 5);
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = count;
            return true;
        }
    }
}
