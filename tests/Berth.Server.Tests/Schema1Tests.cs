using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Berth.Distribution;
using Berth.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using static Berth.Server.Tests.Infrastructure.Registry;

namespace Berth.Server.Tests;

/// <summary>
/// Docker schema 1 over the API: signed and unsigned pushes (digest rule, signature verification, name/tag
/// rules, blob checks), serving as pushed, conversion of Docker schema 2 images for clients that read only
/// schema 1, the "too old" answer, and the <c>Registry:Schema1</c> switches.
/// </summary>
public sealed class Schema1Tests(BerthFactory factory) : IClassFixture<BerthFactory>
{
    private const string Schema1 = "application/vnd.docker.distribution.manifest.v1+json";
    private const string Schema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";
    private const string EmptyLayer = "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4";
    private static readonly string ModernAccept = string.Join(", ", Media.DockerManifest, Media.DockerManifestList, Media.OciManifest, Media.OciIndex);

    private readonly HttpClient _client = factory.CreateRegistryClient();

    /// <summary>An unsigned schema 1 manifest for <paramref name="repo"/>:<paramref name="tag"/> over the given blobs (newest first).</summary>
    private static byte[] Unsigned(string repo, string tag, params string[] blobSums)
    {
        var history = new JsonArray();
        string parent = "";
        foreach (var blobSum in blobSums.Reverse())
        {
            var id = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(blobSum + " " + parent)));
            var v1 = parent.Length == 0 ? $$"""{"id":"{{id}}","created":"2015-01-01T00:00:00Z"}""" : $$"""{"id":"{{id}}","parent":"{{parent}}","created":"2015-01-01T00:00:00Z"}""";
            history.Insert(0, new JsonObject { ["v1Compatibility"] = v1 });
            parent = id;
        }
        var manifest = new JsonObject
        {
            ["schemaVersion"] = 1,
            ["name"] = repo,
            ["tag"] = tag,
            ["architecture"] = "amd64",
            ["fsLayers"] = new JsonArray(blobSums.Select(b => (JsonNode)new JsonObject { ["blobSum"] = b }).ToArray()),
            ["history"] = history,
        };
        return Encoding.UTF8.GetBytes(manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true, IndentSize = 3, NewLine = "\n" }));
    }

    private static byte[] Signed(byte[] unsigned)
    {
        using var key = Schema1SigningKey.FromECDsa(ECDsa.Create(ECCurve.NamedCurves.nistP256), ownsKey: true);
        return Schema1Jws.Sign(unsigned, key, DateTimeOffset.UtcNow);
    }

    private async Task<(string Repo, BlobRef Layer1, BlobRef Layer2)> RepoWithLayersAsync()
    {
        var repo = NewRepo("legacy");
        var layer1 = await _client.PushBlobAsync(repo, RandomBytes(300), Media.DockerLayer);
        var layer2 = await _client.PushBlobAsync(repo, RandomBytes(400), Media.DockerLayer);
        return (repo, layer1, layer2);
    }

    private async Task<HttpResponseMessage> GetAsync(string repo, string reference, string? accept = null, HttpMethod? method = null)
    {
        var request = new HttpRequestMessage(method ?? HttpMethod.Get, $"/v2/{repo}/manifests/{reference}");
        if (accept is not null) request.Headers.TryAddWithoutValidation("Accept", accept);
        return await _client.SendAsync(request);
    }

    private async Task AssertServedAsPushedAsync(string repo, string reference, byte[] content, string mediaType, string digest, string? accept = null)
    {
        using var get = await GetAsync(repo, reference, accept);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(content, await get.Content.ReadAsByteArrayAsync());
        Assert.Equal(mediaType, get.Content.Headers.ContentType?.ToString());
        Assert.Equal(digest, get.Header("Docker-Content-Digest"));
        using var head = await GetAsync(repo, reference, accept, HttpMethod.Head);
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(digest, head.Header("Docker-Content-Digest"));
        Assert.Equal(content.Length, head.Content.Headers.ContentLength);
    }

    // ---- pushes ----

    [Fact]
    public async Task Unsigned_schema1_is_accepted_and_served_as_pushed_by_tag_and_digest()
    {
        var (repo, layer1, layer2) = await RepoWithLayersAsync();
        var content = Unsigned(repo, "1.0", layer2.Digest, layer1.Digest);

        using var put = await _client.PutManifestAsync(repo, "1.0", content, Schema1);

        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        var digest = Sha256(content);
        Assert.Equal(digest, put.Header("Docker-Content-Digest"));
        Assert.Equal($"/v2/{repo}/manifests/{digest}", put.Header("Location"));
        foreach (var accept in new string?[] { null, "*/*", Schema1, ModernAccept })
        {
            await AssertServedAsPushedAsync(repo, "1.0", content, Schema1, digest, accept);
            await AssertServedAsPushedAsync(repo, digest, content, Schema1, digest, accept);
        }
        Assert.Equal(["1.0"], await _client.GetTagsAsync(repo));
    }

    [Fact]
    public async Task Signed_schema1_is_named_by_the_digest_of_its_canonical_payload_and_served_as_pushed()
    {
        var (repo, layer1, layer2) = await RepoWithLayersAsync();
        var payload = Unsigned(repo, "latest", layer2.Digest, layer1.Digest, layer1.Digest);
        var content = Signed(payload);
        var digest = Sha256(payload);
        Assert.NotEqual(digest, Sha256(content));

        using var put = await _client.PutManifestAsync(repo, "latest", content, Schema1Signed);

        Assert.True(put.StatusCode == HttpStatusCode.Created, await put.Content.ReadAsStringAsync());
        Assert.Equal(digest, put.Header("Docker-Content-Digest"));
        Assert.Equal($"/v2/{repo}/manifests/{digest}", put.Header("Location"));
        await AssertServedAsPushedAsync(repo, "latest", content, Schema1Signed, digest);
        await AssertServedAsPushedAsync(repo, digest, content, Schema1Signed, digest, ModernAccept);
    }

    [Fact]
    public async Task Signed_schema1_can_be_pushed_by_its_canonical_digest_but_not_by_the_digest_of_its_bytes()
    {
        var (repo, layer1, _) = await RepoWithLayersAsync();
        var payload = Unsigned(repo, "", layer1.Digest);
        var content = Signed(payload);

        using (var wrong = await _client.PutManifestAsync(repo, Sha256(content), content, Schema1Signed))
            await wrong.AssertErrorAsync(HttpStatusCode.BadRequest, "DIGEST_INVALID");
        using var put = await _client.PutManifestAsync(repo, Sha256(payload), content, Schema1Signed);

        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        await AssertServedAsPushedAsync(repo, Sha256(payload), content, Schema1Signed, Sha256(payload));
    }

    [Fact]
    public async Task A_broken_signature_is_MANIFEST_UNVERIFIED_and_nothing_is_stored()
    {
        var (repo, layer1, layer2) = await RepoWithLayersAsync();
        var content = Signed(Unsigned(repo, "latest", layer2.Digest, layer1.Digest));
        var tampered = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(content).Replace("\"architecture\": \"amd64\"", "\"architecture\": \"arm64\""));

        using var put = await _client.PutManifestAsync(repo, "latest", tampered, Schema1Signed);

        var error = await put.AssertErrorAsync(HttpStatusCode.BadRequest, "MANIFEST_UNVERIFIED");
        Assert.Contains("does not verify", error.GetProperty("message").GetString());
        using var get = await GetAsync(repo, "latest");
        await get.AssertErrorAsync(HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
    }

    [Fact]
    public async Task Name_and_tag_must_match_the_URL()
    {
        var (repo, layer1, _) = await RepoWithLayersAsync();

        using (var otherName = await _client.PutManifestAsync(repo, "latest", Signed(Unsigned("someone/else", "latest", layer1.Digest)), Schema1Signed))
            Assert.Contains("someone/else", (await otherName.AssertErrorAsync(HttpStatusCode.BadRequest, "MANIFEST_INVALID")).GetProperty("message").GetString());
        using (var otherTag = await _client.PutManifestAsync(repo, "latest", Unsigned(repo, "v2", layer1.Digest), Schema1))
            await otherTag.AssertErrorAsync(HttpStatusCode.BadRequest, "TAG_INVALID");
        var byDigest = Unsigned(repo, "v2", layer1.Digest);
        using var put = await _client.PutManifestAsync(repo, Sha256(byDigest), byDigest, Schema1);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
    }

    [Fact]
    public async Task Every_blobSum_must_be_a_blob_of_the_repository()
    {
        var (repo, layer1, _) = await RepoWithLayersAsync();
        var elsewhere = NewRepo("legacy");
        var foreign = await _client.PushBlobAsync(elsewhere, RandomBytes(50), Media.DockerLayer);

        using var put = await _client.PutManifestAsync(repo, "latest", Signed(Unsigned(repo, "latest", foreign.Digest, layer1.Digest)), Schema1Signed);

        var error = await put.AssertErrorAsync(HttpStatusCode.BadRequest, "MANIFEST_BLOB_UNKNOWN");
        Assert.Equal(foreign.Digest, error.GetProperty("detail").GetProperty("digest").GetString());
    }

    [Fact]
    public async Task Mismatched_fsLayers_and_history_is_MANIFEST_INVALID()
    {
        var (repo, layer1, layer2) = await RepoWithLayersAsync();
        var node = JsonNode.Parse(Unsigned(repo, "latest", layer2.Digest, layer1.Digest))!;
        node["history"]!.AsArray().RemoveAt(0);

        using var put = await _client.PutManifestAsync(repo, "latest", Encoding.UTF8.GetBytes(node.ToJsonString()), Schema1);

        await put.AssertErrorAsync(HttpStatusCode.BadRequest, "MANIFEST_INVALID");
    }

    // ---- conversion for clients that read only schema 1 ----

    private async Task<(string Repo, PushedManifest Manifest, BlobRef Layer1, BlobRef Layer2)> PushSchema2ImageAsync(string tag)
    {
        var repo = NewRepo("legacy");
        var layer1 = await _client.PushBlobAsync(repo, RandomBytes(700), Media.DockerLayer);
        var layer2 = await _client.PushBlobAsync(repo, RandomBytes(800), Media.DockerLayer);
        var config = $$"""
            {"architecture":"amd64","os":"linux","created":"2024-01-02T03:04:05Z","config":{"Cmd":["/app"]},
             "rootfs":{"type":"layers","diff_ids":["sha256:{{new string('a', 64)}}","sha256:{{new string('b', 64)}}"]},
             "history":[{"created":"2024-01-02T03:00:00Z","created_by":"COPY base /"},
                        {"created":"2024-01-02T03:01:00Z","created_by":"ENV A=1","empty_layer":true},
                        {"created":"2024-01-02T03:04:05Z","created_by":"COPY app /app"}]}
            """;
        var configBlob = await _client.PushBlobAsync(repo, Encoding.UTF8.GetBytes(config), Media.DockerConfig);
        var manifest = await _client.PushManifestAsync(repo, tag, Manifests.Image(configBlob, [layer1, layer2], Media.DockerManifest), Media.DockerManifest);
        return (repo, manifest, layer1, layer2);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("*/*")]
    [InlineData(Schema1Signed)]
    [InlineData(Schema1Signed + ", " + Schema1 + ";q=0.9")]
    public async Task A_schema2_tag_is_converted_to_signed_schema1_for_legacy_clients(string? accept)
    {
        var (repo, _, layer1, layer2) = await PushSchema2ImageAsync("1.0");

        using var get = await GetAsync(repo, "1.0", accept);

        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(Schema1Signed, get.Content.Headers.ContentType?.ToString());
        Assert.Contains("Accept", get.Headers.Vary);
        var content = await get.Content.ReadAsByteArrayAsync();
        var schema1 = Schema1Manifest.Parse(content); // verifies the signature
        var signature = Assert.Single(schema1.Signatures);
        Assert.Equal("ES256", signature.Algorithm); // the registry's token-signing key (P-256) by default
        Assert.Equal(schema1.ComputeDigest().ToString(), get.Header("Docker-Content-Digest"));
        Assert.Equal(repo, schema1.Name);
        Assert.Equal("1.0", schema1.Tag);
        Assert.Equal([layer2.Digest, EmptyLayer, layer1.Digest], schema1.BlobSums.Select(d => d.ToString()));
        // The empty layer it names can be pulled from the repository.
        using var blob = await _client.GetAsync($"/v2/{repo}/blobs/{EmptyLayer}");
        Assert.Equal(HttpStatusCode.OK, blob.StatusCode);
        Assert.Equal(EmptyLayer, Sha256(await blob.Content.ReadAsByteArrayAsync()));
        // HEAD agrees; a second GET is served the same (cached) bytes.
        using var head = await GetAsync(repo, "1.0", accept, HttpMethod.Head);
        Assert.Equal(get.Header("Docker-Content-Digest"), head.Header("Docker-Content-Digest"));
        Assert.Equal(content.Length, head.Content.Headers.ContentLength);
        using var again = await GetAsync(repo, "1.0", accept);
        Assert.Equal(content, await again.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Modern_clients_get_the_schema2_manifest_as_pushed()
    {
        var (repo, manifest, _, _) = await PushSchema2ImageAsync("1.0");

        await AssertServedAsPushedAsync(repo, "1.0", manifest.Content, Media.DockerManifest, manifest.Digest, ModernAccept);
        await AssertServedAsPushedAsync(repo, "1.0", manifest.Content, Media.DockerManifest, manifest.Digest, Media.DockerManifest);
        await AssertServedAsPushedAsync(repo, "1.0", manifest.Content, Media.DockerManifest, manifest.Digest, $"{Schema1Signed}, {Media.OciIndex}");
    }

    [Fact]
    public async Task By_digest_a_schema2_manifest_is_never_converted()
    {
        var (repo, manifest, _, _) = await PushSchema2ImageAsync("1.0");

        await AssertServedAsPushedAsync(repo, manifest.Digest, manifest.Content, Media.DockerManifest, manifest.Digest);
        using var legacy = await GetAsync(repo, manifest.Digest, Schema1Signed);
        var error = await legacy.AssertErrorAsync(HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        Assert.Contains("too old", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task The_converted_manifest_can_be_pushed_back_as_schema1()
    {
        var (repo, _, _, _) = await PushSchema2ImageAsync("1.0");
        using var get = await GetAsync(repo, "1.0");
        var converted = await get.Content.ReadAsByteArrayAsync();

        using var put = await _client.PutManifestAsync(repo, "1.0", converted, Schema1Signed);

        Assert.True(put.StatusCode == HttpStatusCode.Created, await put.Content.ReadAsStringAsync());
        Assert.Equal(get.Header("Docker-Content-Digest"), put.Header("Docker-Content-Digest"));
    }

    [Fact]
    public async Task OCI_images_and_indexes_are_MANIFEST_UNKNOWN_for_a_client_that_reads_only_schema1()
    {
        var repo = NewRepo("legacy");
        var image = await _client.PushImageAsync(repo, "oci");
        var index = await _client.PushManifestAsync(repo, "multi", Manifests.Index([image.AsRef()]), Media.OciIndex);

        foreach (var reference in new[] { "oci", "multi", index.Digest })
        {
            using var get = await GetAsync(repo, reference, Schema1Signed);
            var error = await get.AssertErrorAsync(HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
            Assert.Contains("too old", error.GetProperty("message").GetString());
            using var head = await GetAsync(repo, reference, Schema1, HttpMethod.Head);
            await head.AssertErrorAsync(HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        }
        // Without an Accept header (curl, scripts) they are served as pushed.
        await AssertServedAsPushedAsync(repo, "oci", image.Content, Media.OciManifest, image.Digest);
        await AssertServedAsPushedAsync(repo, "multi", index.Content, Media.OciIndex, index.Digest, "*/*");
    }

    [Fact]
    public async Task A_docker_manifest_list_is_not_converted()
    {
        var (repo, manifest, _, _) = await PushSchema2ImageAsync("amd64");
        var list = await _client.PushManifestAsync(repo, "latest", Manifests.Index([manifest.AsRef()], Media.DockerManifestList), Media.DockerManifestList);

        using var legacy = await GetAsync(repo, "latest", Schema1Signed);
        await legacy.AssertErrorAsync(HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        await AssertServedAsPushedAsync(repo, "latest", list.Content, Media.DockerManifestList, list.Digest);
    }

    [Fact]
    public async Task An_image_whose_config_cannot_describe_it_is_MANIFEST_UNKNOWN_for_legacy_clients()
    {
        var repo = NewRepo("legacy");
        var layer = await _client.PushBlobAsync(repo, RandomBytes(100), Media.DockerLayer);
        var config = await _client.PushBlobAsync(repo, Encoding.UTF8.GetBytes("""{"architecture":"amd64","rootfs":{"type":"layers","diff_ids":[]}}"""), Media.DockerConfig);
        await _client.PushManifestAsync(repo, "odd", Manifests.Image(config, [layer], Media.DockerManifest), Media.DockerManifest);

        using var get = await GetAsync(repo, "odd");

        var error = await get.AssertErrorAsync(HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        Assert.Contains("schema 1", error.GetProperty("message").GetString());
    }

    // ---- switches ----

    private static async Task WithSettingsAsync(IReadOnlyDictionary<string, string> settings, Func<HttpClient, Task> test)
    {
        using var baseFactory = new BerthFactory();
        using var configured = baseFactory.WithWebHostBuilder(b =>
        {
            foreach (var (key, value) in settings) b.UseSetting(key, value);
        });
        using var client = configured.CreateClient();
        await test(client);
    }

    [Fact]
    public async Task Schema1_pushes_can_be_refused()
    {
        await WithSettingsAsync(new Dictionary<string, string> { ["Registry:Schema1:AcceptPush"] = "false" }, async client =>
        {
            var repo = NewRepo("legacy");
            var layer = await client.PushBlobAsync(repo, RandomBytes(100), Media.DockerLayer);

            using var put = await client.PutManifestAsync(repo, "latest", Signed(Unsigned(repo, "latest", layer.Digest)), Schema1Signed);

            var error = await put.AssertErrorAsync(HttpStatusCode.BadRequest, "MANIFEST_INVALID");
            Assert.Contains("disabled", error.GetProperty("message").GetString());
            Assert.Contains("schema 1", error.GetProperty("message").GetString());
        });
    }

    [Fact]
    public async Task Conversion_can_be_unsigned_or_off()
    {
        await WithSettingsAsync(new Dictionary<string, string> { ["Registry:Schema1:Sign"] = "false" }, async client =>
        {
            var repo = NewRepo("legacy");
            var layer = await client.PushBlobAsync(repo, RandomBytes(100), Media.DockerLayer);
            var config = await client.PushBlobAsync(repo, Encoding.UTF8.GetBytes("""{"architecture":"amd64","os":"linux"}"""), Media.DockerConfig);
            await client.PushManifestAsync(repo, "1", Manifests.Image(config, [layer], Media.DockerManifest), Media.DockerManifest);

            using var get = await client.GetAsync($"/v2/{repo}/manifests/1");

            Assert.Equal(Schema1, get.Content.Headers.ContentType?.ToString());
            var content = await get.Content.ReadAsByteArrayAsync();
            Assert.False(Schema1Manifest.Parse(content).IsSigned);
            Assert.Equal(Sha256(content), get.Header("Docker-Content-Digest"));
        });
        await WithSettingsAsync(new Dictionary<string, string> { ["Registry:Schema1:Convert"] = "false" }, async client =>
        {
            var repo = NewRepo("legacy");
            var layer = await client.PushBlobAsync(repo, RandomBytes(100), Media.DockerLayer);
            var config = await client.PushBlobAsync(repo, Encoding.UTF8.GetBytes("""{"architecture":"amd64","os":"linux"}"""), Media.DockerConfig);
            var pushed = await client.PushManifestAsync(repo, "1", Manifests.Image(config, [layer], Media.DockerManifest), Media.DockerManifest);

            using var get = await client.GetAsync($"/v2/{repo}/manifests/1");

            Assert.Equal(Media.DockerManifest, get.Content.Headers.ContentType?.ToString());
            Assert.Equal(pushed.Content, await get.Content.ReadAsByteArrayAsync());
        });
    }

    [Fact]
    public async Task Converted_manifests_can_be_signed_with_a_configured_key_file()
    {
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var keyFile = Path.Combine(Path.GetTempPath(), $"berth-schema1-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(keyFile, ecdsa.ExportPkcs8PrivateKeyPem());
        try
        {
            using var expected = Schema1SigningKey.FromECDsa(ecdsa);
            await WithSettingsAsync(new Dictionary<string, string> { ["Registry:Schema1:SigningKeyFile"] = keyFile }, async client =>
            {
                var repo = NewRepo("legacy");
                var layer = await client.PushBlobAsync(repo, RandomBytes(100), Media.DockerLayer);
                var config = await client.PushBlobAsync(repo, Encoding.UTF8.GetBytes("""{"architecture":"amd64","os":"linux"}"""), Media.DockerConfig);
                await client.PushManifestAsync(repo, "1", Manifests.Image(config, [layer], Media.DockerManifest), Media.DockerManifest);

                using var get = await client.GetAsync($"/v2/{repo}/manifests/1");

                var signature = Assert.Single(Schema1Manifest.Parse(await get.Content.ReadAsByteArrayAsync()).Signatures);
                Assert.Equal(new Schema1Signature("ES384", expected.KeyId, false), signature);
            });
        }
        finally
        {
            File.Delete(keyFile);
        }
    }
}
