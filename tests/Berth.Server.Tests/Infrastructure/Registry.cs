using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Berth.Server.Tests.Infrastructure;

/// <summary>A blob as a manifest describes it.</summary>
public sealed record BlobRef(string MediaType, string Digest, long Size);

/// <summary>A manifest pushed to the registry: its digest, exact bytes and media type.</summary>
public sealed record PushedManifest(string Digest, byte[] Content, string MediaType)
{
    public BlobRef AsRef() => new(MediaType, Digest, Content.Length);
}

/// <summary>Media types used by the tests.</summary>
public static class Media
{
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";
    public const string OciConfig = "application/vnd.oci.image.config.v1+json";
    public const string OciLayer = "application/vnd.oci.image.layer.v1.tar+gzip";
    public const string OciEmpty = "application/vnd.oci.empty.v1+json";
    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
    public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
    public const string DockerConfig = "application/vnd.docker.container.image.v1+json";
    public const string DockerLayer = "application/vnd.docker.image.rootfs.diff.tar.gzip";
}

/// <summary>Small helpers that speak the registry API, so tests stay short.</summary>
public static class Registry
{
    public static string Sha256(byte[] content) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));

    public static string Sha512(byte[] content) => "sha512:" + Convert.ToHexStringLower(SHA512.HashData(content));

    public static byte[] RandomBytes(int length) => RandomNumberGenerator.GetBytes(length);

    /// <summary>A unique repository name for one test, e.g. <c>test/blob-3f2a…</c>.</summary>
    public static string NewRepo(string prefix = "test") => $"{prefix}/r{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 14, 255)];

    /// <summary>Monolithic upload (<c>POST …/blobs/uploads/?digest=</c>); asserts 201.</summary>
    public static async Task<BlobRef> PushBlobAsync(this HttpClient client, string repo, byte[] content, string mediaType = Media.OciLayer)
    {
        var digest = Sha256(content);
        using var response = await client.PostAsync($"/v2/{repo}/blobs/uploads/?digest={digest}", new ByteArrayContent(content));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(digest, response.Header("Docker-Content-Digest"));
        return new BlobRef(mediaType, digest, content.Length);
    }

    /// <summary>Starts an upload session; asserts 202 and returns its Location.</summary>
    public static async Task<string> StartUploadAsync(this HttpClient client, string repo)
    {
        using var response = await client.PostAsync($"/v2/{repo}/blobs/uploads/", null);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return response.Header("Location")!;
    }

    /// <summary>PATCH of one chunk with an unit-less <c>Content-Range: start-end</c> as Docker sends it (no header when <paramref name="start"/> is null).</summary>
    public static Task<HttpResponseMessage> PatchChunkAsync(this HttpClient client, string location, byte[] chunk, long? start)
    {
        var content = new ByteArrayContent(chunk);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        if (start is { } s) content.Headers.TryAddWithoutValidation("Content-Range", $"{s}-{s + chunk.Length - 1}");
        return client.SendAsync(new HttpRequestMessage(HttpMethod.Patch, location) { Content = content });
    }

    /// <summary>The session's Location with <c>digest=</c> appended.</summary>
    public static string WithDigest(string location, string digest) => location + (location.Contains('?') ? "&" : "?") + "digest=" + digest;

    public static async Task<HttpResponseMessage> PutManifestAsync(this HttpClient client, string repo, string reference, byte[] content, string? mediaType)
    {
        var body = new ByteArrayContent(content);
        if (mediaType is not null) body.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        return await client.PutAsync($"/v2/{repo}/manifests/{reference}", body);
    }

    /// <summary>Pushes a config and one layer, then an OCI image manifest referencing them under <paramref name="reference"/>; asserts 201.</summary>
    public static async Task<PushedManifest> PushImageAsync(this HttpClient client, string repo, string reference, Action<JsonObject>? customize = null)
    {
        var config = await client.PushBlobAsync(repo, Encoding.UTF8.GetBytes($$"""{"architecture":"amd64","os":"linux","created":"{{Guid.NewGuid()}}"}"""), Media.OciConfig);
        var layer = await client.PushBlobAsync(repo, RandomBytes(1000));
        return await client.PushManifestAsync(repo, reference, Manifests.Image(config, [layer], customize: customize), Media.OciManifest);
    }

    /// <summary>PUTs manifest bytes; asserts 201 and the digest headers.</summary>
    public static async Task<PushedManifest> PushManifestAsync(this HttpClient client, string repo, string reference, byte[] content, string mediaType)
    {
        using var response = await client.PutManifestAsync(repo, reference, content, mediaType);
        var digest = Sha256(content);
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"PUT manifest answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        Assert.Equal(digest, response.Header("Docker-Content-Digest"));
        Assert.Equal($"/v2/{repo}/manifests/{digest}", response.Header("Location"));
        return new PushedManifest(digest, content, mediaType);
    }

    /// <summary>A response header, whether HttpClient files it under the response or the content headers.</summary>
    public static string? Header(this HttpResponseMessage response, string name)
    {
        if (response.Headers.TryGetValues(name, out var values)) return string.Join(", ", values);
        if (response.Content.Headers.TryGetValues(name, out values)) return string.Join(", ", values);
        return null;
    }

    /// <summary>Asserts the status and the OCI error envelope <c>{"errors":[{"code","message",…}]}</c> with <paramref name="code"/>;
    /// returns the error object (default for HEAD, which has no body).</summary>
    public static async Task<JsonElement> AssertErrorAsync(this HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status} {code}, got {(int)response.StatusCode}: {body}");
        if (response.RequestMessage?.Method == HttpMethod.Head)
        {
            Assert.Equal("", body);
            return default;
        }
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var doc = JsonDocument.Parse(body);
        var error = Assert.Single(doc.RootElement.GetProperty("errors").EnumerateArray());
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        return error.Clone();
    }

    public static async Task<JsonElement> ReadJsonAsync(this HttpResponseMessage response)
    {
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.Clone();
    }

    public static async Task<List<string>> GetTagsAsync(this HttpClient client, string repo)
    {
        using var response = await client.GetAsync($"/v2/{repo}/tags/list");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = await response.ReadJsonAsync();
        return json.GetProperty("tags").EnumerateArray().Select(t => t.GetString()!).ToList();
    }
}

/// <summary>Builds manifest JSON.</summary>
public static class Manifests
{
    public static JsonObject Descriptor(BlobRef blob) => new()
    {
        ["mediaType"] = blob.MediaType,
        ["digest"] = blob.Digest,
        ["size"] = blob.Size,
    };

    /// <summary>An image manifest (OCI by default; Docker schema 2 with <paramref name="mediaType"/>).</summary>
    public static byte[] Image(BlobRef config, IEnumerable<BlobRef> layers, string mediaType = Media.OciManifest, Action<JsonObject>? customize = null)
    {
        var manifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = mediaType,
            ["config"] = Descriptor(config),
            ["layers"] = new JsonArray(layers.Select(l => (JsonNode)Descriptor(l)).ToArray()),
        };
        customize?.Invoke(manifest);
        return Encoding.UTF8.GetBytes(manifest.ToJsonString());
    }

    /// <summary>An index (OCI by default; Docker manifest list with <paramref name="mediaType"/>) of platform manifests.</summary>
    public static byte[] Index(IEnumerable<BlobRef> children, string mediaType = Media.OciIndex)
    {
        var entries = children.Select((c, i) =>
        {
            var d = Descriptor(c);
            d["platform"] = new JsonObject { ["architecture"] = i % 2 == 0 ? "amd64" : "arm64", ["os"] = "linux" };
            return (JsonNode)d;
        }).ToArray();
        var index = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = mediaType,
            ["manifests"] = new JsonArray(entries),
        };
        return Encoding.UTF8.GetBytes(index.ToJsonString());
    }
}
