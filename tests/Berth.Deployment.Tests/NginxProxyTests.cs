using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Berth.Deployment.Tests.Infrastructure;
using Berth.EndToEnd.Tests.Infrastructure;
using Berth.Server.Hosting;

namespace Berth.Deployment.Tests;

/// <summary>
/// Berth behind nginx configured exactly as docs/reverse-proxy.md shows (TLS at nginx, plain HTTP to Berth on
/// loopback), with <c>ExternalUrl</c> set to the proxy: a 1 GiB image is pushed through the proxy in four
/// 256 MiB chunks (no body-size limit, no request buffering, long timeouts), read back whole, and every URL
/// Berth hands out — the token realm, each <c>Location</c> header, API pagination links — points at the
/// proxy's address.
/// </summary>
public sealed class NginxProxyTests(ITestOutputHelper output)
{
    private const long LayerSize = 1L << 30;
    private const long ChunkSize = 256L << 20;

    [Fact]
    public async Task Push_of_a_1_GiB_image_through_nginx_returns_only_proxy_urls()
    {
        using var pki = new TestPki("nginx");
        using var tls = new TempDirectory("deploy-nginx-tls");
        using var proxyCertificate = pki.IssueServer("127.0.0.1", "localhost");
        var (certificate, key) = pki.WritePem(proxyCertificate, tls.Path);

        var proxyPort = Repository.FreePort();
        var external = new Uri($"https://127.0.0.1:{proxyPort}/");
        await using var berth = await BerthServer.StartAsync(output, "http",
            ["--ExternalUrl", external.GetLeftPart(UriPartial.Authority), "--Proxy:TrustedProxies", "127.0.0.1"]);
        await using var nginx = await Nginx.StartAsync(output, proxyPort, berth.Port, "127.0.0.1", certificate, key);
        using var client = TlsProbe.Client(external, pki.TrustRootOnly());
        var urls = new List<(string What, string Url)>();

        // The challenge names the realm at the proxy.
        using (var challenge = await client.GetAsync("/v2/"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, challenge.StatusCode);
            Assert.StartsWith(BerthVersion.Current.Split('+')[0], Assert.Single(challenge.Headers.GetValues(BerthVersion.Header)), StringComparison.Ordinal);
            var parameters = RegistryApi.ParseChallenge(challenge);
            Assert.Equal(new Uri(external, "/jwt/auth").ToString(), parameters["realm"]);
            urls.Add(("realm", parameters["realm"]));

            var apiToken = await RegistryApi.RootApiTokenAsync(client);
            var repository = await RegistryApi.CreateProjectAsync(client, apiToken, $"proxy-{Guid.NewGuid():N}"[..14], "big");
            await RegistryApi.CreateProjectAsync(client, apiToken, $"proxy-{Guid.NewGuid():N}"[..14], "other");
            using (var page = new HttpRequestMessage(HttpMethod.Get, "/api/v4/projects?per_page=1"))
            {
                page.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiToken);
                using var pageResponse = await client.SendAsync(page);
                Assert.Equal(HttpStatusCode.OK, pageResponse.StatusCode);
                foreach (var link in pageResponse.Headers.GetValues("Link").SelectMany(v => v.Split(',')))
                    urls.Add(("api link", link.Trim().Split('>')[0].TrimStart('<')));
            }

            var token = await RegistryApi.RegistryTokenAsync(client, parameters, $"repository:{repository}:pull,push");
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            await PushAndPullAsync(client, external, repository, urls);
        }

        output.WriteLine(string.Join('\n', urls.Select(u => $"{u.What}: {u.Url}")));
        Assert.True(urls.Count(u => u.What.StartsWith("Location", StringComparison.Ordinal)) >= 8, "expected a Location header on every upload step");
        foreach (var (what, url) in urls)
        {
            // Relative Locations resolve against the address the client used: the proxy's.
            var resolved = new Uri(external, url);
            Assert.True(resolved.Scheme == "https" && resolved.Authority == external.Authority,
                $"{what} '{url}' does not point at the proxy {external.Authority}");
        }
        Assert.DoesNotContain($":{berth.Port}", string.Join('\n', urls.Select(u => u.Url)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_reverse_proxy_guide_shows_the_tested_nginx_config_verbatim()
    {
        var documented = await File.ReadAllTextAsync(Path.Combine(Repository.Root, "docs", "reverse-proxy.md"));
        var tested = await File.ReadAllTextAsync(Nginx.DocumentedConfigPath);
        Assert.Contains("```nginx\n" + tested + "```", documented, StringComparison.Ordinal);
    }

    private async Task PushAndPullAsync(HttpClient client, Uri external, string repository, List<(string What, string Url)> urls)
    {
        var clock = Stopwatch.StartNew();
        using var layerHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        using var start = await client.PostAsync($"/v2/{repository}/blobs/uploads/", null);
        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
        var location = Location(start, "Location (start upload)", urls);
        for (long offset = 0; offset < LayerSize; offset += ChunkSize)
        {
            using var patch = new HttpRequestMessage(HttpMethod.Patch, new Uri(external, location))
            {
                Content = new GeneratedContent(offset, ChunkSize, layerHash),
            };
            patch.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            patch.Content.Headers.TryAddWithoutValidation("Content-Range", $"{offset}-{offset + ChunkSize - 1}");
            using var patched = await client.SendAsync(patch);
            Assert.True(patched.StatusCode == HttpStatusCode.Accepted, $"PATCH at {offset}: {(int)patched.StatusCode} {await patched.Content.ReadAsStringAsync()}");
            Assert.Equal($"0-{offset + ChunkSize - 1}", patched.Headers.GetValues("Range").Single());
            location = Location(patched, $"Location (chunk at {offset / ChunkSize})", urls);
        }
        var layerDigest = "sha256:" + Convert.ToHexStringLower(layerHash.GetHashAndReset());
        var separator = location.Contains('?', StringComparison.Ordinal) ? '&' : '?';
        using (var finish = await client.PutAsync(new Uri(external, $"{location}{separator}digest={layerDigest}"), null))
        {
            Assert.True(finish.StatusCode == HttpStatusCode.Created, $"final PUT: {(int)finish.StatusCode} {await finish.Content.ReadAsStringAsync()}");
            Location(finish, "Location (layer)", urls);
        }
        output.WriteLine($"1 GiB layer pushed through nginx in {clock.Elapsed.TotalSeconds:F1} s");

        var config = Encoding.UTF8.GetBytes("""{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["""
            + $"\"{layerDigest}\"" + "]}}");
        var configDigest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(config));
        using (var configContent = new ByteArrayContent(config))
        {
            configContent.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            using var configPush = await client.PostAsync($"/v2/{repository}/blobs/uploads/?digest={configDigest}", configContent);
            Assert.True(configPush.StatusCode == HttpStatusCode.Created, $"config POST: {(int)configPush.StatusCode} {await configPush.Content.ReadAsStringAsync()}");
            Location(configPush, "Location (config)", urls);
        }

        var manifest = Encoding.UTF8.GetBytes($$"""
            {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
             "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{configDigest}}","size":{{config.Length}}},
             "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{{layerDigest}}","size":{{LayerSize}}}]}
            """);
        var manifestDigest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(manifest));
        using (var manifestContent = new ByteArrayContent(manifest))
        {
            manifestContent.Headers.ContentType = new MediaTypeHeaderValue("application/vnd.oci.image.manifest.v1+json");
            using var put = await client.PutAsync($"/v2/{repository}/manifests/1gib", manifestContent);
            Assert.True(put.StatusCode == HttpStatusCode.Created, $"manifest PUT: {(int)put.StatusCode} {await put.Content.ReadAsStringAsync()}");
            Assert.Equal(manifestDigest, put.Headers.GetValues("Docker-Content-Digest").Single());
            Location(put, "Location (manifest)", urls);
        }

        // Pull it back through the proxy: the manifest by tag, then the whole layer, hashed while it streams.
        using var get = new HttpRequestMessage(HttpMethod.Get, $"/v2/{repository}/manifests/1gib");
        get.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/vnd.oci.image.manifest.v1+json"));
        using (var pulled = await client.SendAsync(get))
        {
            Assert.Equal(HttpStatusCode.OK, pulled.StatusCode);
            Assert.Equal(manifest, await pulled.Content.ReadAsByteArrayAsync());
        }
        clock.Restart();
        using (var blob = await client.GetAsync($"/v2/{repository}/blobs/{layerDigest}", HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, blob.StatusCode);
            Assert.Equal(LayerSize, blob.Content.Headers.ContentLength);
            await using var stream = await blob.Content.ReadAsStreamAsync();
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[1 << 20];
            long total = 0;
            int n;
            while ((n = await stream.ReadAsync(buffer)) > 0)
            {
                hash.AppendData(buffer, 0, n);
                total += n;
            }
            Assert.Equal(LayerSize, total);
            Assert.Equal(layerDigest, "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset()));
        }
        output.WriteLine($"1 GiB layer pulled through nginx in {clock.Elapsed.TotalSeconds:F1} s");
    }

    private static string Location(HttpResponseMessage response, string what, List<(string What, string Url)> urls)
    {
        var location = response.Headers.Location?.OriginalString;
        Assert.False(string.IsNullOrEmpty(location), $"{what}: no Location header ({(int)response.StatusCode})");
        urls.Add((what, location));
        return location;
    }

    /// <summary>
    /// A streamed request body of <c>length</c> pseudo-random bytes (one random 1 MiB block, each copy stamped
    /// with its offset), appended to a running SHA-256 as it is sent. Never buffered whole.
    /// </summary>
    private sealed class GeneratedContent(long offset, long length, IncrementalHash hash) : HttpContent
    {
        private static readonly byte[] Block = MakeBlock();

        private static byte[] MakeBlock()
        {
            var block = new byte[1 << 20];
            new Random(20261130).NextBytes(block);
            return block;
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var buffer = new byte[Block.Length];
            for (long position = offset; position < offset + length; position += buffer.Length)
            {
                Block.CopyTo(buffer, 0);
                BinaryPrimitives.WriteInt64LittleEndian(buffer, position);
                var count = (int)Math.Min(buffer.Length, offset + length - position);
                hash.AppendData(buffer, 0, count);
                await stream.WriteAsync(buffer.AsMemory(0, count));
            }
        }

        protected override bool TryComputeLength(out long computed)
        {
            computed = length;
            return true;
        }
    }
}
