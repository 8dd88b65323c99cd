using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Berth.Distribution;
using Berth.Schema1.Tests.Infrastructure;

namespace Berth.Schema1.Tests;

/// <summary>
/// Docker schema 1 with real clients: skopeo pushes umoci-built images of real files as schema 1 (signed by
/// skopeo's libtrust code) and copies them back; a broken signature is refused and an unsigned manifest
/// accepted by the running server; a schema 2 image is served to clients that read only schema 1 as a signed
/// schema 1 that Berth's verifier, <c>skopeo manifest-digest</c> and <c>skopeo copy</c> accept.
/// </summary>
[Collection(BerthServerCollection.Name)]
public sealed class SkopeoSchema1Tests(BerthServer server, ITestOutputHelper output) : IDisposable
{
    private const string Schema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";
    private const string Schema1Unsigned = "application/vnd.docker.distribution.manifest.v1+json";
    private const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
    private const string EmptyLayer = "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4";

    private readonly Tools _tools = new(server, output);
    private readonly HttpClient _http = server.CreateClient();

    private static string NewRepo(string image) => $"e2e/{image}-{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>
    /// An OCI layout tagged <c>v1</c>: a layer of real files (the test's own assemblies), an empty-layer config
    /// change (env, cmd) and a small second layer.
    /// </summary>
    private async Task<string> BuildImageAsync(string name, int files = 12)
    {
        var layout = Path.Combine(_tools.Work, name + "-layout");
        await _tools.UmociAsync("init", "--layout", layout);
        await _tools.UmociAsync("new", "--image", $"{layout}:v1");
        var content = Directory.CreateDirectory(Path.Combine(_tools.Work, name + "-files")).FullName;
        foreach (var dll in Directory.GetFiles(AppContext.BaseDirectory, "*.dll").Order(StringComparer.Ordinal).Take(files))
            File.Copy(dll, Path.Combine(content, Path.GetFileName(dll)));
        await _tools.UmociAsync("insert", "--image", $"{layout}:v1", content, "/opt/berth");
        await _tools.UmociAsync("config", "--image", $"{layout}:v1", "--config.env", "BERTH=schema1", "--config.cmd", "/bin/sh");
        var note = Path.Combine(_tools.Work, name + "-note.txt");
        await File.WriteAllTextAsync(note, $"schema 1 end-to-end {Guid.NewGuid()}\n");
        await _tools.UmociAsync("insert", "--image", $"{layout}:v1", note, "/etc/berth-note.txt");
        await _tools.UmociAsync("gc", "--layout", layout);
        return layout;
    }

    private async Task<HttpResponseMessage> GetManifestAsync(string repo, string reference, string? accept)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, $"v2/{repo}/manifests/{reference}");
        if (accept is not null) request.Headers.TryAddWithoutValidation("Accept", accept);
        return await _http.SendAsync(request);
    }

    private async Task<HttpResponseMessage> PutManifestAsync(string repo, string reference, byte[] content, string mediaType)
    {
        var body = new ByteArrayContent(content);
        body.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        return await _http.PutAsync($"v2/{repo}/manifests/{reference}", body);
    }

    /// <summary>What <c>skopeo manifest-digest</c> (Docker's digest rule, as containers/image implements it) says.</summary>
    private async Task<string> SkopeoDigestAsync(byte[] manifest)
    {
        var file = Path.Combine(_tools.Work, $"manifest-{Guid.NewGuid():N}.json");
        await File.WriteAllBytesAsync(file, manifest);
        return (await _tools.SkopeoAsync("manifest-digest", file)).Text.Trim();
    }

    private static string Sha256(byte[] content) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));

    private static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values) ? string.Join(",", values) : "";

    private static async Task<string> ErrorCodeAsync(HttpResponseMessage response)
    {
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.GetProperty("errors")[0].GetProperty("code").GetString()!;
    }

    [Fact]
    public async Task Skopeo_pushes_a_real_image_as_schema1_inspects_it_and_copies_it_back_byte_identical()
    {
        var layout = await BuildImageAsync("app");
        var repo = NewRepo("app");
        var reference = $"docker://{server.Host}/{repo}:v1";
        var digestFile = Path.Combine(_tools.Work, "pushed.digest");

        await _tools.SkopeoAsync("copy", "--format", "v2s1", "--dest-tls-verify=false", "--digestfile", digestFile, $"oci:{layout}:v1", reference);

        var raw = (await _tools.SkopeoAsync("inspect", "--raw", "--tls-verify=false", reference)).Output;
        var schema1 = Schema1Manifest.Parse(raw);
        Assert.True(schema1.IsSigned);
        Assert.Equal(repo, schema1.Name);
        Assert.Equal("v1", schema1.Tag);
        Assert.Contains(Digest.Parse(EmptyLayer), schema1.BlobSums); // the config change is an empty layer
        var digest = schema1.ComputeDigest().ToString();
        Assert.NotEqual(Sha256(raw), digest);
        Assert.Equal(digest, (await File.ReadAllTextAsync(digestFile)).Trim()); // what skopeo computed for what it pushed
        Assert.Equal(digest, await SkopeoDigestAsync(raw));

        // Served as pushed, by tag and by digest, with the canonical digest.
        foreach (var (target, accept) in new[] { ("v1", Schema1Signed), (digest, (string?)null), ("v1", $"{DockerManifest}, {Schema1Signed}") })
        {
            using var get = await GetManifestAsync(repo, target, accept);
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
            Assert.Equal(raw, await get.Content.ReadAsByteArrayAsync());
            Assert.Equal(Schema1Signed, get.Content.Headers.ContentType?.MediaType);
            Assert.Equal(digest, Header(get, "Docker-Content-Digest"));
        }

        using (var inspect = JsonDocument.Parse((await _tools.SkopeoAsync("inspect", "--tls-verify=false", reference)).Output))
        {
            Assert.Equal(digest, inspect.RootElement.GetProperty("Digest").GetString());
            Assert.Equal(schema1.Architecture, inspect.RootElement.GetProperty("Architecture").GetString());
        }

        // Copy out: the same manifest bytes and every layer intact.
        var copy = Path.Combine(_tools.Work, "copy");
        await _tools.SkopeoAsync("copy", "--src-tls-verify=false", reference, $"dir:{copy}");
        Assert.Equal(raw, await File.ReadAllBytesAsync(Path.Combine(copy, "manifest.json")));
        foreach (var blobSum in schema1.BlobSums.Distinct())
            Assert.Equal(blobSum.ToString(), Sha256(await File.ReadAllBytesAsync(Path.Combine(copy, blobSum.Encoded))));

        // And back in: byte-identical.
        await _tools.SkopeoAsync("copy", "--dest-tls-verify=false", $"dir:{copy}", reference);
        Assert.Equal(raw, (await _tools.SkopeoAsync("inspect", "--raw", "--tls-verify=false", reference)).Output);

        // Pulled by digest, skopeo checks that the manifest has the digest it asked for, then converts it.
        await _tools.SkopeoAsync("copy", "--src-tls-verify=false", $"docker://{server.Host}/{repo}@{digest}", $"oci:{Path.Combine(_tools.Work, "by-digest")}:v1");
    }

    [Fact]
    public async Task A_broken_signature_is_refused_and_an_unsigned_manifest_is_accepted()
    {
        var layout = await BuildImageAsync("sig", files: 2);
        var repo = NewRepo("sig");
        var reference = $"docker://{server.Host}/{repo}:v1";
        await _tools.SkopeoAsync("copy", "--format", "v2s1", "--dest-tls-verify=false", $"oci:{layout}:v1", reference);
        var raw = (await _tools.SkopeoAsync("inspect", "--raw", "--tls-verify=false", reference)).Output;
        var schema1 = Schema1Manifest.Parse(raw);

        // Same length, so only the signature can tell.
        var text = Encoding.UTF8.GetString(raw);
        var field = $"\"architecture\":\"{schema1.Architecture}\"";
        int at = text.IndexOf(field, StringComparison.Ordinal);
        Assert.True(at >= 0, text);
        var tampered = Encoding.UTF8.GetBytes(text[..at] + $"\"architecture\":\"{new string('z', schema1.Architecture.Length)}\"" + text[(at + field.Length)..]);
        using (var put = await PutManifestAsync(repo, "v1", tampered, Schema1Signed))
        {
            Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
            Assert.Equal("MANIFEST_UNVERIFIED", await ErrorCodeAsync(put));
        }
        Assert.Equal(raw, (await _tools.SkopeoAsync("inspect", "--raw", "--tls-verify=false", reference)).Output);

        // The same manifest without signatures (and for another tag) is accepted as unsigned schema 1.
        var unsigned = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(Schema1Jws.ExtractPayload(raw)).Replace("\"tag\":\"v1\"", "\"tag\":\"unsigned\""));
        using (var put = await PutManifestAsync(repo, "unsigned", unsigned, Schema1Unsigned))
        {
            Assert.True(put.StatusCode == HttpStatusCode.Created, await put.Content.ReadAsStringAsync());
            Assert.Equal(Sha256(unsigned), Header(put, "Docker-Content-Digest"));
        }
        var unsignedReference = $"docker://{server.Host}/{repo}:unsigned";
        Assert.Equal(unsigned, (await _tools.SkopeoAsync("inspect", "--raw", "--tls-verify=false", unsignedReference)).Output);
        using (var inspect = JsonDocument.Parse((await _tools.SkopeoAsync("inspect", "--tls-verify=false", unsignedReference)).Output))
            Assert.Equal(Sha256(unsigned), inspect.RootElement.GetProperty("Digest").GetString());
        await _tools.SkopeoAsync("copy", "--src-tls-verify=false", unsignedReference, $"oci:{Path.Combine(_tools.Work, "unsigned")}:v1");
    }

    [Fact]
    public async Task Pre_1_10_clients_get_a_schema2_image_as_signed_schema1_that_skopeo_verifies_and_copies()
    {
        var layout = await BuildImageAsync("conv", files: 6);
        var repo = NewRepo("conv");
        var reference = $"docker://{server.Host}/{repo}:1.0";
        await _tools.SkopeoAsync("copy", "--format", "v2s2", "--dest-tls-verify=false", $"oci:{layout}:v1", reference);
        var schema2 = (await _tools.SkopeoAsync("inspect", "--raw", "--tls-verify=false", reference)).Output; // skopeo names schema 2: served as pushed
        List<string> layers;
        using (var doc = JsonDocument.Parse(schema2))
        {
            Assert.Equal(DockerManifest, doc.RootElement.GetProperty("mediaType").GetString());
            layers = doc.RootElement.GetProperty("layers").EnumerateArray().Select(l => l.GetProperty("digest").GetString()!).ToList();
        }

        // What Docker < 1.10 sends: no Accept, */*, or only the schema 1 types.
        byte[]? converted = null;
        string? digest = null;
        foreach (var accept in new[] { null, "*/*", Schema1Signed, $"{Schema1Signed}, {Schema1Unsigned}" })
        {
            using var get = await GetManifestAsync(repo, "1.0", accept);
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
            Assert.Equal(Schema1Signed, get.Content.Headers.ContentType?.MediaType);
            var content = await get.Content.ReadAsByteArrayAsync();
            var schema1 = Schema1Manifest.Parse(content); // verifies the registry's signature
            Assert.True(schema1.IsSigned);
            Assert.Equal(repo, schema1.Name);
            Assert.Equal("1.0", schema1.Tag);
            Assert.Equal(Enumerable.Reverse(layers), schema1.BlobSums.Select(d => d.ToString()).Where(d => d != EmptyLayer));
            Assert.Contains(EmptyLayer, schema1.BlobSums.Select(d => d.ToString()));
            Assert.Equal(schema1.ComputeDigest().ToString(), Header(get, "Docker-Content-Digest"));
            converted ??= content;
            digest ??= Header(get, "Docker-Content-Digest");
            Assert.Equal(converted, content);
        }
        Assert.Equal(digest, await SkopeoDigestAsync(converted!));

        // skopeo reads it: the converted manifest and the blobs it names, fetched from Berth (the empty layer
        // included), as a dir: image, which skopeo inspects (same digest) and converts to OCI (same layers).
        var dir = Directory.CreateDirectory(Path.Combine(_tools.Work, "converted")).FullName;
        await File.WriteAllTextAsync(Path.Combine(dir, "version"), "Directory Transport Version: 1.1\n");
        await File.WriteAllBytesAsync(Path.Combine(dir, "manifest.json"), converted!);
        foreach (var blobSum in Schema1Manifest.Parse(converted!).BlobSums.Distinct())
        {
            var blob = await _http.GetByteArrayAsync($"v2/{repo}/blobs/{blobSum}");
            Assert.Equal(blobSum.ToString(), Sha256(blob));
            await File.WriteAllBytesAsync(Path.Combine(dir, blobSum.Encoded), blob);
        }
        using (var inspect = JsonDocument.Parse((await _tools.SkopeoAsync("inspect", $"dir:{dir}")).Output))
            Assert.Equal(digest, inspect.RootElement.GetProperty("Digest").GetString());
        var oci = Path.Combine(_tools.Work, "converted-oci");
        await _tools.SkopeoAsync("copy", $"dir:{dir}", $"oci:{oci}:legacy");
        using (var index = JsonDocument.Parse(await File.ReadAllBytesAsync(Path.Combine(oci, "index.json"))))
        {
            var manifestDigest = index.RootElement.GetProperty("manifests")[0].GetProperty("digest").GetString()!;
            using var manifest = JsonDocument.Parse(await File.ReadAllBytesAsync(Path.Combine(oci, "blobs", "sha256", manifestDigest["sha256:".Length..])));
            Assert.Equal(layers, manifest.RootElement.GetProperty("layers").EnumerateArray().Select(l => l.GetProperty("digest").GetString()!));
        }

        // By digest the schema 2 manifest keeps its digest: never converted.
        using (var byDigest = await GetManifestAsync(repo, Sha256(schema2), null))
            Assert.Equal(schema2, await byDigest.Content.ReadAsByteArrayAsync());

        // An OCI image has no schema 1 form: a client that reads only schema 1 is told it is too old.
        await _tools.SkopeoAsync("copy", "--format", "oci", "--dest-tls-verify=false", $"oci:{layout}:v1", $"docker://{server.Host}/{repo}:oci");
        using var ociGet = await GetManifestAsync(repo, "oci", Schema1Signed);
        Assert.Equal(HttpStatusCode.NotFound, ociGet.StatusCode);
        Assert.Equal("MANIFEST_UNKNOWN", await ErrorCodeAsync(ociGet));
    }

    public void Dispose()
    {
        _http.Dispose();
        _tools.Dispose();
    }
}
