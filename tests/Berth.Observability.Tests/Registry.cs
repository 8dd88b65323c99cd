using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;

namespace Berth.Observability.Tests;

/// <summary>A minimal registry client for the tests: token, blob upload, manifest push, tag delete.</summary>
internal static class Registry
{
    public static string Digest(byte[] bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));

    public static HttpRequestMessage Request(HttpMethod method, string url, string? bearer = null, string? requestId = null)
    {
        var request = new HttpRequestMessage(method, url);
        if (bearer is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        if (requestId is not null) request.Headers.Add("X-Request-Id", requestId);
        return request;
    }

    /// <summary>Pushes one config blob, one layer and a manifest tagged <paramref name="tag"/>; returns the manifest digest.</summary>
    public static async Task<string> PushAsync(HttpClient client, string repository, string tag, string bearer, string? requestId = null)
    {
        var config = Encoding.UTF8.GetBytes("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}");
        var layer = RandomNumberGenerator.GetBytes(4096);
        foreach (var blob in new[] { config, layer })
        {
            using var start = Request(HttpMethod.Post, $"/v2/{repository}/blobs/uploads/", bearer, requestId);
            using var started = await client.SendAsync(start);
            Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
            var location = started.Headers.Location!.ToString();
            using var patch = Request(HttpMethod.Patch, location, bearer, requestId);
            patch.Content = new ByteArrayContent(blob);
            patch.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            using var patched = await client.SendAsync(patch);
            Assert.Equal(HttpStatusCode.Accepted, patched.StatusCode);
            var next = patched.Headers.Location!.ToString();
            using var put = Request(HttpMethod.Put, next + (next.Contains('?') ? "&" : "?") + "digest=" + Digest(blob), bearer, requestId);
            using var done = await client.SendAsync(put);
            Assert.Equal(HttpStatusCode.Created, done.StatusCode);
        }
        var manifest = Encoding.UTF8.GetBytes($$"""
            {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
             "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{Digest(config)}}","size":{{config.Length}}},
             "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{{Digest(layer)}}","size":{{layer.Length}}}]}
            """);
        using var putManifest = Request(HttpMethod.Put, $"/v2/{repository}/manifests/{tag}", bearer, requestId);
        putManifest.Content = new ByteArrayContent(manifest);
        putManifest.Content.Headers.ContentType = new MediaTypeHeaderValue("application/vnd.oci.image.manifest.v1+json");
        using var pushed = await client.SendAsync(putManifest);
        Assert.Equal(HttpStatusCode.Created, pushed.StatusCode);
        return Digest(manifest);
    }
}
