using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// Upload bodies through the real server's sockets (Kestrel, its 64 KiB receive blocks, bodies hashed and written
/// straight from the request pipe): multi-MiB chunks keep every byte; a PATCH cut off mid-body leaves the session
/// resumable from the size it reports and no blob at the digest; bytes beyond a body's Content-Length are not stored.
/// </summary>
[Collection(RegistryCollection.Name)]
public sealed class UploadBodyOverSocketTests(RegistryServerFixture server)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task Chunks_of_several_MiB_and_a_monolithic_push_keep_every_byte()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var ct = timeout.Token;
        using var client = server.CreateHttpClient();
        var repository = server.NewRepository("socket-body");

        // Chunked: odd sizes, so reads end mid-block; the last chunk comes with the closing PUT.
        var blob = RandomNumberGenerator.GetBytes(5 * 1024 * 1024 + 1 + 3 * 1024 * 1024 + 2 + 1024 * 1024 + 3);
        var digest = Digests.Sha256(blob);
        var location = await StartAsync(client, repository, ct);
        int offset = 0;
        foreach (var size in new[] { 5 * 1024 * 1024 + 1, 3 * 1024 * 1024 + 2 })
        {
            using var patch = await SendChunkAsync(client, HttpMethod.Patch, location, blob, offset, size, ct);
            Assert.Equal(HttpStatusCode.Accepted, patch.StatusCode);
            offset += size;
            Assert.Equal($"0-{offset - 1}", patch.Headers.GetValues("Range").Single());
            location = patch.Headers.Location!;
        }
        using (var put = await SendChunkAsync(client, HttpMethod.Put, WithDigest(location, digest), blob, offset, blob.Length - offset, ct))
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal(blob, await GetBlobAsync(client, repository, digest, ct));

        // Monolithic POST ?digest= of another blob.
        var single = RandomNumberGenerator.GetBytes(6 * 1024 * 1024 + 7);
        var singleDigest = Digests.Sha256(single);
        using (var post = await client.PostAsync($"v2/{repository}/blobs/uploads/?digest={singleDigest}", new ByteArrayContent(single), ct))
            Assert.Equal(HttpStatusCode.Created, post.StatusCode);
        Assert.Equal(single, await GetBlobAsync(client, repository, singleDigest, ct));
    }

    [Fact]
    public async Task A_PATCH_cut_off_mid_body_leaves_the_session_resumable_and_no_blob()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var ct = timeout.Token;
        using var client = server.CreateHttpClient();
        var repository = server.NewRepository("socket-abort");
        var blob = RandomNumberGenerator.GetBytes(4 * 1024 * 1024 + 99);
        var digest = Digests.Sha256(blob);
        var location = await StartAsync(client, repository, ct);

        // Announce the whole blob, send 2.5 MiB of it, then close the connection.
        using (var socket = await ConnectAsync(ct))
        {
            await socket.SendAsync(Head("PATCH", location.OriginalString, blob.Length, $"Content-Range: 0-{blob.Length - 1}"), ct);
            await socket.SendAsync(blob.AsMemory(0, 5 * 512 * 1024), ct);
        }

        // The server keeps what it wrote: wait until the session's size stops changing, then resume from there.
        long size = await SettledSizeAsync(client, location, ct);
        Assert.InRange(size, 0, 5 * 512 * 1024);
        using (var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"v2/{repository}/blobs/{digest}"), ct))
            Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);

        using (var wrong = await SendChunkAsync(client, HttpMethod.Patch, location, blob, (int)size + 1, 10, ct))
            Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, wrong.StatusCode);
        using (var rest = await SendChunkAsync(client, HttpMethod.Patch, location, blob, (int)size, blob.Length - (int)size, ct))
        {
            Assert.Equal(HttpStatusCode.Accepted, rest.StatusCode);
            location = rest.Headers.Location!;
        }
        using (var put = await client.PutAsync(WithDigest(location, digest), new ByteArrayContent([]), ct))
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal(blob, await GetBlobAsync(client, repository, digest, ct));
    }

    [Fact]
    public async Task Bytes_beyond_the_Content_Length_are_not_stored()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var ct = timeout.Token;
        using var client = server.CreateHttpClient();
        var repository = server.NewRepository("socket-extra");
        var blob = RandomNumberGenerator.GetBytes(300_000);
        var location = await StartAsync(client, repository, ct);

        using (var socket = await ConnectAsync(ct))
        {
            await socket.SendAsync(Head("PATCH", location.OriginalString, blob.Length, $"Content-Range: 0-{blob.Length - 1}"), ct);
            await socket.SendAsync(blob, ct);
            await socket.SendAsync(RandomNumberGenerator.GetBytes(70_000), ct); // not part of the request
            var response = await ReadHeadAsync(socket, ct);
            Assert.StartsWith("HTTP/1.1 202", response, StringComparison.Ordinal);
            Assert.Contains($"Range: 0-{blob.Length - 1}\r\n", response, StringComparison.OrdinalIgnoreCase);
        }

        Assert.Equal(blob.Length, await SettledSizeAsync(client, location, ct));
        var digest = Digests.Sha256(blob);
        using (var put = await client.PutAsync(WithDigest(location, digest), new ByteArrayContent([]), ct))
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal(blob, await GetBlobAsync(client, repository, digest, ct));
    }

    private static async Task<Uri> StartAsync(HttpClient client, string repository, CancellationToken ct)
    {
        using var start = await client.PostAsync($"v2/{repository}/blobs/uploads/", content: null, ct);
        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
        return start.Headers.Location!;
    }

    private static async Task<HttpResponseMessage> SendChunkAsync(HttpClient client, HttpMethod method, Uri location, byte[] blob, int offset, int count, CancellationToken ct)
    {
        var content = new ByteArrayContent(blob, offset, count);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        content.Headers.TryAddWithoutValidation("Content-Range", $"{offset}-{offset + count - 1}");
        using var request = new HttpRequestMessage(method, location) { Content = content };
        return await client.SendAsync(request, ct);
    }

    private static Uri WithDigest(Uri location, string digest)
    {
        var separator = location.OriginalString.Contains('?', StringComparison.Ordinal) ? "&" : "?";
        return new Uri(location.OriginalString + separator + "digest=" + Uri.EscapeDataString(digest), UriKind.RelativeOrAbsolute);
    }

    private static async Task<byte[]> GetBlobAsync(HttpClient client, string repository, string digest, CancellationToken ct)
    {
        using var get = await client.GetAsync($"v2/{repository}/blobs/{digest}", ct);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        return await get.Content.ReadAsByteArrayAsync(ct);
    }

    /// <summary>The session's size once two status answers 300 ms apart agree (the server may still be writing what it
    /// received before the connection went).</summary>
    private static async Task<long> SettledSizeAsync(HttpClient client, Uri location, CancellationToken ct)
    {
        long previous = -1;
        for (int attempt = 0; attempt < 50; attempt++)
        {
            using var status = await client.GetAsync(location, ct);
            Assert.Equal(HttpStatusCode.NoContent, status.StatusCode);
            var range = status.Headers.GetValues("Range").Single();
            long size = range == "0-0" ? 0 : long.Parse(range[2..]) + 1;
            if (size == previous) return size;
            previous = size;
            await Task.Delay(300, ct);
        }
        throw new TimeoutException("the upload session's size kept changing");
    }

    private async Task<Socket> ConnectAsync(CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, server.Port, ct);
        return socket;
    }

    private byte[] Head(string method, string target, long contentLength, string extraHeader)
    {
        var head = new StringBuilder()
            .Append($"{method} {target} HTTP/1.1\r\nHost: {server.Host}\r\n")
            .Append("Content-Type: application/octet-stream\r\n")
            .Append($"Content-Length: {contentLength}\r\n{extraHeader}\r\n");
        if (server.HasCredentials)
            head.Append("Authorization: Basic ").Append(Convert.ToBase64String(Encoding.UTF8.GetBytes($"{server.Username}:{server.Password}"))).Append("\r\n");
        return Encoding.ASCII.GetBytes(head.Append("\r\n").ToString());
    }

    private static async Task<string> ReadHeadAsync(Socket socket, CancellationToken ct)
    {
        var received = new List<byte>();
        var buffer = new byte[4096];
        while (true)
        {
            int n = await socket.ReceiveAsync(buffer, ct);
            if (n == 0) break;
            received.AddRange(buffer.AsSpan(0, n));
            var text = Encoding.ASCII.GetString(received.ToArray());
            if (text.Contains("\r\n\r\n", StringComparison.Ordinal)) return text;
        }
        return Encoding.ASCII.GetString(received.ToArray());
    }
}
