using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// Blob GETs served with <c>sendfile(2)</c> straight to the socket (<c>Registry:Pull:SendFile</c>, on by default) by
/// the real Kestrel server, with real clients: curl and skopeo get byte-exact blobs, ranges are 206 with the right
/// bytes, HEAD and <c>If-None-Match</c> are unchanged, small blobs keep the connection alive, a client that goes
/// away mid-transfer leaves no open file behind, and the access log has the status and the bytes sent. The
/// zero-copy response is recognisable by its <c>Connection: close</c> (the regular path keeps connections alive).
/// </summary>
[Collection(RegistryCollection.Name)]
public sealed class ZeroCopyPullTests(RegistryServerFixture server, ITestOutputHelper output) : IDisposable
{
    private const int LargeBlobBytes = 24 << 20; // above Registry:Pull:SendFileMinimumBytes (1 MiB)
    private readonly ContainerTools _tools = new(server, output);

    [Fact]
    public async Task Curl_gets_a_large_blob_byte_exact_with_every_header_and_the_access_log_counts_it()
    {
        var (repository, blob, digest) = await PushRandomBlobAsync(LargeBlobBytes);
        var result = await CurlAsync($"v2/{repository}/blobs/{digest}", []);

        Assert.Equal("200", result.Status);
        Assert.Equal(digest, Digests.Sha256OfFile(result.BodyPath));
        Assert.Equal(blob.Length, new FileInfo(result.BodyPath).Length);
        var headers = result.Headers;
        Assert.StartsWith("HTTP/1.1 200 OK", result.StatusLine, StringComparison.Ordinal);
        Assert.Equal("close", headers["connection"]);
        Assert.Equal(blob.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), headers["content-length"]);
        Assert.Equal(digest, headers["docker-content-digest"]);
        Assert.Equal($"\"{digest}\"", headers["etag"]);
        Assert.Equal("bytes", headers["accept-ranges"]);
        Assert.Equal("max-age=31536000", headers["cache-control"]);
        Assert.Equal("application/octet-stream", headers["content-type"]);
        Assert.Equal("registry/2.0", headers["docker-distribution-api-version"]);
        Assert.True(DateTimeOffset.TryParse(headers["date"], out _), headers["date"]);
        var requestId = headers["x-request-id"];
        Assert.Matches("^[0-9a-f]{32}$", requestId);

        // One access log line with the request's id, status 200 and every byte of the body.
        var line = await AccessLogLineAsync(requestId);
        Assert.Contains($"GET /v2/{repository}/blobs/{digest} 200 in=0 out={blob.Length} ", line, StringComparison.Ordinal);

        // HTTP/1.0 (nginx's default towards upstreams) takes the same path.
        var http10 = await CurlAsync($"v2/{repository}/blobs/{digest}", ["--http1.0"]);
        Assert.Equal("200", http10.Status);
        Assert.Equal(digest, Digests.Sha256OfFile(http10.BodyPath));
        Assert.Equal(digest, http10.Headers["docker-content-digest"]);
    }

    [Fact]
    public async Task Ranges_are_206_with_the_exact_bytes_through_sendfile()
    {
        var (repository, blob, digest) = await PushRandomBlobAsync(LargeBlobBytes);
        // Mid-blob, past the first 16 MiB send chunk, and a suffix.
        foreach (var (range, start, length) in new[] { ("bytes=1000-3000999", 1000L, 3_000_000L), ("bytes=16777000-20000000", 16_777_000L, 3_223_001L), ("bytes=-2000000", (long)LargeBlobBytes - 2_000_000, 2_000_000L) })
        {
            var result = await CurlAsync($"v2/{repository}/blobs/{digest}", ["-H", $"Range: {range}"]);
            Assert.Equal("206", result.Status);
            Assert.Equal("close", result.Headers["connection"]);
            Assert.Equal($"bytes {start}-{start + length - 1}/{blob.Length}", result.Headers["content-range"]);
            var body = await File.ReadAllBytesAsync(result.BodyPath);
            Assert.Equal(length, body.Length);
            Assert.True(Same(blob[(int)start..(int)(start + length)], body), $"bytes of {range} differ");
            var line = await AccessLogLineAsync(result.Headers["x-request-id"]);
            Assert.Contains($" 206 in=0 out={length} ", line, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Head_conditional_get_and_small_blobs_keep_the_regular_keep_alive_path()
    {
        var (repository, blob, digest) = await PushRandomBlobAsync(LargeBlobBytes);
        using var client = server.CreateHttpClient();

        using (var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"v2/{repository}/blobs/{digest}")))
        {
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
            Assert.Equal(blob.Length, head.Content.Headers.ContentLength);
            Assert.False(head.Headers.ConnectionClose ?? false);
            Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        }

        var conditional = new HttpRequestMessage(HttpMethod.Get, $"v2/{repository}/blobs/{digest}");
        conditional.Headers.IfNoneMatch.Add(new EntityTagHeaderValue($"\"{digest}\""));
        using (var notModified = await client.SendAsync(conditional))
        {
            Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
            Assert.False(notModified.Headers.ConnectionClose ?? false);
        }

        var (smallRepository, small, smallDigest) = await PushRandomBlobAsync(100_000);
        var result = await CurlAsync($"v2/{smallRepository}/blobs/{smallDigest}", []);
        Assert.Equal("200", result.Status);
        Assert.False(result.Headers.ContainsKey("connection"), "a blob under 1 MiB is served by Kestrel, connection kept");
        Assert.Equal(small, await File.ReadAllBytesAsync(result.BodyPath));

        // The large one over a plain HttpClient (SocketsHttpHandler) too: it honours Connection: close.
        using var get = await client.GetAsync($"v2/{repository}/blobs/{digest}");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.True(get.Headers.ConnectionClose);
        Assert.True(Same(blob, await get.Content.ReadAsByteArrayAsync()));
    }

    [Fact]
    public async Task A_client_that_resets_mid_transfer_leaves_no_open_blob_file_and_the_server_keeps_serving()
    {
        var (repository, blob, digest) = await PushRandomBlobAsync(LargeBlobBytes);
        var hex = digest["sha256:".Length..];

        using (var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            socket.ReceiveBufferSize = 64 * 1024; // a small window: the server is still sending when we go
            await socket.ConnectAsync(IPAddress.Loopback, server.Port);
            var credentials = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{server.Username}:{server.Password}"));
            var request = $"GET /v2/{repository}/blobs/{digest} HTTP/1.1\r\nHost: {server.Host}\r\nAuthorization: Basic {credentials}\r\n\r\n";
            await socket.SendAsync(Encoding.ASCII.GetBytes(request));
            var buffer = new byte[64 * 1024];
            int received = 0;
            while (received < 256 * 1024)
            {
                int n = await socket.ReceiveAsync(buffer);
                Assert.True(n > 0, "the server closed before sending 256 KiB");
                if (received == 0) Assert.StartsWith("HTTP/1.1 200 OK", Encoding.ASCII.GetString(buffer, 0, n), StringComparison.Ordinal);
                received += n;
            }
            socket.LingerState = new LingerOption(true, 0); // reset, not a graceful close
        }

        // The transfer ends, the file is closed, and the access log has the status and the bytes that went out.
        var pid = server.ProcessId ?? throw new InvalidOperationException("server not running");
        await EventuallyAsync(() => !OpenFiles(pid).Any(f => f.Contains(hex, StringComparison.Ordinal)),
            () => "the blob file is still open: " + string.Join(", ", OpenFiles(pid)));
        var line = await EventuallyLogAsync(l => l.Contains($"GET /v2/{repository}/blobs/{digest} 200 ", StringComparison.Ordinal));
        var sent = long.Parse(line.Split(" out=")[1].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(sent, 0, blob.Length - 1);

        var again = await CurlAsync($"v2/{repository}/blobs/{digest}", []);
        Assert.Equal("200", again.Status);
        Assert.Equal(digest, Digests.Sha256OfFile(again.BodyPath));
    }

    [Fact]
    public async Task Skopeo_pulls_an_image_with_a_large_layer_byte_exact()
    {
        var repository = server.NewRepository("zero-copy");
        using var client = server.CreateHttpClient();
        // A real gzip layer (of random bytes, so it stays 6 MiB): skopeo copies it as is, no recompression.
        var tar = RandomNumberGenerator.GetBytes(6 << 20);
        var gzipped = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(gzipped, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
            gzip.Write(tar);
        var layer = gzipped.ToArray();
        var layerDigest = await PushBlobAsync(client, repository, layer);
        var config = Encoding.UTF8.GetBytes($$$"""{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["{{{Digests.Sha256(tar)}}}"]}}""");
        var configDigest = await PushBlobAsync(client, repository, config);
        var manifest = Encoding.UTF8.GetBytes($$"""
            {"schemaVersion":2,"mediaType":"{{OciMediaTypes.Manifest}}",
             "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{configDigest}}","size":{{config.Length}}},
             "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{{layerDigest}}","size":{{layer.Length}}}]}
            """);
        var content = new ByteArrayContent(manifest);
        content.Headers.ContentType = new MediaTypeHeaderValue(OciMediaTypes.Manifest);
        using (var put = await client.PutAsync($"v2/{repository}/manifests/v1", content))
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);

        var back = new OciLayout(Path.Combine(_tools.WorkDirectory, "back"));
        await _tools.SkopeoAsync(
            ["copy", "--src-tls-verify=false", .. _tools.Credentials("--src-creds"), $"docker://{server.Host}/{repository}:v1", $"oci:{back.Path}:v1"],
            TimeSpan.FromMinutes(3));
        var (_, layers) = back.ReadManifest(back.ResolveTag("v1").Digest);
        Assert.Equal(layerDigest, Assert.Single(layers).Digest);
        Assert.True(Same(layer, back.ReadBlob(layerDigest)), "the pulled layer differs");
        // skopeo's GET of the layer took the zero-copy path: logged with every byte.
        await EventuallyLogAsync(l => l.Contains($"GET /v2/{repository}/blobs/{layerDigest} 200 in=0 out={layer.Length} ", StringComparison.Ordinal));
    }

    private sealed record CurlResult(string Status, string StatusLine, Dictionary<string, string> Headers, string BodyPath);

    private async Task<CurlResult> CurlAsync(string path, IEnumerable<string> extra)
    {
        var name = Guid.NewGuid().ToString("N")[..8];
        var body = Path.Combine(_tools.WorkDirectory, name + ".body");
        var headerFile = Path.Combine(_tools.WorkDirectory, name + ".headers");
        var result = await ProcessRunner.RunCheckedAsync("curl",
            ["-sS", "--http1.1", "-u", $"{server.Username}:{server.Password}", "-D", headerFile, "-o", body, "-w", "%{http_code}", .. extra, new Uri(server.BaseAddress, path).AbsoluteUri],
            timeout: TimeSpan.FromMinutes(1), log: _tools.Log);
        var lines = (await File.ReadAllTextAsync(headerFile)).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        var headers = lines.Skip(1).Select(l => l.Split(':', 2)).ToDictionary(p => p[0].Trim().ToLowerInvariant(), p => p[1].Trim());
        return new CurlResult(result.StandardOutput.Trim(), lines[0], headers, body);
    }

    private async Task<(string Repository, byte[] Blob, string Digest)> PushRandomBlobAsync(int size)
    {
        var repository = server.NewRepository("blob");
        var blob = RandomNumberGenerator.GetBytes(size);
        using var client = server.CreateHttpClient();
        return (repository, blob, await PushBlobAsync(client, repository, blob));
    }

    private static async Task<string> PushBlobAsync(HttpClient client, string repository, byte[] blob)
    {
        var digest = Digests.Sha256(blob);
        using var start = await client.PostAsync($"v2/{repository}/blobs/uploads/", content: null);
        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
        var location = start.Headers.Location!.OriginalString;
        var separator = location.Contains('?', StringComparison.Ordinal) ? "&" : "?";
        var content = new ByteArrayContent(blob);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var put = await client.PutAsync(location + separator + "digest=" + Uri.EscapeDataString(digest), content);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        return digest;
    }

    private Task<string> AccessLogLineAsync(string requestId) =>
        EventuallyLogAsync(l => l.Contains("Berth.Access", StringComparison.Ordinal) && l.Contains(requestId, StringComparison.Ordinal));

    private async Task<string> EventuallyLogAsync(Func<string, bool> match)
    {
        string? found = null;
        await EventuallyAsync(() => (found = server.ServerLog.Split('\n').LastOrDefault(match)) is not null,
            () => "no matching access log line\n" + server.ServerLogTail());
        return found!;
    }

    private static bool Same(byte[] expected, byte[] actual) => expected.AsSpan().SequenceEqual(actual);

    private static IEnumerable<string> OpenFiles(int pid)
    {
        foreach (var fd in Directory.EnumerateFiles($"/proc/{pid}/fd"))
        {
            string? target = null;
            try
            {
                target = new FileInfo(fd).LinkTarget;
            }
            catch (IOException)
            {
                // closed while listing
            }
            if (target is not null) yield return target;
        }
    }

    private static async Task EventuallyAsync(Func<bool> condition, Func<string> failure)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail(failure());
            await Task.Delay(100);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _tools.Dispose();
}
