using System.Net;
using Berth.Distribution;
using Berth.Server.Registry;
using Berth.Server.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using static Berth.Server.Tests.Infrastructure.Registry;

namespace Berth.Server.Tests;

/// <summary>
/// <see cref="RegistryReadCache"/> (manifests by tag and digest, blob sizes, remembered for <c>Registry:ReadCacheSeconds</c>):
/// every write made through this replica — a tag moved or deleted, a manifest deleted, a repository deleted, a blob
/// unlinked — is served at once; a write the replica did not make (another replica or process: here a plain SQLite
/// connection to the same database) is served at the latest when the entry's lifetime has passed; with 0 seconds
/// nothing is remembered.
/// </summary>
public sealed class ReadCacheTests : IDisposable
{
    private readonly TestClock _clock = new();
    private readonly BerthFactory _factory;
    private readonly HttpClient _client;

    public ReadCacheTests()
    {
        _factory = new BerthFactory { Clock = _clock, Settings = new Dictionary<string, string> { ["Registry:ReadCacheSeconds"] = "5" } };
        _client = _factory.CreateRegistryClient();
    }

    public void Dispose()
    {
        _client.Dispose();
        _factory.Dispose();
    }

    private async Task<string?> DigestByGetAsync(HttpClient client, string repo, string reference)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v2/{repo}/manifests/{reference}");
        request.Headers.Accept.ParseAdd(Media.OciManifest);
        using var response = await client.SendAsync(request);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            await response.AssertErrorAsync(HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
            return null;
        }
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal(response.Header("Docker-Content-Digest"), Sha256(body)); // bytes and digest header belong together
        return response.Header("Docker-Content-Digest");
    }

    private async Task<HttpStatusCode> HeadBlobAsync(string repo, string digest)
    {
        using var response = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v2/{repo}/blobs/{digest}"));
        return response.StatusCode;
    }

    /// <summary>Reads a reference twice, so the second answer comes from the cache when it remembers it.</summary>
    private async Task<string?> WarmAsync(string repo, string reference)
    {
        await DigestByGetAsync(_client, repo, reference);
        return await DigestByGetAsync(_client, repo, reference);
    }

    [Fact]
    public async Task A_tag_moved_through_this_replica_serves_the_new_manifest_at_once()
    {
        var repo = NewRepo();
        var first = await _client.PushImageAsync(repo, "v1");
        Assert.Equal(first.Digest, await WarmAsync(repo, "v1"));
        Assert.True(_factory.Services.GetRequiredService<RegistryReadCache>().Count > 0, "the pull was not remembered");

        var second = await _client.PushImageAsync(repo, "v1");
        Assert.NotEqual(first.Digest, second.Digest);
        Assert.Equal(second.Digest, await DigestByGetAsync(_client, repo, "v1"));
        using var head = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v2/{repo}/manifests/v1"));
        Assert.Equal(second.Digest, head.Header("Docker-Content-Digest"));
    }

    [Fact]
    public async Task A_tag_deleted_through_this_replica_is_MANIFEST_UNKNOWN_at_once()
    {
        var repo = NewRepo();
        var pushed = await _client.PushImageAsync(repo, "gone");
        Assert.Equal(pushed.Digest, await WarmAsync(repo, "gone"));

        using (var delete = await _client.DeleteAsync($"/v2/{repo}/manifests/gone")) Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);

        Assert.Null(await DigestByGetAsync(_client, repo, "gone"));
        Assert.Equal(pushed.Digest, await DigestByGetAsync(_client, repo, pushed.Digest)); // the manifest itself stays
    }

    [Fact]
    public async Task A_manifest_deleted_by_digest_is_gone_by_digest_and_by_tag_at_once()
    {
        var repo = NewRepo();
        var pushed = await _client.PushImageAsync(repo, "v1");
        await WarmAsync(repo, "v1");
        await WarmAsync(repo, pushed.Digest);

        using (var delete = await _client.DeleteAsync($"/v2/{repo}/manifests/{pushed.Digest}")) Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);

        Assert.Null(await DigestByGetAsync(_client, repo, pushed.Digest));
        Assert.Null(await DigestByGetAsync(_client, repo, "v1"));
    }

    [Fact]
    public async Task A_repository_deleted_on_this_replica_serves_nothing_at_once()
    {
        var repo = NewRepo();
        var pushed = await _client.PushImageAsync(repo, "v1");
        var layer = await _client.PushBlobAsync(repo, RandomBytes(300));
        await WarmAsync(repo, "v1");
        Assert.Equal(HttpStatusCode.OK, await HeadBlobAsync(repo, layer.Digest));
        Assert.Equal(HttpStatusCode.OK, await HeadBlobAsync(repo, layer.Digest));

        using (var scope = _factory.Services.CreateScope())
            Assert.True(await scope.ServiceProvider.GetRequiredService<RegistryService>().DeleteRepositoryAsync(RepositoryName.Parse(repo), CancellationToken.None));

        Assert.Null(await DigestByGetAsync(_client, repo, "v1"));
        Assert.Null(await DigestByGetAsync(_client, repo, pushed.Digest));
        Assert.Equal(HttpStatusCode.NotFound, await HeadBlobAsync(repo, layer.Digest));
    }

    [Fact]
    public async Task A_blob_unlinked_through_this_replica_is_BLOB_UNKNOWN_at_once()
    {
        var repo = NewRepo();
        var blob = await _client.PushBlobAsync(repo, RandomBytes(700));
        Assert.Equal(HttpStatusCode.OK, await HeadBlobAsync(repo, blob.Digest));
        Assert.Equal(HttpStatusCode.OK, await HeadBlobAsync(repo, blob.Digest));

        using (var delete = await _client.DeleteAsync($"/v2/{repo}/blobs/{blob.Digest}")) Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);

        Assert.Equal(HttpStatusCode.NotFound, await HeadBlobAsync(repo, blob.Digest));
        using var get = await _client.GetAsync($"/v2/{repo}/blobs/{blob.Digest}");
        await get.AssertErrorAsync(HttpStatusCode.NotFound, "BLOB_UNKNOWN");
    }

    [Fact]
    public async Task Writes_this_replica_did_not_make_are_served_once_the_lifetime_has_passed()
    {
        var repo = NewRepo();
        var first = await _client.PushImageAsync(repo, "moved");
        var second = await _client.PushManifestAsync(repo, "other", Manifests.Image(
            await _client.PushBlobAsync(repo, "{\"os\":\"linux\",\"architecture\":\"arm64\"}"u8.ToArray(), Media.OciConfig), []), Media.OciManifest);
        await _client.PushImageAsync(repo, "deleted");
        var blob = await _client.PushBlobAsync(repo, RandomBytes(200));
        Assert.Equal(first.Digest, await WarmAsync(repo, "moved"));
        Assert.NotNull(await WarmAsync(repo, "deleted"));
        Assert.Equal(HttpStatusCode.OK, await HeadBlobAsync(repo, blob.Digest));

        // Another replica (here: another connection, which this process's interceptor does not see) moves one tag,
        // deletes another and unlinks the blob.
        await using (var other = new SqliteConnection($"Data Source={Path.Combine(_factory.DataDir, "berth.db")};Pooling=False"))
        {
            await other.OpenAsync();
            await using var command = other.CreateCommand();
            command.CommandText = """
                UPDATE tags SET "ManifestId" = (SELECT "Id" FROM manifests WHERE "Digest" = $second)
                  WHERE "Name" = 'moved' AND "RepositoryId" = (SELECT "Id" FROM repositories WHERE "Name" = $repo);
                DELETE FROM tags WHERE "Name" = 'deleted' AND "RepositoryId" = (SELECT "Id" FROM repositories WHERE "Name" = $repo);
                DELETE FROM repository_blobs WHERE "Digest" = $blob AND "RepositoryId" = (SELECT "Id" FROM repositories WHERE "Name" = $repo);
                """;
            command.Parameters.AddWithValue("$second", second.Digest);
            command.Parameters.AddWithValue("$repo", repo);
            command.Parameters.AddWithValue("$blob", blob.Digest);
            Assert.Equal(3, await command.ExecuteNonQueryAsync());
        }

        // Within the lifetime (5 s here) the remembered answers may still be served: that is the documented bound.
        Assert.Equal(first.Digest, await DigestByGetAsync(_client, repo, "moved"));

        _clock.Advance(TimeSpan.FromSeconds(5.1));
        Assert.Equal(second.Digest, await DigestByGetAsync(_client, repo, "moved"));
        Assert.Null(await DigestByGetAsync(_client, repo, "deleted"));
        Assert.Equal(HttpStatusCode.NotFound, await HeadBlobAsync(repo, blob.Digest));
    }

    [Fact]
    public async Task With_ReadCacheSeconds_0_every_pull_reads_the_database()
    {
        using var factory = new BerthFactory { Settings = new Dictionary<string, string> { ["Registry:ReadCacheSeconds"] = "0" } };
        using var client = factory.CreateRegistryClient();
        var repo = NewRepo();
        var first = await client.PushImageAsync(repo, "v1");
        var second = await client.PushImageAsync(repo, "v2");
        Assert.Equal(first.Digest, await DigestByGetAsync(client, repo, "v1"));

        await using (var other = new SqliteConnection($"Data Source={Path.Combine(factory.DataDir, "berth.db")};Pooling=False"))
        {
            await other.OpenAsync();
            await using var command = other.CreateCommand();
            command.CommandText = """UPDATE tags SET "ManifestId" = (SELECT "Id" FROM manifests WHERE "Digest" = $second) WHERE "Name" = 'v1'""";
            command.Parameters.AddWithValue("$second", second.Digest);
            Assert.Equal(1, await command.ExecuteNonQueryAsync());
        }

        Assert.Equal(second.Digest, await DigestByGetAsync(client, repo, "v1"));
        Assert.Equal(0, factory.Services.GetRequiredService<RegistryReadCache>().Count);
    }
}
