using System.Net;
using Berth.Server.Tests.Infrastructure;
using static Berth.Server.Tests.Infrastructure.Registry;

namespace Berth.Server.Tests;

/// <summary>Everything lives in the data folder: an upload started before a restart is finished after it, and pushed
/// content is still served.</summary>
public sealed class RestartTests : IDisposable
{
    private readonly string _dataDir = BerthFactory.NewDataDir();

    public void Dispose() => BerthFactory.DeleteDataDir(_dataDir);

    [Fact]
    public async Task Upload_session_survives_a_restart_and_is_finished_by_the_new_process()
    {
        var repo = NewRepo();
        var content = RandomBytes(900_000);
        var digest = Sha256(content);
        string location;
        PushedManifest image;

        await using (var before = BerthFactory.OnDataDir(_dataDir))
        {
            var client = before.CreateRegistryClient();
            image = await client.PushImageAsync(repo, "before");
            location = await client.StartUploadAsync(repo);
            using var first = await client.PatchChunkAsync(location, content[..300_000], 0);
            Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
            Assert.Equal("0-299999", first.Header("Range"));
        }

        await using var after = BerthFactory.OnDataDir(_dataDir);
        var again = after.CreateRegistryClient();

        using (var status = await again.GetAsync(location))
        {
            Assert.Equal(HttpStatusCode.NoContent, status.StatusCode);
            Assert.Equal("0-299999", status.Header("Range"));
        }
        using (var wrongOffset = await again.PatchChunkAsync(location, content[200_000..300_000], 200_000))
        {
            await wrongOffset.AssertErrorAsync(HttpStatusCode.RequestedRangeNotSatisfiable, "RANGE_INVALID");
            Assert.Equal("0-299999", wrongOffset.Header("Range"));
        }
        using (var second = await again.PatchChunkAsync(location, content[300_000..600_000], 300_000))
        {
            Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
            Assert.Equal("0-599999", second.Header("Range"));
        }
        var last = new ByteArrayContent(content[600_000..]);
        last.Headers.TryAddWithoutValidation("Content-Range", $"600000-{content.Length - 1}");
        using (var put = await again.PutAsync(WithDigest(location, digest), last))
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);

        using var get = await again.GetAsync($"/v2/{repo}/blobs/{digest}");
        Assert.Equal(content, await get.Content.ReadAsByteArrayAsync());
        using var manifest = await again.GetAsync($"/v2/{repo}/manifests/before");
        Assert.Equal(image.Content, await manifest.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Upload_with_a_wrong_digest_after_a_restart_stores_nothing()
    {
        var repo = NewRepo();
        var content = RandomBytes(1000);
        string location;

        await using (var before = BerthFactory.OnDataDir(_dataDir))
        {
            var client = before.CreateRegistryClient();
            location = await client.StartUploadAsync(repo);
            using var first = await client.PatchChunkAsync(location, content, 0);
            Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        }

        await using var after = BerthFactory.OnDataDir(_dataDir);
        var again = after.CreateRegistryClient();
        using (var put = await again.PutAsync(WithDigest(location, Sha256(RandomBytes(1000))), null))
            await put.AssertErrorAsync(HttpStatusCode.BadRequest, "DIGEST_INVALID");
        using (var head = await again.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v2/{repo}/blobs/{Sha256(content)}")))
            Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
        using var status = await again.GetAsync(location);
        await status.AssertErrorAsync(HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
    }
}
