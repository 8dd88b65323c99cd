using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Berth.Server.Tests.Infrastructure;
using static Berth.Server.Tests.Infrastructure.Registry;

namespace Berth.Server.Tests;

/// <summary>Pushing, pulling and deleting manifests (OCI image manifest and index, Docker schema 2 manifest and
/// manifest list), by tag and by digest, with their validation errors and the name/tag/digest grammar.</summary>
public sealed class ManifestTests(BerthFactory factory) : IClassFixture<BerthFactory>
{
    private readonly HttpClient _client = factory.CreateRegistryClient();

    /// <summary>What a current client (skopeo, Docker ≥ 1.10, podman) accepts; without it a Docker schema 2 manifest
    /// pulled by tag is converted to schema 1 (see Schema1Tests).</summary>
    private static readonly string ModernAccept = string.Join(", ", Media.OciManifest, Media.OciIndex, Media.DockerManifest, Media.DockerManifestList);

    private async Task AssertServedAsync(string repo, string reference, PushedManifest expected)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v2/{repo}/manifests/{reference}");
        request.Headers.TryAddWithoutValidation("Accept", ModernAccept);
        using var get = await _client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(expected.Content, await get.Content.ReadAsByteArrayAsync());
        Assert.Equal(expected.MediaType, get.Content.Headers.ContentType?.ToString());
        Assert.Equal(expected.Digest, get.Header("Docker-Content-Digest"));
        Assert.Equal(expected.Content.Length, get.Content.Headers.ContentLength);

        using var headRequest = new HttpRequestMessage(HttpMethod.Head, $"/v2/{repo}/manifests/{reference}");
        headRequest.Headers.TryAddWithoutValidation("Accept", ModernAccept);
        using var head = await _client.SendAsync(headRequest);
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(expected.MediaType, head.Content.Headers.ContentType?.ToString());
        Assert.Equal(expected.Digest, head.Header("Docker-Content-Digest"));
        Assert.Equal(expected.Content.Length, head.Content.Headers.ContentLength);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
    }

    private async Task AssertManifestUnknownAsync(string repo, string reference)
    {
        using var get = await _client.GetAsync($"/v2/{repo}/manifests/{reference}");
        await get.AssertErrorAsync(HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
    }

    private async Task<(BlobRef Config, BlobRef Layer)> PushBlobsAsync(string repo, string configType = Media.OciConfig, string layerType = Media.OciLayer)
    {
        var config = await _client.PushBlobAsync(repo, Encoding.UTF8.GetBytes($$"""{"architecture":"amd64","os":"linux","id":"{{Guid.NewGuid()}}"}"""), configType);
        var layer = await _client.PushBlobAsync(repo, RandomBytes(512), layerType);
        return (config, layer);
    }

    [Fact]
    public async Task Oci_image_manifest_by_tag_is_served_as_pushed_by_tag_and_by_digest()
    {
        var repo = NewRepo();

        var pushed = await _client.PushImageAsync(repo, "v1");

        await AssertServedAsync(repo, "v1", pushed);
        await AssertServedAsync(repo, pushed.Digest, pushed);
        Assert.Equal(["v1"], await _client.GetTagsAsync(repo));
    }

    [Fact]
    public async Task Manifest_bytes_are_kept_exactly_including_whitespace_and_key_order()
    {
        var repo = NewRepo();
        var (config, layer) = await PushBlobsAsync(repo);
        var text = $$"""
            {
               "layers" : [ { "size": {{layer.Size}}, "digest": "{{layer.Digest}}", "mediaType": "{{layer.MediaType}}" } ],
               "schemaVersion" : 2,
               "config" : { "digest": "{{config.Digest}}", "mediaType": "{{config.MediaType}}", "size": {{config.Size}} },
               "mediaType" : "{{Media.OciManifest}}",
               "annotations": { "note": "caf\u00e9 ☕" }
            }

            """;

        var pushed = await _client.PushManifestAsync(repo, "pretty", Encoding.UTF8.GetBytes(text), Media.OciManifest);

        await AssertServedAsync(repo, "pretty", pushed);
    }

    [Fact]
    public async Task Manifest_pushed_by_digest_is_untagged()
    {
        var repo = NewRepo();
        var (config, layer) = await PushBlobsAsync(repo);
        var content = Manifests.Image(config, [layer]);

        var pushed = await _client.PushManifestAsync(repo, Sha256(content), content, Media.OciManifest);

        await AssertServedAsync(repo, pushed.Digest, pushed);
        Assert.Empty(await _client.GetTagsAsync(repo));
    }

    [Fact]
    public async Task Manifest_without_content_type_is_recognised_by_its_media_type_field()
    {
        var repo = NewRepo();
        var (config, layer) = await PushBlobsAsync(repo);
        var content = Manifests.Image(config, [layer]);

        using var put = await _client.PutManifestAsync(repo, "latest", content, null);

        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        using var get = await _client.GetAsync($"/v2/{repo}/manifests/latest");
        Assert.Equal(Media.OciManifest, get.Content.Headers.ContentType?.ToString());
    }

    [Fact]
    public async Task Oci_index_of_pushed_manifests_is_accepted_and_served()
    {
        var repo = NewRepo();
        var amd64 = await _client.PushImageAsync(repo, "amd64");
        var arm64 = await _client.PushImageAsync(repo, "arm64");

        var index = await _client.PushManifestAsync(repo, "multi", Manifests.Index([amd64.AsRef(), arm64.AsRef()]), Media.OciIndex);

        await AssertServedAsync(repo, "multi", index);
        await AssertServedAsync(repo, index.Digest, index);
    }

    [Fact]
    public async Task Oci_index_with_a_missing_child_is_MANIFEST_BLOB_UNKNOWN()
    {
        var repo = NewRepo();
        var present = await _client.PushImageAsync(repo, "present");
        var missing = new BlobRef(Media.OciManifest, Sha256(RandomBytes(10)), 500);

        using var put = await _client.PutManifestAsync(repo, "multi", Manifests.Index([present.AsRef(), missing]), Media.OciIndex);

        await put.AssertErrorAsync(HttpStatusCode.BadRequest, "MANIFEST_BLOB_UNKNOWN");
        await AssertManifestUnknownAsync(repo, "multi");
    }

    [Fact]
    public async Task Index_child_of_another_repository_is_MANIFEST_BLOB_UNKNOWN()
    {
        var elsewhere = await _client.PushImageAsync(NewRepo(), "latest");
        var repo = NewRepo();
        await _client.PushImageAsync(repo, "own");

        using var put = await _client.PutManifestAsync(repo, "multi", Manifests.Index([elsewhere.AsRef()]), Media.OciIndex);

        await put.AssertErrorAsync(HttpStatusCode.BadRequest, "MANIFEST_BLOB_UNKNOWN");
    }

    [Fact]
    public async Task Index_child_with_a_wrong_size_is_MANIFEST_INVALID()
    {
        var repo = NewRepo();
        var child = await _client.PushImageAsync(repo, "child");

        using var put = await _client.PutManifestAsync(repo, "multi", Manifests.Index([child.AsRef() with { Size = child.Content.Length + 1 }]), Media.OciIndex);

        await put.AssertErrorAsync(HttpStatusCode.BadRequest, "MANIFEST_INVALID");
    }

    [Fact]
    public async Task Docker_schema2_manifest_and_manifest_list_are_served_as_pushed()
    {
        var repo = NewRepo();
        var children = new List<BlobRef>();
        foreach (var tag in new[] { "amd64", "arm64" })
        {
            var (config, layer) = await PushBlobsAsync(repo, Media.DockerConfig, Media.DockerLayer);
            var manifest = await _client.PushManifestAsync(repo, tag, Manifests.Image(config, [layer], Media.DockerManifest), Media.DockerManifest);
            await AssertServedAsync(repo, tag, manifest);
            children.Add(manifest.AsRef());
        }

        var list = await _client.PushManifestAsync(repo, "latest", Manifests.Index(children, Media.DockerManifestList), Media.DockerManifestList);

        await AssertServedAsync(repo, "latest", list);
        await AssertServedAsync(repo, list.Digest, list);
    }

    [Fact]
    public async Task Put_by_a_digest_that_does_not_match_the_content_is_DIGEST_INVALID()
    {
        var repo = NewRepo();
        var (config, layer) = await PushBlobsAsync(repo);
        var content = Manifests.Image(config, [layer]);
        var wrong = Sha256(RandomBytes(8));

        using var put = await _client.PutManifestAsync(repo, wrong, content, Media.OciManifest);

        await put.AssertErrorAsync(HttpStatusCode.BadRequest, "DIGEST_INVALID");
        await AssertManifestUnknownAsync(repo, wrong);
        await AssertManifestUnknownAsync(repo, Sha256(content));
    }

    [Fact]
    public async Task Put_by_a_sha512_digest_is_accepted()
    {
        var repo = NewRepo();
        var (config, layer) = await PushBlobsAsync(repo);
        var content = Manifests.Image(config, [layer]);
        var digest = Sha512(content);

        using var put = await _client.PutManifestAsync(repo, digest, content, Media.OciManifest);

        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal(digest, put.Header("Docker-Content-Digest"));
        await AssertServedAsync(repo, digest, new PushedManifest(digest, content, Media.OciManifest));
    }

    [Fact]
    public async Task Manifest_with_a_missing_blob_is_MANIFEST_BLOB_UNKNOWN_and_changes_nothing()
    {
        var repo = NewRepo();
        var (config, _) = await PushBlobsAsync(repo);
        var missing = new BlobRef(Media.OciLayer, Sha256(RandomBytes(16)), 16);
        var content = Manifests.Image(config, [missing]);

        using var put = await _client.PutManifestAsync(repo, "latest", content, Media.OciManifest);

        var error = await put.AssertErrorAsync(HttpStatusCode.BadRequest, "MANIFEST_BLOB_UNKNOWN");
        Assert.Contains(missing.Digest, error.ToString());
        await AssertManifestUnknownAsync(repo, "latest");
        await AssertManifestUnknownAsync(repo, Sha256(content));
        Assert.Empty(await _client.GetTagsAsync(repo));
    }

    [Fact]
    public async Task Refused_manifest_does_not_move_an_existing_tag()
    {
        var repo = NewRepo();
        var first = await _client.PushImageAsync(repo, "latest");
        var config = await _client.PushBlobAsync(repo, "{\"x\":1}"u8.ToArray(), Media.OciConfig);

        using var put = await _client.PutManifestAsync(repo, "latest", Manifests.Image(config, [new BlobRef(Media.OciLayer, Sha256([9]), 1)]), Media.OciManifest);

        await put.AssertErrorAsync(HttpStatusCode.BadRequest, "MANIFEST_BLOB_UNKNOWN");
        await AssertServedAsync(repo, "latest", first);
    }

    [Fact]
    public async Task Refused_first_push_does_not_create_the_repository()
    {
        var repo = NewRepo();
        var missing = new BlobRef(Media.OciConfig, Sha256(RandomBytes(16)), 16);

        using var put = await _client.PutManifestAsync(repo, "latest", Manifests.Image(missing, []), Media.OciManifest);

        await put.AssertErrorAsync(HttpStatusCode.BadRequest, "MANIFEST_BLOB_UNKNOWN");
        using var tags = await _client.GetAsync($"/v2/{repo}/tags/list");
        await tags.AssertErrorAsync(HttpStatusCode.NotFound, "NAME_UNKNOWN");
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{\"schemaVersion\": 2, ")]
    [InlineData("[]")]
    [InlineData("{}")]
    [InlineData("{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\", \"layers\": []}")]
    [InlineData("{\"schemaVersion\": 1, \"name\": \"x\", \"tag\": \"latest\", \"fsLayers\": []}")]
    [InlineData("{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\", \"config\": {\"mediaType\": \"application/vnd.oci.image.config.v1+json\", \"digest\": \"sha256:nope\", \"size\": 2}, \"layers\": []}")]
    public async Task Invalid_manifest_is_MANIFEST_INVALID(string body)
    {
        var repo = NewRepo();

        using var put = await _client.PutManifestAsync(repo, "latest", Encoding.UTF8.GetBytes(body), Media.OciManifest);

        await put.AssertErrorAsync(HttpStatusCode.BadRequest, "MANIFEST_INVALID");
        await AssertManifestUnknownAsync(repo, "latest");
    }

    [Fact]
    public async Task Content_type_that_contradicts_the_media_type_field_is_MANIFEST_INVALID()
    {
        var repo = NewRepo();
        var (config, layer) = await PushBlobsAsync(repo);

        using var put = await _client.PutManifestAsync(repo, "latest", Manifests.Image(config, [layer]), Media.DockerManifest);

        await put.AssertErrorAsync(HttpStatusCode.BadRequest, "MANIFEST_INVALID");
    }

    private static byte[] HugeManifest()
    {
        var config = new BlobRef(Media.OciConfig, Sha256([1]), 1);
        return Manifests.Image(config, [], customize: m => m["annotations"] = new JsonObject { ["padding"] = new string('x', 4 * 1024 * 1024) });
    }

    [Fact]
    public async Task Manifest_over_4_MiB_with_content_length_is_413()
    {
        var repo = NewRepo();
        var content = HugeManifest();

        using var put = await _client.PutManifestAsync(repo, "big", content, Media.OciManifest);

        await put.AssertErrorAsync(HttpStatusCode.RequestEntityTooLarge, "MANIFEST_INVALID");
        await AssertManifestUnknownAsync(repo, "big");
    }

    [Fact]
    public async Task Manifest_over_4_MiB_with_chunked_transfer_is_413()
    {
        var repo = NewRepo();
        var body = new StreamContent(new MemoryStream(HugeManifest()));
        body.Headers.ContentType = new MediaTypeHeaderValue(Media.OciManifest);

        using var put = await _client.PutAsync($"/v2/{repo}/manifests/big", new UnknownLengthContent(body));

        await put.AssertErrorAsync(HttpStatusCode.RequestEntityTooLarge, "MANIFEST_INVALID");
        await AssertManifestUnknownAsync(repo, "big");
    }

    /// <summary>Wraps content so HttpClient cannot compute its length (StreamContent over a MemoryStream would).</summary>
    private sealed class UnknownLengthContent : HttpContent
    {
        private readonly HttpContent _inner;

        public UnknownLengthContent(HttpContent inner)
        {
            _inner = inner;
            foreach (var header in inner.Headers) Headers.TryAddWithoutValidation(header.Key, header.Value);
            Headers.ContentLength = null;
        }

        protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) => _inner.CopyToAsync(stream);

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _inner.Dispose();
            base.Dispose(disposing);
        }
    }

    [Fact]
    public async Task Descriptor_size_that_differs_from_the_blob_is_MANIFEST_INVALID()
    {
        var repo = NewRepo();
        var (config, layer) = await PushBlobsAsync(repo);

        using var put = await _client.PutManifestAsync(repo, "latest", Manifests.Image(config, [layer with { Size = layer.Size + 1 }]), Media.OciManifest);

        await put.AssertErrorAsync(HttpStatusCode.BadRequest, "MANIFEST_INVALID");
        await AssertManifestUnknownAsync(repo, "latest");
    }

    [Theory]
    [InlineData("-leading-dash")]
    [InlineData(".leading-dot")]
    [InlineData("has+plus")]
    [InlineData("has%20space")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")] // 129
    public async Task Bad_tag_is_TAG_INVALID(string tag)
    {
        var repo = NewRepo();
        var (config, layer) = await PushBlobsAsync(repo);

        using var put = await _client.PutManifestAsync(repo, tag, Manifests.Image(config, [layer]), Media.OciManifest);
        await put.AssertErrorAsync(HttpStatusCode.BadRequest, "TAG_INVALID");
        using var get = await _client.GetAsync($"/v2/{repo}/manifests/{tag}");
        await get.AssertErrorAsync(HttpStatusCode.BadRequest, "TAG_INVALID");
    }

    [Fact]
    public async Task Longest_tag_and_tag_characters_are_accepted()
    {
        var repo = NewRepo();
        var tag = "_Az09.-" + new string('t', 121);
        Assert.Equal(128, tag.Length);

        var pushed = await _client.PushImageAsync(repo, tag);

        await AssertServedAsync(repo, tag, pushed);
    }

    [Theory]
    [InlineData("sha256:abc")]
    [InlineData("sha256:ABCDEF0000000000000000000000000000000000000000000000000000000000")]
    [InlineData("md5:d41d8cd98f00b204e9800998ecf8427e")]
    [InlineData("sha256:")]
    public async Task Bad_digest_reference_is_DIGEST_INVALID(string digest)
    {
        var repo = NewRepo();
        using (var get = await _client.GetAsync($"/v2/{repo}/manifests/{digest}"))
            await get.AssertErrorAsync(HttpStatusCode.BadRequest, "DIGEST_INVALID");
        using (var put = await _client.PutManifestAsync(repo, digest, "{}"u8.ToArray(), Media.OciManifest))
            await put.AssertErrorAsync(HttpStatusCode.BadRequest, "DIGEST_INVALID");
        using (var delete = await _client.DeleteAsync($"/v2/{repo}/manifests/{digest}"))
            await delete.AssertErrorAsync(HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }

    public static TheoryData<string> BadNames() => new()
    {
        "Upper/case",
        "library/App",
        "a/../b",
        "a/./b",
        "a//b",
        "-dash/start",
        "trailing-/x",
        "dots..in/name",
        "a/b_",
        new string('a', 256),
        string.Join('/', Enumerable.Repeat(new string('n', 63), 4)) + "/abcd", // 4*63 + 3 + 5 = 260
    };

    [Theory]
    [MemberData(nameof(BadNames))]
    public async Task Bad_repository_name_is_NAME_INVALID(string name)
    {
        foreach (var path in new[] { $"/v2/{name}/manifests/latest", $"/v2/{name}/tags/list", $"/v2/{name}/blobs/uploads/" })
        {
            var method = path.EndsWith("uploads/", StringComparison.Ordinal) ? HttpMethod.Post : HttpMethod.Get;
            if (name.Contains("/./") || name.Contains("/../"))
            {
                // HttpClient (and Uri) resolve "." and ".." segments away, so send the raw path straight to the test server.
                var context = await factory.Server.SendAsync(c =>
                {
                    c.Request.Method = method.Method;
                    c.Request.Path = path;
                });
                Assert.Equal(400, context.Response.StatusCode);
                Assert.Equal("registry/2.0", context.Response.Headers["Docker-Distribution-API-Version"].ToString());
                Assert.Contains("\"code\":\"NAME_INVALID\"", await new StreamReader(context.Response.Body).ReadToEndAsync());
                continue;
            }
            using var response = await _client.SendAsync(new HttpRequestMessage(method, path));
            await response.AssertErrorAsync(HttpStatusCode.BadRequest, "NAME_INVALID");
        }
    }

    [Fact]
    public async Task Longest_repository_name_is_accepted()
    {
        var name = string.Join('/', Enumerable.Repeat(new string('n', 63), 4)); // 4*63 + 3
        Assert.Equal(255, name.Length);

        var pushed = await _client.PushImageAsync(name, "latest");

        await AssertServedAsync(name, "latest", pushed);
    }

    [Fact]
    public async Task Nested_repository_names_work()
    {
        const string repo = "group/sub/project/image";

        var pushed = await _client.PushImageAsync(repo, "1.0");

        await AssertServedAsync(repo, "1.0", pushed);
        Assert.Equal(["1.0"], await _client.GetTagsAsync(repo));
        using var parent = await _client.GetAsync("/v2/group/sub/project/manifests/1.0");
        await parent.AssertErrorAsync(HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
    }

    [Fact]
    public async Task Repository_names_with_separators_work()
    {
        const string repo = "my-group.io/sub__x/app_1--2";

        var pushed = await _client.PushImageAsync(repo, "latest");

        await AssertServedAsync(repo, "latest", pushed);
    }

    [Fact]
    public async Task Unknown_manifest_is_MANIFEST_UNKNOWN()
    {
        var repo = NewRepo();
        await _client.PushImageAsync(repo, "exists");

        await AssertManifestUnknownAsync(repo, "missing");
        await AssertManifestUnknownAsync(repo, Sha256([1, 2, 3]));
        await AssertManifestUnknownAsync(NewRepo(), "latest");
        using var head = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v2/{repo}/manifests/missing"));
        await head.AssertErrorAsync(HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
    }

    [Fact]
    public async Task If_none_match_on_a_digest_reference_is_304()
    {
        var repo = NewRepo();
        var pushed = await _client.PushImageAsync(repo, "latest");

        var request = new HttpRequestMessage(HttpMethod.Get, $"/v2/{repo}/manifests/{pushed.Digest}");
        request.Headers.IfNoneMatch.Add(new EntityTagHeaderValue($"\"{pushed.Digest}\""));
        using var response = await _client.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(pushed.Digest, response.Header("Docker-Content-Digest"));
    }

    [Fact]
    public async Task Pushing_the_same_manifest_again_is_idempotent()
    {
        var repo = NewRepo();
        var pushed = await _client.PushImageAsync(repo, "a");

        await _client.PushManifestAsync(repo, "a", pushed.Content, pushed.MediaType);
        await _client.PushManifestAsync(repo, "b", pushed.Content, pushed.MediaType);
        await _client.PushManifestAsync(repo, pushed.Digest, pushed.Content, pushed.MediaType);

        await AssertServedAsync(repo, "b", pushed);
        Assert.Equal(["a", "b"], await _client.GetTagsAsync(repo));
    }

    [Fact]
    public async Task Delete_by_tag_removes_only_the_tag()
    {
        var repo = NewRepo();
        var pushed = await _client.PushImageAsync(repo, "one");
        await _client.PushManifestAsync(repo, "two", pushed.Content, pushed.MediaType);

        using (var delete = await _client.DeleteAsync($"/v2/{repo}/manifests/one"))
            Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);

        await AssertManifestUnknownAsync(repo, "one");
        await AssertServedAsync(repo, "two", pushed);
        await AssertServedAsync(repo, pushed.Digest, pushed);
        Assert.Equal(["two"], await _client.GetTagsAsync(repo));
        using var again = await _client.DeleteAsync($"/v2/{repo}/manifests/one");
        await again.AssertErrorAsync(HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
    }

    [Fact]
    public async Task Delete_by_digest_removes_the_manifest_and_its_tags()
    {
        var repo = NewRepo();
        var pushed = await _client.PushImageAsync(repo, "one");
        await _client.PushManifestAsync(repo, "two", pushed.Content, pushed.MediaType);
        var other = await _client.PushImageAsync(repo, "other");

        using (var delete = await _client.DeleteAsync($"/v2/{repo}/manifests/{pushed.Digest}"))
            Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);

        await AssertManifestUnknownAsync(repo, pushed.Digest);
        await AssertManifestUnknownAsync(repo, "one");
        await AssertManifestUnknownAsync(repo, "two");
        await AssertServedAsync(repo, "other", other);
        Assert.Equal(["other"], await _client.GetTagsAsync(repo));
        using var again = await _client.DeleteAsync($"/v2/{repo}/manifests/{pushed.Digest}");
        await again.AssertErrorAsync(HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");

        // It can be pushed again afterwards.
        await _client.PushManifestAsync(repo, "one", pushed.Content, pushed.MediaType);
        await AssertServedAsync(repo, "one", pushed);
    }

    [Fact]
    public async Task Delete_in_an_unknown_repository_is_MANIFEST_UNKNOWN()
    {
        using var response = await _client.DeleteAsync($"/v2/{NewRepo()}/manifests/latest");

        await response.AssertErrorAsync(HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
    }

    [Fact]
    public async Task Retag_moves_the_tag_to_the_new_manifest()
    {
        var repo = NewRepo();
        var first = await _client.PushImageAsync(repo, "latest");

        var second = await _client.PushImageAsync(repo, "latest");

        Assert.NotEqual(first.Digest, second.Digest);
        await AssertServedAsync(repo, "latest", second);
        await AssertServedAsync(repo, first.Digest, first);
        Assert.Equal(["latest"], await _client.GetTagsAsync(repo));
    }

    [Fact]
    public async Task Foreign_layers_need_not_be_pushed()
    {
        var repo = NewRepo();
        var (config, layer) = await PushBlobsAsync(repo, Media.DockerConfig, Media.DockerLayer);
        var foreign = new BlobRef("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", Sha256(RandomBytes(10)), 10);
        var content = Manifests.Image(config, [foreign, layer], Media.DockerManifest,
            m => m["layers"]![0]!["urls"] = new JsonArray("https://example.invalid/layer.tar.gz"));

        var pushed = await _client.PushManifestAsync(repo, "windows", content, Media.DockerManifest);

        await AssertServedAsync(repo, "windows", pushed);
    }
}
