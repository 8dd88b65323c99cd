using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;

namespace Berth.Api.Tests.Infrastructure;

/// <summary>A pushed test image: its manifest digest and the sizes of its blobs (config, layers) by digest.</summary>
public sealed record PushedImage(string Digest, IReadOnlyDictionary<string, long> Blobs);

/// <summary>Pushes small OCI images through <c>/v2</c> (monolithic blob POSTs, then the manifest by tag) with HTTP Basic.</summary>
public static class TestRegistry
{
    /// <summary>A <c>/v2</c> client with HTTP Basic credentials.</summary>
    public static HttpClient V2Client(this ApiFactory factory, string username, string password)
    {
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{username}:{password}")));
        return client;
    }

    public static string Sha256(byte[] bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>Pushes an image of one config and the given layers (text contents) as <paramref name="repository"/>:<paramref name="tag"/>; returns the status of the manifest PUT and the image.</summary>
    public static async Task<(HttpStatusCode Status, string Body, PushedImage Image)> TryPushAsync(HttpClient client, string repository, string tag, params string[] layers)
    {
        var blobs = new Dictionary<string, long>();
        var layerDescriptors = new List<string>();
        foreach (var text in layers)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            var digest = await UploadAsync(client, repository, bytes);
            blobs[digest] = bytes.Length;
            layerDescriptors.Add($"{{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"{digest}\",\"size\":{bytes.Length}}}");
        }
        var config = Encoding.UTF8.GetBytes($"{{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[]}},\"comment\":\"{repository}:{tag}\"}}");
        var configDigest = await UploadAsync(client, repository, config);
        blobs[configDigest] = config.Length;
        var manifest = Encoding.UTF8.GetBytes(
            $"{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"{configDigest}\",\"size\":{config.Length}}},\"layers\":[{string.Join(',', layerDescriptors)}]}}");
        using var content = new ByteArrayContent(manifest);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/vnd.oci.image.manifest.v1+json");
        using var response = await client.PutAsync($"/v2/{repository}/manifests/{tag}", content);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), new PushedImage(Sha256(manifest), blobs));
    }

    /// <summary>Pushes and asserts 201.</summary>
    public static async Task<PushedImage> PushAsync(HttpClient client, string repository, string tag, params string[] layers)
    {
        var (status, body, image) = await TryPushAsync(client, repository, tag, layers);
        Assert.True(status == HttpStatusCode.Created, $"push {repository}:{tag} -> {(int)status}: {body}");
        return image;
    }

    private static async Task<string> UploadAsync(HttpClient client, string repository, byte[] bytes)
    {
        var digest = Sha256(bytes);
        using var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = await client.PostAsync($"/v2/{repository}/blobs/uploads/?digest={digest}", content);
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"blob upload to {repository} -> {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return digest;
    }

    /// <summary>The status of <c>GET /v2/&lt;repository&gt;/manifests/&lt;reference&gt;</c> and the error code, if any.</summary>
    public static async Task<(HttpStatusCode Status, string Body)> GetManifestAsync(HttpClient client, string repository, string reference)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v2/{repository}/manifests/{reference}");
        request.Headers.Accept.ParseAdd("application/vnd.oci.image.manifest.v1+json");
        using var response = await client.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}
