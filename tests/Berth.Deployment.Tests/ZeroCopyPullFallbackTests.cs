using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Berth.Deployment.Tests.Infrastructure;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.Deployment.Tests;

/// <summary>
/// Where the zero-copy blob GET (<c>Registry:Pull:SendFile</c>, docs/performance.md) does not apply, the regular
/// Kestrel path serves the blob, byte-exact and with the connection kept: over HTTPS (HTTP/2 and HTTP/1.1, the
/// socket carries TLS records) and with the switch off. The zero-copy response is the one with
/// <c>Connection: close</c>; these have none.
/// </summary>
public sealed class ZeroCopyPullFallbackTests(ITestOutputHelper output)
{
    private const int BlobBytes = 8 << 20; // above Registry:Pull:SendFileMinimumBytes (1 MiB)

    [Fact]
    public async Task Https_pulls_over_http2_and_http11_take_the_regular_path_byte_exact()
    {
        await using var server = await BerthServer.StartAsync(output, "https", ["--tls-self-signed", "--Auth:Mode", "none"]);
        var ca = Path.Combine(server.DataDir, "tls", "ca.crt");
        await WaitForFileAsync(ca);
        using var caCertificate = X509CertificateLoader.LoadCertificateFromFile(ca);
        var trust = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        trust.CustomTrustStore.Add(caCertificate);
        using var client = TlsProbe.Client(server.BaseAddress, trust);
        var (path, blob) = await PushAsync(client);

        foreach (var (option, version) in new[] { ("--http2", "2"), ("--http1.1", "1.1") })
        {
            using var work = new TempDirectory("zero-copy-tls");
            var (status, headers, body) = await CurlAsync(work, new Uri(server.BaseAddress, path), ["--cacert", ca, option]);
            Assert.Equal($"200 {version}", status);
            Assert.False(headers.Contains("connection: close", StringComparison.OrdinalIgnoreCase), headers);
            Assert.True(Same(blob, body), $"HTTP/{version} over TLS: the bytes differ");
        }
    }

    [Fact]
    public async Task With_the_switch_off_a_cleartext_pull_takes_the_regular_path_byte_exact()
    {
        await using var server = await BerthServer.StartAsync(output, "http", ["--Auth:Mode", "none", "--Registry:Pull:SendFile", "false"]);
        using var client = new HttpClient { BaseAddress = server.BaseAddress };
        var (path, blob) = await PushAsync(client);

        using var work = new TempDirectory("zero-copy-off");
        var (status, headers, body) = await CurlAsync(work, new Uri(server.BaseAddress, path), []);
        Assert.Equal("200 1.1", status);
        Assert.False(headers.Contains("connection: close", StringComparison.OrdinalIgnoreCase), headers);
        Assert.True(Same(blob, body), "the bytes differ");

        using var get = await client.GetAsync(path);
        Assert.False(get.Headers.ConnectionClose ?? false);
        Assert.True(Same(blob, await get.Content.ReadAsByteArrayAsync()));
    }

    [Fact]
    public async Task The_minimum_size_is_honoured_and_a_negative_one_stops_the_start()
    {
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            BerthServer.StartAsync(output, "http", ["--Auth:Mode", "none", "--Registry:Pull:SendFileMinimumBytes", "-1"]));
        Assert.Contains("Registry:Pull:SendFileMinimumBytes is -1", refused.Message, StringComparison.Ordinal);

        // Minimum 0: even a 1000-byte blob is written with sendfile (Connection: close).
        await using var server = await BerthServer.StartAsync(output, "http", ["--Auth:Mode", "none", "--Registry:Pull:SendFileMinimumBytes", "0"]);
        using var client = new HttpClient { BaseAddress = server.BaseAddress };
        var (path, blob) = await PushAsync(client, 1000);
        using var work = new TempDirectory("zero-copy-min");
        var (status, headers, body) = await CurlAsync(work, new Uri(server.BaseAddress, path), []);
        Assert.Equal("200 1.1", status);
        Assert.Contains("connection: close", headers, StringComparison.OrdinalIgnoreCase);
        Assert.True(Same(blob, body), "the bytes differ");
    }

    private static async Task<(string Path, byte[] Blob)> PushAsync(HttpClient client, int size = BlobBytes)
    {
        var repository = $"zc{Guid.NewGuid():N}"[..10] + "/app";
        var blob = RandomNumberGenerator.GetBytes(size);
        var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(blob));
        using var start = await client.PostAsync($"v2/{repository}/blobs/uploads/", content: null);
        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
        var location = start.Headers.Location!.OriginalString;
        var content = new ByteArrayContent(blob);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var put = await client.PutAsync(location + (location.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "digest=" + Uri.EscapeDataString(digest), content);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        return ($"v2/{repository}/blobs/{digest}", blob);
    }

    private async Task<(string Status, string Headers, byte[] Body)> CurlAsync(TempDirectory work, Uri url, IEnumerable<string> extra)
    {
        var body = work.Combine("body");
        var headers = work.Combine("headers");
        var result = await ProcessRunner.RunCheckedAsync("curl", ["-sS", "-D", headers, "-o", body, "-w", "%{http_code} %{http_version}", .. extra, url.AbsoluteUri],
            timeout: TimeSpan.FromMinutes(1), log: output.WriteLine);
        return (result.StandardOutput.Trim(), await File.ReadAllTextAsync(headers), await File.ReadAllBytesAsync(body));
    }

    private static bool Same(byte[] expected, byte[] actual) => expected.AsSpan().SequenceEqual(actual);

    private static async Task WaitForFileAsync(string path)
    {
        for (int i = 0; i < 100 && !File.Exists(path); i++) await Task.Delay(100);
        Assert.True(File.Exists(path), path + " was not written");
    }
}
