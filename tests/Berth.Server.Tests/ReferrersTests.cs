using System.Net;
using System.Text.Json.Nodes;
using Berth.Server.Tests.Infrastructure;
using static Berth.Server.Tests.Infrastructure.Registry;

namespace Berth.Server.Tests;

/// <summary>OCI 1.1 referrers: the <c>OCI-Subject</c> header on push and <c>GET /v2/&lt;name&gt;/referrers/&lt;digest&gt;</c>.</summary>
public sealed class ReferrersTests(BerthFactory factory) : IClassFixture<BerthFactory>
{
    private const string SignatureType = "application/vnd.example.signature.v1";
    private const string SbomType = "application/spdx+json";
    private static readonly byte[] EmptyJson = "{}"u8.ToArray();
    private readonly HttpClient _client = factory.CreateRegistryClient();

    /// <summary>Pushes an artifact manifest (empty config, one layer) whose subject is <paramref name="subject"/>.</summary>
    private async Task<(PushedManifest Manifest, HttpResponseMessage Response)> PushArtifactAsync(string repo, PushedManifest subject, string? artifactType, Dictionary<string, string>? annotations = null, string configType = Media.OciEmpty)
    {
        var config = await _client.PushBlobAsync(repo, EmptyJson, configType);
        var layer = await _client.PushBlobAsync(repo, RandomBytes(64), "application/octet-stream");
        var content = Manifests.Image(config, [layer], customize: m =>
        {
            if (artifactType is not null) m["artifactType"] = artifactType;
            m["subject"] = Manifests.Descriptor(subject.AsRef());
            if (annotations is not null) m["annotations"] = new JsonObject(annotations.Select(a => KeyValuePair.Create(a.Key, (JsonNode?)a.Value)));
        });
        var response = await _client.PutManifestAsync(repo, Sha256(content), content, Media.OciManifest);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (new PushedManifest(Sha256(content), content, Media.OciManifest), response);
    }

    [Fact]
    public async Task Push_with_a_subject_answers_OCI_Subject_and_the_referrer_is_listed()
    {
        var repo = NewRepo();
        var image = await _client.PushImageAsync(repo, "latest");
        var annotations = new Dictionary<string, string> { ["org.opencontainers.image.created"] = "2026-01-01T00:00:00Z", ["com.example.signer"] = "ci" };

        var (signature, push) = await PushArtifactAsync(repo, image, SignatureType, annotations);
        using (push) Assert.Equal(image.Digest, push.Header("OCI-Subject"));

        using var response = await _client.GetAsync($"/v2/{repo}/referrers/{image.Digest}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Media.OciIndex, response.Content.Headers.ContentType?.MediaType);
        Assert.Null(response.Header("OCI-Filters-Applied"));
        var index = await response.ReadJsonAsync();
        Assert.Equal(2, index.GetProperty("schemaVersion").GetInt32());
        Assert.Equal(Media.OciIndex, index.GetProperty("mediaType").GetString());
        var entry = Assert.Single(index.GetProperty("manifests").EnumerateArray());
        Assert.Equal(Media.OciManifest, entry.GetProperty("mediaType").GetString());
        Assert.Equal(signature.Digest, entry.GetProperty("digest").GetString());
        Assert.Equal(signature.Content.Length, entry.GetProperty("size").GetInt64());
        Assert.Equal(SignatureType, entry.GetProperty("artifactType").GetString());
        var listed = entry.GetProperty("annotations").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
        Assert.Equal(annotations.OrderBy(a => a.Key), listed.OrderBy(a => a.Key));
    }

    [Fact]
    public async Task Image_manifest_without_artifactType_is_listed_with_its_config_media_type()
    {
        var repo = NewRepo();
        var image = await _client.PushImageAsync(repo, "latest");

        var (sbom, _) = await PushArtifactAsync(repo, image, artifactType: null, configType: SbomType);

        using var response = await _client.GetAsync($"/v2/{repo}/referrers/{image.Digest}");
        var entry = Assert.Single((await response.ReadJsonAsync()).GetProperty("manifests").EnumerateArray());
        Assert.Equal(sbom.Digest, entry.GetProperty("digest").GetString());
        Assert.Equal(SbomType, entry.GetProperty("artifactType").GetString());
        Assert.False(entry.TryGetProperty("annotations", out _));
    }

    [Fact]
    public async Task ArtifactType_filter_lists_only_matching_referrers_and_says_so()
    {
        var repo = NewRepo();
        var image = await _client.PushImageAsync(repo, "latest");
        var (sig1, _) = await PushArtifactAsync(repo, image, SignatureType, new() { ["n"] = "1" });
        var (sbom, _) = await PushArtifactAsync(repo, image, SbomType);
        var (sig2, _) = await PushArtifactAsync(repo, image, SignatureType, new() { ["n"] = "2" });

        using (var all = await _client.GetAsync($"/v2/{repo}/referrers/{image.Digest}"))
        {
            var digests = (await all.ReadJsonAsync()).GetProperty("manifests").EnumerateArray().Select(e => e.GetProperty("digest").GetString()).ToHashSet();
            Assert.Equal(new HashSet<string?> { sig1.Digest, sbom.Digest, sig2.Digest }, digests);
        }

        using var filtered = await _client.GetAsync($"/v2/{repo}/referrers/{image.Digest}?artifactType={Uri.EscapeDataString(SignatureType)}");
        Assert.Equal(HttpStatusCode.OK, filtered.StatusCode);
        Assert.Equal("artifactType", filtered.Header("OCI-Filters-Applied"));
        var entries = (await filtered.ReadJsonAsync()).GetProperty("manifests").EnumerateArray().ToList();
        Assert.Equal(new HashSet<string?> { sig1.Digest, sig2.Digest }, entries.Select(e => e.GetProperty("digest").GetString()).ToHashSet());
        Assert.All(entries, e => Assert.Equal(SignatureType, e.GetProperty("artifactType").GetString()));

        using var none = await _client.GetAsync($"/v2/{repo}/referrers/{image.Digest}?artifactType=application/none");
        Assert.Equal("artifactType", none.Header("OCI-Filters-Applied"));
        Assert.Equal(0, (await none.ReadJsonAsync()).GetProperty("manifests").GetArrayLength());
    }

    [Fact]
    public async Task Referrer_may_be_pushed_before_its_subject()
    {
        var repo = NewRepo();
        var absent = new PushedManifest(Sha256(RandomBytes(32)), new byte[321], Media.OciManifest);

        var (signature, push) = await PushArtifactAsync(repo, absent, SignatureType);

        using (push) Assert.Equal(absent.Digest, push.Header("OCI-Subject"));
        using var response = await _client.GetAsync($"/v2/{repo}/referrers/{absent.Digest}");
        var entry = Assert.Single((await response.ReadJsonAsync()).GetProperty("manifests").EnumerateArray());
        Assert.Equal(signature.Digest, entry.GetProperty("digest").GetString());
    }

    [Fact]
    public async Task Manifest_without_a_subject_has_no_OCI_Subject_header()
    {
        var repo = NewRepo();
        var config = await _client.PushBlobAsync(repo, EmptyJson, Media.OciConfig);

        using var put = await _client.PutManifestAsync(repo, "plain", Manifests.Image(config, []), Media.OciManifest);

        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Null(put.Header("OCI-Subject"));
    }

    [Fact]
    public async Task Subject_without_referrers_is_200_with_an_empty_index()
    {
        var repo = NewRepo();
        var image = await _client.PushImageAsync(repo, "latest");

        foreach (var path in new[] { $"/v2/{repo}/referrers/{image.Digest}", $"/v2/{repo}/referrers/{Sha256([42])}", $"/v2/{NewRepo()}/referrers/{image.Digest}" })
        {
            using var response = await _client.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(Media.OciIndex, response.Content.Headers.ContentType?.MediaType);
            var index = await response.ReadJsonAsync();
            Assert.Equal(2, index.GetProperty("schemaVersion").GetInt32());
            Assert.Equal(0, index.GetProperty("manifests").GetArrayLength());
        }
    }

    [Fact]
    public async Task Referrers_of_a_deleted_referrer_are_gone()
    {
        var repo = NewRepo();
        var image = await _client.PushImageAsync(repo, "latest");
        var (signature, _) = await PushArtifactAsync(repo, image, SignatureType);

        using (var delete = await _client.DeleteAsync($"/v2/{repo}/manifests/{signature.Digest}"))
            Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);

        using var response = await _client.GetAsync($"/v2/{repo}/referrers/{image.Digest}");
        Assert.Equal(0, (await response.ReadJsonAsync()).GetProperty("manifests").GetArrayLength());
    }

    [Theory]
    [InlineData("sha256:abc")]
    [InlineData("latest")]
    [InlineData("md5:d41d8cd98f00b204e9800998ecf8427e")]
    public async Task Invalid_digest_is_400_DIGEST_INVALID(string digest)
    {
        using var response = await _client.GetAsync($"/v2/{NewRepo()}/referrers/{digest}");

        await response.AssertErrorAsync(HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }
}
