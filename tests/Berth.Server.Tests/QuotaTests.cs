using System.Net;
using Berth.Metadata;
using Berth.Server.Registry;
using Berth.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using TestRegistry = Berth.Server.Tests.Infrastructure.Registry;

namespace Berth.Server.Tests;

/// <summary>Deduplicated storage usage per repository, project and namespace, and namespace quotas (docs/quotas.md).</summary>
public sealed class QuotaTests(BerthFactory factory) : IClassFixture<BerthFactory>
{
    private readonly HttpClient _client = factory.CreateRegistryClient();

    private async Task<long> AddGroupAsync(string path)
    {
        await using var scope = factory.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BerthDbContext>();
        var ns = new NamespaceEntity { Name = path, Path = path, FullPath = path, Kind = "group", Visibility = "private", CreatedAt = DateTime.UtcNow };
        db.Namespaces.Add(ns);
        await db.SaveChangesAsync();
        return ns.Id;
    }

    private async Task<T> WithUsageAsync<T>(Func<RegistryUsage, Task<T>> action)
    {
        await using var scope = factory.Services.CreateAsyncScope();
        return await action(scope.ServiceProvider.GetRequiredService<RegistryUsage>());
    }

    [Fact]
    public async Task Usage_is_the_sum_of_unique_blob_sizes_per_repository_project_and_namespace()
    {
        var group = $"usage{Guid.NewGuid():N}"[..16];
        long groupId = await AddGroupAsync(group);
        var shared = TestRegistry.RandomBytes(5000);
        var onlyApp = TestRegistry.RandomBytes(3000);
        var onlyOther = TestRegistry.RandomBytes(1200);

        // The shared blob, pushed to three repositories at once (two in one project): counted once everywhere.
        string app = $"{group}/proj/app", web = $"{group}/proj/web", other = $"{group}/other";
        await Task.WhenAll(new[] { app, web, other }.Select(r => _client.PushBlobAsync(r, shared)));
        await _client.PushBlobAsync(app, onlyApp);
        await _client.PushBlobAsync(other, onlyOther);
        await _client.PushBlobAsync($"{group}x/elsewhere", onlyApp); // a sibling path outside the group

        Assert.Equal(new StorageUsage(8000, 2), await WithUsageAsync(u => u.ForPathAsync(app, CancellationToken.None)));
        Assert.Equal(new StorageUsage(8000, 2), await WithUsageAsync(u => u.ForPathAsync($"{group}/proj", CancellationToken.None)));
        Assert.Equal(new StorageUsage(6200, 2), await WithUsageAsync(u => u.ForPathAsync(other, CancellationToken.None)));
        Assert.Equal(new StorageUsage(9200, 3), await WithUsageAsync(u => u.ForPathAsync(group, CancellationToken.None)));
        var ns = await WithUsageAsync(u => u.GetNamespaceAsync(groupId, CancellationToken.None));
        Assert.Equal(9200, ns!.Usage.Bytes);
        Assert.Null(ns.QuotaBytes);

        // A blob link removed (DELETE /v2/<name>/blobs/<digest>) leaves the figures of the other repositories.
        (await _client.DeleteAsync($"/v2/{app}/blobs/{TestRegistry.Sha256(onlyApp)}")).Dispose();
        Assert.Equal(new StorageUsage(5000, 1), await WithUsageAsync(u => u.ForPathAsync(app, CancellationToken.None)));
        Assert.Equal(new StorageUsage(6200, 2), await WithUsageAsync(u => u.ForPathAsync(group, CancellationToken.None)));
    }

    [Fact]
    public async Task A_push_over_the_namespace_quota_is_denied_with_the_quota_and_the_usage()
    {
        var group = $"quota{Guid.NewGuid():N}"[..16];
        long groupId = await AddGroupAsync(group);
        var repo = $"{group}/proj/app";
        var first = TestRegistry.RandomBytes(6000);
        await _client.PushBlobAsync(repo, first);
        await WithUsageAsync(async u => { await u.SetQuotaAsync(groupId, 10 * 1024, CancellationToken.None); return 0; });

        // 6000 + 6000 > 10 KiB: the second blob is refused, and nothing of it is stored.
        var second = TestRegistry.RandomBytes(6000);
        var digest = TestRegistry.Sha256(second);
        using (var response = await _client.PostAsync($"/v2/{repo}/blobs/uploads/?digest={digest}", new ByteArrayContent(second)))
        {
            var error = await response.AssertErrorAsync(HttpStatusCode.Forbidden, "DENIED");
            var message = error.GetProperty("message").GetString()!;
            Assert.Contains($"namespace '{group}'", message);
            Assert.Contains("quota 10 KiB (10240 bytes)", message);
            Assert.Contains("usage 5.86 KiB (6000 bytes)", message);
        }
        Assert.False(File.Exists(factory.BlobFile(digest)));
        using (var head = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v2/{repo}/blobs/{digest}")))
            Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);

        // A blob the namespace already holds costs nothing (deduplicated), even in another of its repositories.
        await _client.PushBlobAsync($"{group}/proj/web", first);
        // Small enough still fits; then the namespace is full and even starting an upload is refused.
        await _client.PushBlobAsync(repo, TestRegistry.RandomBytes(4000));
        await WithUsageAsync(async u => { await u.SetQuotaAsync(groupId, 9000, CancellationToken.None); return 0; });
        using (var start = await _client.PostAsync($"/v2/{repo}/blobs/uploads/", null))
        {
            var error = await start.AssertErrorAsync(HttpStatusCode.Forbidden, "DENIED");
            Assert.Contains("over its storage quota: quota 8.79 KiB (9000 bytes), usage 9.77 KiB (10000 bytes)", error.GetProperty("message").GetString());
        }

        // Other namespaces are not affected; removing the quota lets pushes through again.
        await _client.PushBlobAsync($"{group}x/free", TestRegistry.RandomBytes(20_000));
        await WithUsageAsync(async u => { await u.SetQuotaAsync(groupId, null, CancellationToken.None); return 0; });
        await _client.PushBlobAsync(repo, second);
    }
}
