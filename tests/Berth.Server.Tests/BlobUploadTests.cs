using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using Berth.Server.Tests.Infrastructure;
using static Berth.Server.Tests.Infrastructure.Registry;

namespace Berth.Server.Tests;

/// <summary>Pushing blobs: monolithic POST, upload sessions (streamed and chunked PATCH, status, final PUT, cancel)
/// and their error paths.</summary>
public sealed partial class BlobUploadTests(BerthFactory factory) : IClassFixture<BerthFactory>
{
    private readonly HttpClient _client = factory.CreateRegistryClient();

    [GeneratedRegex("^/v2/(?<name>.+)/blobs/uploads/(?<id>[0-9a-f-]{36})$")]
    private static partial Regex UploadLocation();

    private async Task<byte[]> GetBlobAsync(string repo, string digest)
    {
        using var response = await _client.GetAsync($"/v2/{repo}/blobs/{digest}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsByteArrayAsync();
    }

    [Fact]
    public async Task Monolithic_post_with_digest_stores_the_blob()
    {
        var repo = NewRepo();
        var content = RandomBytes(5000);
        var digest = Sha256(content);

        using var response = await _client.PostAsync($"/v2/{repo}/blobs/uploads/?digest={digest}", new ByteArrayContent(content));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal($"/v2/{repo}/blobs/{digest}", response.Header("Location"));
        Assert.Equal(digest, response.Header("Docker-Content-Digest"));
        Assert.Equal(content, await GetBlobAsync(repo, digest));
    }

    [Fact]
    public async Task Monolithic_post_with_a_wrong_digest_is_DIGEST_INVALID_and_stores_nothing()
    {
        var repo = NewRepo();
        var content = RandomBytes(100);
        var claimed = Sha256(RandomBytes(100));

        using var response = await _client.PostAsync($"/v2/{repo}/blobs/uploads/?digest={claimed}", new ByteArrayContent(content));

        await response.AssertErrorAsync(HttpStatusCode.BadRequest, "DIGEST_INVALID");
        foreach (var digest in new[] { claimed, Sha256(content) })
        {
            using var head = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v2/{repo}/blobs/{digest}"));
            Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
        }
    }

    [Fact]
    public async Task Monolithic_post_with_a_malformed_digest_is_DIGEST_INVALID()
    {
        using var response = await _client.PostAsync($"/v2/{NewRepo()}/blobs/uploads/?digest=sha256:1234", new ByteArrayContent([1, 2, 3]));

        await response.AssertErrorAsync(HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }

    [Fact]
    public async Task Pushing_the_same_blob_twice_succeeds_both_times()
    {
        var repo = NewRepo();
        var content = RandomBytes(300);

        await _client.PushBlobAsync(repo, content);
        await _client.PushBlobAsync(repo, content);

        Assert.Equal(content, await GetBlobAsync(repo, Sha256(content)));
    }

    [Fact]
    public async Task Post_starts_a_session_with_Location_Range_and_upload_uuid()
    {
        var repo = NewRepo();

        using var response = await _client.PostAsync($"/v2/{repo}/blobs/uploads/", null);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var match = UploadLocation().Match(response.Header("Location")!);
        Assert.True(match.Success, response.Header("Location"));
        Assert.Equal(repo, match.Groups["name"].Value);
        Assert.Equal(match.Groups["id"].Value, response.Header("Docker-Upload-UUID"));
        Assert.Equal("0-0", response.Header("Range"));
        Assert.Equal(0, response.Content.Headers.ContentLength);
    }

    [Fact]
    public async Task Status_of_a_new_session_is_204_with_Range_0_0()
    {
        var location = await _client.StartUploadAsync(NewRepo());

        using var response = await _client.GetAsync(location);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal("0-0", response.Header("Range"));
        Assert.Equal(location, response.Header("Location"));
        Assert.Equal(location[^36..], response.Header("Docker-Upload-UUID"));
    }

    [Fact]
    public async Task Streamed_patch_then_put_without_body_stores_the_blob()
    {
        var repo = NewRepo();
        var content = RandomBytes(700_000); // several copy buffers
        var location = await _client.StartUploadAsync(repo);

        var streamed = new StreamContent(new MemoryStream(content)); // no Content-Length: chunked transfer
        using var patch = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Patch, location) { Content = streamed });
        Assert.Equal(HttpStatusCode.Accepted, patch.StatusCode);
        Assert.Equal($"0-{content.Length - 1}", patch.Header("Range"));
        Assert.Equal(location, patch.Header("Location"));

        using var put = await _client.PutAsync(WithDigest(location, Sha256(content)), null);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal($"/v2/{repo}/blobs/{Sha256(content)}", put.Header("Location"));
        Assert.Equal(Sha256(content), put.Header("Docker-Content-Digest"));
        Assert.Equal(content, await GetBlobAsync(repo, Sha256(content)));
    }

    [Fact]
    public async Task Chunked_patches_in_order_then_put_with_the_final_chunk()
    {
        var repo = NewRepo();
        var content = RandomBytes(3000);
        var location = await _client.StartUploadAsync(repo);

        for (int offset = 0; offset < 2000; offset += 1000)
        {
            using var patch = await _client.PatchChunkAsync(location, content[offset..(offset + 1000)], offset);
            Assert.Equal(HttpStatusCode.Accepted, patch.StatusCode);
            Assert.Equal($"0-{offset + 999}", patch.Header("Range"));
            Assert.Equal(location, patch.Header("Location"));
            Assert.Equal(location[^36..], patch.Header("Docker-Upload-UUID"));
        }

        using (var status = await _client.GetAsync(location))
        {
            Assert.Equal(HttpStatusCode.NoContent, status.StatusCode);
            Assert.Equal("0-1999", status.Header("Range"));
        }

        var last = new ByteArrayContent(content[2000..]);
        last.Headers.TryAddWithoutValidation("Content-Range", "2000-2999");
        using var put = await _client.PutAsync(WithDigest(location, Sha256(content)), last);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal(content, await GetBlobAsync(repo, Sha256(content)));
    }

    [Fact]
    public async Task Content_range_with_a_bytes_unit_is_accepted()
    {
        var repo = NewRepo();
        var content = RandomBytes(20);
        var location = await _client.StartUploadAsync(repo);

        var first = new ByteArrayContent(content[..10]);
        first.Headers.ContentRange = new ContentRangeHeaderValue(0, 9); // "bytes 0-9/*"
        using var patch = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Patch, location) { Content = first });
        Assert.Equal(HttpStatusCode.Accepted, patch.StatusCode);
        Assert.Equal("0-9", patch.Header("Range"));

        using var put = await _client.PutAsync(WithDigest(location, Sha256(content)), new ByteArrayContent(content[10..]));
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
    }

    [Fact]
    public async Task Put_with_a_streamed_final_chunk_of_unknown_length_stores_the_blob()
    {
        var repo = NewRepo();
        var content = RandomBytes(400_000);
        var location = await _client.StartUploadAsync(repo);
        using (var patch = await _client.PatchChunkAsync(location, content[..1000], 0))
            Assert.Equal(HttpStatusCode.Accepted, patch.StatusCode);

        using var put = await _client.PutAsync(WithDigest(location, Sha256(content)), new StreamContent(new MemoryStream(content[1000..])));

        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal(content, await GetBlobAsync(repo, Sha256(content)));
    }

    [Fact]
    public async Task Put_with_a_body_but_neither_content_length_nor_transfer_encoding_stores_the_blob()
    {
        // What an HTTP/2 client sends for a body of unknown length: no Content-Length, and HTTP/2 has no chunked encoding.
        var repo = NewRepo();
        var content = RandomBytes(10_000);
        var location = await _client.StartUploadAsync(repo);

        var context = await factory.Server.SendAsync(c =>
        {
            c.Request.Method = "PUT";
            c.Request.Protocol = "HTTP/2";
            c.Request.Path = location;
            c.Request.QueryString = new Microsoft.AspNetCore.Http.QueryString("?digest=" + Sha256(content));
            c.Request.Body = new MemoryStream(content);
            c.Request.Headers.ContentLength = null;
            c.Request.Headers.TransferEncoding = default;
        });

        Assert.Equal(201, context.Response.StatusCode);
        Assert.Equal(content, await GetBlobAsync(repo, Sha256(content)));
    }

    [Fact]
    public async Task Monolithic_put_to_a_fresh_session_stores_the_blob()
    {
        var repo = NewRepo();
        var content = RandomBytes(4096);
        var location = await _client.StartUploadAsync(repo);

        using var put = await _client.PutAsync(WithDigest(location, Sha256(content)), new ByteArrayContent(content));

        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal(content, await GetBlobAsync(repo, Sha256(content)));
    }

    [Fact]
    public async Task Out_of_order_and_overlapping_chunks_are_416_with_the_current_range()
    {
        var repo = NewRepo();
        var content = RandomBytes(30);
        var location = await _client.StartUploadAsync(repo);
        using (var first = await _client.PatchChunkAsync(location, content[..10], 0))
            Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);

        using (var gap = await _client.PatchChunkAsync(location, content[20..], 20))
        {
            await gap.AssertErrorAsync(HttpStatusCode.RequestedRangeNotSatisfiable, "RANGE_INVALID");
            Assert.Equal("0-9", gap.Header("Range"));
            Assert.Equal(location, gap.Header("Location"));
            Assert.Equal(location[^36..], gap.Header("Docker-Upload-UUID"));
        }
        using (var overlap = await _client.PatchChunkAsync(location, content[5..15], 5))
        {
            await overlap.AssertErrorAsync(HttpStatusCode.RequestedRangeNotSatisfiable, "RANGE_INVALID");
            Assert.Equal("0-9", overlap.Header("Range"));
            Assert.Equal(location, overlap.Header("Location"));
        }
        using (var again = await _client.PatchChunkAsync(location, content[..10], 0))
        {
            await again.AssertErrorAsync(HttpStatusCode.RequestedRangeNotSatisfiable, "RANGE_INVALID");
            Assert.Equal("0-9", again.Header("Range"));
        }

        // The refused chunks changed nothing: the upload continues from byte 10 and its digest checks out.
        using (var next = await _client.PatchChunkAsync(location, content[10..20], 10))
        {
            Assert.Equal(HttpStatusCode.Accepted, next.StatusCode);
            Assert.Equal("0-19", next.Header("Range"));
        }
        var last = new ByteArrayContent(content[20..]);
        last.Headers.TryAddWithoutValidation("Content-Range", "20-29");
        using var put = await _client.PutAsync(WithDigest(location, Sha256(content)), last);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal(content, await GetBlobAsync(repo, Sha256(content)));
    }

    [Fact]
    public async Task Final_put_with_an_out_of_order_chunk_is_416_and_keeps_the_session()
    {
        var location = await _client.StartUploadAsync(NewRepo());
        using (var first = await _client.PatchChunkAsync(location, new byte[10], 0))
            Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);

        var last = new ByteArrayContent(new byte[10]);
        last.Headers.TryAddWithoutValidation("Content-Range", "15-24");
        using var put = await _client.PutAsync(WithDigest(location, Sha256(new byte[20])), last);

        await put.AssertErrorAsync(HttpStatusCode.RequestedRangeNotSatisfiable, "RANGE_INVALID");
        Assert.Equal("0-9", put.Header("Range"));
        using var status = await _client.GetAsync(location);
        Assert.Equal(HttpStatusCode.NoContent, status.StatusCode);
        Assert.Equal("0-9", status.Header("Range"));
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("10-5")]
    [InlineData("-5")]
    public async Task Malformed_content_range_is_416(string range)
    {
        var location = await _client.StartUploadAsync(NewRepo());
        var content = new ByteArrayContent(new byte[6]);
        content.Headers.TryAddWithoutValidation("Content-Range", range);

        using var response = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Patch, location) { Content = content });

        await response.AssertErrorAsync(HttpStatusCode.RequestedRangeNotSatisfiable, "RANGE_INVALID");
    }

    [Fact]
    public async Task Content_range_that_disagrees_with_content_length_is_416()
    {
        var location = await _client.StartUploadAsync(NewRepo());
        var content = new ByteArrayContent(new byte[6]);
        content.Headers.TryAddWithoutValidation("Content-Range", "0-9");

        using var response = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Patch, location) { Content = content });

        await response.AssertErrorAsync(HttpStatusCode.RequestedRangeNotSatisfiable, "RANGE_INVALID");
    }

    [Fact]
    public async Task Put_with_a_wrong_digest_is_DIGEST_INVALID_stores_nothing_and_ends_the_session()
    {
        var repo = NewRepo();
        var content = RandomBytes(2048);
        var claimed = Sha256(RandomBytes(2048));
        var location = await _client.StartUploadAsync(repo);
        using (var patch = await _client.PatchChunkAsync(location, content, 0))
            Assert.Equal(HttpStatusCode.Accepted, patch.StatusCode);

        using var put = await _client.PutAsync(WithDigest(location, claimed), null);

        await put.AssertErrorAsync(HttpStatusCode.BadRequest, "DIGEST_INVALID");
        foreach (var digest in new[] { claimed, Sha256(content) })
        {
            using var head = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v2/{repo}/blobs/{digest}"));
            await head.AssertErrorAsync(HttpStatusCode.NotFound, "BLOB_UNKNOWN");
        }
        using var status = await _client.GetAsync(location);
        await status.AssertErrorAsync(HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
        using var retry = await _client.PutAsync(WithDigest(location, Sha256(content)), null);
        await retry.AssertErrorAsync(HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
    }

    [Fact]
    public async Task Put_without_a_digest_is_DIGEST_INVALID()
    {
        var location = await _client.StartUploadAsync(NewRepo());

        using var put = await _client.PutAsync(location, new ByteArrayContent([1, 2, 3]));

        await put.AssertErrorAsync(HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }

    [Fact]
    public async Task Delete_cancels_the_session_and_later_operations_are_BLOB_UPLOAD_UNKNOWN()
    {
        var location = await _client.StartUploadAsync(NewRepo());
        using (var patch = await _client.PatchChunkAsync(location, new byte[100], 0))
            Assert.Equal(HttpStatusCode.Accepted, patch.StatusCode);

        using (var cancel = await _client.DeleteAsync(location))
            Assert.Equal(HttpStatusCode.NoContent, cancel.StatusCode);

        using (var status = await _client.GetAsync(location))
            await status.AssertErrorAsync(HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
        using (var patch = await _client.PatchChunkAsync(location, new byte[10], 100))
            await patch.AssertErrorAsync(HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
        using (var put = await _client.PutAsync(WithDigest(location, Sha256(new byte[100])), null))
            await put.AssertErrorAsync(HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
        using (var again = await _client.DeleteAsync(location))
            await again.AssertErrorAsync(HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
    }

    [Theory]
    [InlineData("not-a-session")]
    [InlineData("0123456789")]
    [InlineData("6f1c2b9e-3f5d-4f0e-9a57-3c2d1e0f9a8b")] // well-formed, never started
    [InlineData("6f1c2b9e3f5d4f0e9a573c2d1e0f9a8b")]
    public async Task Unknown_or_malformed_session_id_is_BLOB_UPLOAD_UNKNOWN(string id)
    {
        var location = $"/v2/{NewRepo()}/blobs/uploads/{id}";

        using (var status = await _client.GetAsync(location))
            await status.AssertErrorAsync(HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
        using (var patch = await _client.PatchChunkAsync(location, new byte[10], null))
            await patch.AssertErrorAsync(HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
        using (var put = await _client.PutAsync(WithDigest(location, Sha256(new byte[10])), new ByteArrayContent(new byte[10])))
            await put.AssertErrorAsync(HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
        using (var delete = await _client.DeleteAsync(location))
            await delete.AssertErrorAsync(HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
    }

    [Fact]
    public async Task Session_of_another_repository_is_BLOB_UPLOAD_UNKNOWN()
    {
        var owner = NewRepo("owner");
        var other = NewRepo("other");
        var content = RandomBytes(64);
        var location = await _client.StartUploadAsync(owner);
        var foreign = location.Replace($"/v2/{owner}/", $"/v2/{other}/");
        await _client.PushBlobAsync(other, [0]); // the other repository exists too

        using (var status = await _client.GetAsync(foreign))
            await status.AssertErrorAsync(HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
        using (var patch = await _client.PatchChunkAsync(foreign, content, 0))
            await patch.AssertErrorAsync(HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
        using (var put = await _client.PutAsync(WithDigest(foreign, Sha256(content)), new ByteArrayContent(content)))
            await put.AssertErrorAsync(HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
        using (var delete = await _client.DeleteAsync(foreign))
            await delete.AssertErrorAsync(HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");

        // Untouched in its own repository, and the blob does not leak into the other one.
        using (var put = await _client.PutAsync(WithDigest(location, Sha256(content)), new ByteArrayContent(content)))
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        using var head = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v2/{other}/blobs/{Sha256(content)}"));
        Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
    }

    [Fact]
    public async Task Sha512_monolithic_upload_works()
    {
        var repo = NewRepo();
        var content = RandomBytes(1234);
        var digest = Sha512(content);

        using var response = await _client.PostAsync($"/v2/{repo}/blobs/uploads/?digest={digest}", new ByteArrayContent(content));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(digest, response.Header("Docker-Content-Digest"));
        Assert.Equal(content, await GetBlobAsync(repo, digest));
        using var head = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v2/{repo}/blobs/{digest}"));
        Assert.Equal(digest, head.Header("Docker-Content-Digest"));
        Assert.Equal(content.Length, head.Content.Headers.ContentLength);
    }

    [Fact]
    public async Task Sha512_chunked_upload_works_and_a_wrong_sha512_is_refused()
    {
        var repo = NewRepo();
        var content = RandomBytes(3000);
        var location = await _client.StartUploadAsync(repo);
        using (var patch = await _client.PatchChunkAsync(location, content[..1500], 0))
            Assert.Equal(HttpStatusCode.Accepted, patch.StatusCode);
        using (var put = await _client.PutAsync(WithDigest(location, Sha512(content)), new ByteArrayContent(content[1500..])))
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal(content, await GetBlobAsync(repo, Sha512(content)));

        var other = await _client.StartUploadAsync(repo);
        using var wrong = await _client.PutAsync(WithDigest(other, Sha512(RandomBytes(10))), new ByteArrayContent(RandomBytes(10)));
        await wrong.AssertErrorAsync(HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }

    [Fact]
    public async Task Empty_blob_can_be_uploaded()
    {
        var repo = NewRepo();
        var location = await _client.StartUploadAsync(repo);
        var digest = Sha256([]);

        using var put = await _client.PutAsync(WithDigest(location, digest), null);

        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        using var get = await _client.GetAsync($"/v2/{repo}/blobs/{digest}");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(0, get.Content.Headers.ContentLength);
    }
}
