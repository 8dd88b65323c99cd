using System.Net;
using Berth.Server.Tests.Infrastructure;
using static Berth.Server.Tests.Infrastructure.Registry;

namespace Berth.Server.Tests;

/// <summary>Parallel pushes of the same content and the same tag: every request succeeds, the end state is consistent.</summary>
public sealed class ConcurrencyTests(BerthFactory factory) : IClassFixture<BerthFactory>
{
    private const int Parallel = 8;
    private readonly HttpClient _client = factory.CreateRegistryClient();

    [Fact]
    public async Task Parallel_monolithic_pushes_of_the_same_blob_all_succeed()
    {
        var repo = NewRepo();
        var content = RandomBytes(600_000);
        var digest = Sha256(content);

        var responses = await Task.WhenAll(Enumerable.Range(0, Parallel).Select(_ =>
            _client.PostAsync($"/v2/{repo}/blobs/uploads/?digest={digest}", new ByteArrayContent(content))));

        foreach (var response in responses)
        {
            Assert.True(response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            response.Dispose();
        }
        using var get = await _client.GetAsync($"/v2/{repo}/blobs/{digest}");
        Assert.Equal(content, await get.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Parallel_pushes_of_the_same_blob_to_new_repositories_all_succeed()
    {
        var content = RandomBytes(100_000);
        var digest = Sha256(content);
        var repos = Enumerable.Range(0, Parallel).Select(i => NewRepo($"fan{i}")).ToList();

        var responses = await Task.WhenAll(repos.Select(repo =>
            _client.PostAsync($"/v2/{repo}/blobs/uploads/?digest={digest}", new ByteArrayContent(content))));

        foreach (var response in responses)
        {
            Assert.True(response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            response.Dispose();
        }
        foreach (var repo in repos)
        {
            using var head = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v2/{repo}/blobs/{digest}"));
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        }
    }

    [Fact]
    public async Task Parallel_pushes_of_one_tag_with_different_manifests_all_succeed()
    {
        var repo = NewRepo();
        var config = await _client.PushBlobAsync(repo, "{\"os\":\"linux\"}"u8.ToArray(), Media.OciConfig);
        var layers = new List<BlobRef>();
        for (int i = 0; i < Parallel; i++) layers.Add(await _client.PushBlobAsync(repo, RandomBytes(100)));
        var manifests = layers.Select(l => Manifests.Image(config, [l])).ToList();

        var responses = await Task.WhenAll(manifests.Select(m => _client.PutManifestAsync(repo, "latest", m, Media.OciManifest)));

        foreach (var response in responses)
        {
            Assert.True(response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            response.Dispose();
        }
        var digests = manifests.Select(Sha256).ToList();
        using var tagged = await _client.GetAsync($"/v2/{repo}/manifests/latest");
        Assert.Equal(HttpStatusCode.OK, tagged.StatusCode);
        var served = await tagged.Content.ReadAsByteArrayAsync();
        Assert.Contains(Sha256(served), digests);
        Assert.Equal(Sha256(served), tagged.Header("Docker-Content-Digest"));
        foreach (var digest in digests)
        {
            using var byDigest = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v2/{repo}/manifests/{digest}"));
            Assert.Equal(HttpStatusCode.OK, byDigest.StatusCode);
        }
        Assert.Equal(["latest"], await _client.GetTagsAsync(repo));
    }

    [Fact]
    public async Task Parallel_chunk_uploads_to_separate_sessions_all_succeed()
    {
        var repo = NewRepo();
        var contents = Enumerable.Range(0, Parallel).Select(_ => RandomBytes(50_000)).ToList();

        await Task.WhenAll(contents.Select(async content =>
        {
            var location = await _client.StartUploadAsync(repo);
            for (int offset = 0; offset < content.Length; offset += 10_000)
            {
                using var patch = await _client.PatchChunkAsync(location, content[offset..(offset + 10_000)], offset);
                Assert.Equal(HttpStatusCode.Accepted, patch.StatusCode);
            }
            using var put = await _client.PutAsync(WithDigest(location, Sha256(content)), null);
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }));

        foreach (var content in contents)
        {
            using var get = await _client.GetAsync($"/v2/{repo}/blobs/{Sha256(content)}");
            Assert.Equal(content, await get.Content.ReadAsByteArrayAsync());
        }
    }
}
