using System.Net;
using System.Net.Http.Headers;
using Berth.Server.Tests.Infrastructure;
using static Berth.Server.Tests.Infrastructure.Registry;

namespace Berth.Server.Tests;

/// <summary>Pulling and deleting blobs, range requests, conditional requests, and blob visibility across repositories
/// (a blob is served only by repositories that pushed or mounted it).</summary>
public sealed class BlobReadTests(BerthFactory factory) : IClassFixture<BerthFactory>
{
    private const string MissingDigest = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    private readonly HttpClient _client = factory.CreateRegistryClient();

    private async Task<(string Repo, byte[] Content, string Digest)> PushAsync(int size = 1000)
    {
        var repo = NewRepo();
        var content = RandomBytes(size);
        var blob = await _client.PushBlobAsync(repo, content);
        return (repo, content, blob.Digest);
    }

    private Task<HttpResponseMessage> GetRangeAsync(string repo, string digest, string range)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, $"/v2/{repo}/blobs/{digest}");
        request.Headers.TryAddWithoutValidation("Range", range);
        return _client.SendAsync(request);
    }

    [Fact]
    public async Task Get_serves_the_bytes_with_length_digest_and_etag()
    {
        var (repo, content, digest) = await PushAsync();

        using var response = await _client.GetAsync($"/v2/{repo}/blobs/{digest}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(content, await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(content.Length, response.Content.Headers.ContentLength);
        Assert.Equal(digest, response.Header("Docker-Content-Digest"));
        Assert.Equal($"\"{digest}\"", response.Headers.ETag?.ToString());
        Assert.Equal("bytes", response.Header("Accept-Ranges"));
        Assert.Equal("application/octet-stream", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_blob_above_the_zero_copy_minimum_falls_back_cleanly_where_there_is_no_socket()
    {
        // The in-process test server has no connection socket (IConnectionSocketFeature): the regular path serves
        // it, whole and as a range, with the connection kept (no Connection: close).
        var (repo, content, digest) = await PushAsync(3 << 20);

        using var response = await _client.GetAsync($"/v2/{repo}/blobs/{digest}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(content, await response.Content.ReadAsByteArrayAsync());
        Assert.False(response.Headers.ConnectionClose ?? false);

        using var range = await GetRangeAsync(repo, digest, "bytes=1048000-2097999");
        Assert.Equal(HttpStatusCode.PartialContent, range.StatusCode);
        Assert.Equal(content.AsSpan(1_048_000, 1_050_000).ToArray(), await range.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Head_has_the_headers_and_no_body()
    {
        var (repo, content, digest) = await PushAsync();

        using var response = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v2/{repo}/blobs/{digest}"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(content.Length, response.Content.Headers.ContentLength);
        Assert.Equal(digest, response.Header("Docker-Content-Digest"));
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("bytes=10-19", 10, 10)]
    [InlineData("bytes=0-0", 0, 1)]
    [InlineData("bytes=990-", 990, 10)]
    [InlineData("bytes=995-5000", 995, 5)]
    [InlineData("bytes=-5", 995, 5)]
    [InlineData("bytes=-5000", 0, 1000)]
    public async Task Range_request_is_206_with_content_range(string range, int start, int length)
    {
        var (repo, content, digest) = await PushAsync(1000);

        using var response = await GetRangeAsync(repo, digest, range);

        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal($"bytes {start}-{start + length - 1}/1000", response.Header("Content-Range"));
        Assert.Equal(length, response.Content.Headers.ContentLength);
        Assert.Equal(content.AsSpan(start, length).ToArray(), await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(digest, response.Header("Docker-Content-Digest"));
    }

    [Theory]
    [InlineData("bytes=1000-")]
    [InlineData("bytes=5000-6000")]
    [InlineData("bytes=-0")]
    public async Task Unsatisfiable_range_is_416(string range)
    {
        var (repo, _, digest) = await PushAsync(1000);

        using var response = await GetRangeAsync(repo, digest, range);

        await response.AssertErrorAsync(HttpStatusCode.RequestedRangeNotSatisfiable, "RANGE_INVALID");
        Assert.Equal("bytes */1000", response.Header("Content-Range"));
    }

    [Theory]
    [InlineData("bytes=0-1,5-6")]
    [InlineData("items=0-5")]
    [InlineData("garbage")]
    public async Task Range_header_that_is_not_one_byte_range_gets_the_whole_blob(string range)
    {
        var (repo, content, digest) = await PushAsync(100);

        using var response = await GetRangeAsync(repo, digest, range);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(content, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task If_none_match_with_the_etag_is_304()
    {
        var (repo, content, digest) = await PushAsync();

        var request = new HttpRequestMessage(HttpMethod.Get, $"/v2/{repo}/blobs/{digest}");
        request.Headers.IfNoneMatch.Add(new EntityTagHeaderValue($"\"{digest}\""));
        using var notModified = await _client.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Empty(await notModified.Content.ReadAsByteArrayAsync());
        Assert.Equal(digest, notModified.Header("Docker-Content-Digest"));

        var several = new HttpRequestMessage(HttpMethod.Get, $"/v2/{repo}/blobs/{digest}");
        several.Headers.IfNoneMatch.Add(new EntityTagHeaderValue($"\"{MissingDigest}\""));
        several.Headers.IfNoneMatch.Add(new EntityTagHeaderValue($"\"{digest}\""));
        using var listed = await _client.SendAsync(several);
        Assert.Equal(HttpStatusCode.NotModified, listed.StatusCode);

        var other = new HttpRequestMessage(HttpMethod.Get, $"/v2/{repo}/blobs/{digest}");
        other.Headers.IfNoneMatch.Add(new EntityTagHeaderValue($"\"{MissingDigest}\""));
        using var modified = await _client.SendAsync(other);
        Assert.Equal(HttpStatusCode.OK, modified.StatusCode);
        Assert.Equal(content, await modified.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Unknown_blob_is_404_BLOB_UNKNOWN()
    {
        var (repo, _, _) = await PushAsync();

        using var get = await _client.GetAsync($"/v2/{repo}/blobs/{MissingDigest}");
        await get.AssertErrorAsync(HttpStatusCode.NotFound, "BLOB_UNKNOWN");
        using var head = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v2/{repo}/blobs/{MissingDigest}"));
        await head.AssertErrorAsync(HttpStatusCode.NotFound, "BLOB_UNKNOWN");
        using var unknownRepo = await _client.GetAsync($"/v2/{NewRepo()}/blobs/{MissingDigest}");
        await unknownRepo.AssertErrorAsync(HttpStatusCode.NotFound, "BLOB_UNKNOWN");
    }

    [Theory]
    [InlineData("sha256:abc")]
    [InlineData("sha256:ABCDEF0000000000000000000000000000000000000000000000000000000000")]
    [InlineData("md5:d41d8cd98f00b204e9800998ecf8427e")]
    [InlineData("latest")]
    public async Task Malformed_digest_is_DIGEST_INVALID(string digest)
    {
        using var response = await _client.GetAsync($"/v2/{NewRepo()}/blobs/{digest}");

        await response.AssertErrorAsync(HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }

    [Fact]
    public async Task Delete_is_202_and_the_blob_is_gone_from_the_repository()
    {
        var (repo, content, digest) = await PushAsync();
        var (other, _, _) = await PushAsync();
        await _client.PushBlobAsync(other, content);

        using (var delete = await _client.DeleteAsync($"/v2/{repo}/blobs/{digest}"))
        {
            Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);
            Assert.Equal(digest, delete.Header("Docker-Content-Digest"));
        }

        using (var get = await _client.GetAsync($"/v2/{repo}/blobs/{digest}"))
            await get.AssertErrorAsync(HttpStatusCode.NotFound, "BLOB_UNKNOWN");
        using (var again = await _client.DeleteAsync($"/v2/{repo}/blobs/{digest}"))
            await again.AssertErrorAsync(HttpStatusCode.NotFound, "BLOB_UNKNOWN");
        using var stillThere = await _client.GetAsync($"/v2/{other}/blobs/{digest}");
        Assert.Equal(HttpStatusCode.OK, stillThere.StatusCode);
        Assert.Equal(content, await stillThere.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Blob_of_another_repository_is_BLOB_UNKNOWN_even_with_its_digest()
    {
        var (a, _, digest) = await PushAsync();
        var b = NewRepo();
        await _client.PushBlobAsync(b, RandomBytes(10)); // b exists

        using var get = await _client.GetAsync($"/v2/{b}/blobs/{digest}");
        await get.AssertErrorAsync(HttpStatusCode.NotFound, "BLOB_UNKNOWN");
        using var head = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v2/{b}/blobs/{digest}"));
        Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
        using var ranged = await GetRangeAsync(b, digest, "bytes=0-10");
        await ranged.AssertErrorAsync(HttpStatusCode.NotFound, "BLOB_UNKNOWN");
        using var delete = await _client.DeleteAsync($"/v2/{b}/blobs/{digest}");
        await delete.AssertErrorAsync(HttpStatusCode.NotFound, "BLOB_UNKNOWN");
        using var stillInA = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v2/{a}/blobs/{digest}"));
        Assert.Equal(HttpStatusCode.OK, stillInA.StatusCode);
    }

    [Fact]
    public async Task Manifest_referencing_a_blob_of_another_repository_is_MANIFEST_BLOB_UNKNOWN()
    {
        var a = NewRepo();
        var config = await _client.PushBlobAsync(a, "{}"u8.ToArray(), Media.OciConfig);
        var layer = await _client.PushBlobAsync(a, RandomBytes(100));

        using var response = await _client.PutManifestAsync(NewRepo(), "latest", Manifests.Image(config, [layer]), Media.OciManifest);

        await response.AssertErrorAsync(HttpStatusCode.BadRequest, "MANIFEST_BLOB_UNKNOWN");
    }

    [Fact]
    public async Task Mount_from_a_repository_with_the_blob_is_201_and_makes_it_readable()
    {
        var (a, content, digest) = await PushAsync();
        var b = NewRepo();

        using var mount = await _client.PostAsync($"/v2/{b}/blobs/uploads/?mount={digest}&from={a}", null);

        Assert.Equal(HttpStatusCode.Created, mount.StatusCode);
        Assert.Equal($"/v2/{b}/blobs/{digest}", mount.Header("Location"));
        Assert.Equal(digest, mount.Header("Docker-Content-Digest"));
        using var get = await _client.GetAsync($"/v2/{b}/blobs/{digest}");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(content, await get.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData(true)]  // source repository exists but lacks the blob
    [InlineData(false)] // source repository name is not even valid
    public async Task Mount_that_cannot_be_served_falls_back_to_an_upload_session(bool validSource)
    {
        var (_, content, digest) = await PushAsync();
        var source = NewRepo();
        await _client.PushBlobAsync(source, RandomBytes(10));
        var b = NewRepo();

        using var mount = await _client.PostAsync($"/v2/{b}/blobs/uploads/?mount={digest}&from={(validSource ? source : "NOT/valid")}", null);

        Assert.Equal(HttpStatusCode.Accepted, mount.StatusCode);
        var location = mount.Header("Location")!;
        Assert.StartsWith($"/v2/{b}/blobs/uploads/", location);
        Assert.Equal("0-0", mount.Header("Range"));
        using (var get = await _client.GetAsync($"/v2/{b}/blobs/{digest}"))
            Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        using var put = await _client.PutAsync(WithDigest(location, digest), new ByteArrayContent(content));
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
    }

    [Fact]
    public async Task Mount_with_a_malformed_digest_is_DIGEST_INVALID()
    {
        var (a, _, _) = await PushAsync();

        using var mount = await _client.PostAsync($"/v2/{NewRepo()}/blobs/uploads/?mount=sha256:nope&from={a}", null);

        await mount.AssertErrorAsync(HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }
}
