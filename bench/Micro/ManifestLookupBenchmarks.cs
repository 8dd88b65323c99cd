using BenchmarkDotNet.Attributes;
using Berth.Distribution;
using Berth.Metadata;
using Berth.Server.Registry;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Berth.Bench.Micro;

/// <summary>
/// The manifest-by-tag lookup of <c>GET /v2/&lt;name&gt;/manifests/&lt;tag&gt;</c>
/// (<see cref="RegistryService.GetManifestAsync"/>: one compiled, indexed query) on SQLite, in a repository with
/// 100,000 tags among 10 repositories, plus the blob lookup of a blob HEAD; each in a fresh DI scope, as per request.
/// </summary>
[MemoryDiagnoser]
public class ManifestLookupBenchmarks
{
    private const int Tags = 100_000;
    private BenchHost _host = null!;
    private readonly RepositoryName _repository = RepositoryName.Parse("bench/app/image5");
    private Digest _blob;

    [GlobalSetup]
    public async Task Setup()
    {
        _host = await BenchHost.StartAsync();
        await using var scope = _host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BerthDbContext>();
        var now = DateTime.UtcNow;
        var hex = new string('a', 64);
        _blob = Digest.Parse("sha256:" + hex);
        db.Blobs.Add(new BlobEntity { Digest = _blob.ToString(), Size = 1234, CreatedAt = now });
        for (int r = 0; r < 10; r++)
        {
            var repository = new RepositoryEntity { Name = $"bench/app/image{r}", CreatedAt = now };
            db.Repositories.Add(repository);
            await db.SaveChangesAsync();
            db.RepositoryBlobs.Add(new RepositoryBlobEntity { RepositoryId = repository.Id, Digest = _blob.ToString(), CreatedAt = now });
            var manifest = new ManifestEntity
            {
                RepositoryId = repository.Id, Digest = $"sha256:{r:x64}", MediaType = MediaTypes.OciManifest,
                Content = new byte[600], Size = 600, CreatedAt = now,
            };
            db.Manifests.Add(manifest);
            await db.SaveChangesAsync();
            int count = r == 5 ? Tags : 100;
            db.Tags.AddRange(Enumerable.Range(0, count).Select(i => new TagEntity { RepositoryId = repository.Id, Name = $"t{i:D6}", ManifestId = manifest.Id, UpdatedAt = now }));
            await db.SaveChangesAsync();
            db.ChangeTracker.Clear();
        }
    }

    [GlobalCleanup]
    public async Task Cleanup() => await _host.DisposeAsync();

    [Benchmark(Description = "manifest by tag (100,000 tags in the repository)")]
    public async Task<object?> ManifestByTag()
    {
        await using var scope = _host.Services.CreateAsyncScope();
        var registry = scope.ServiceProvider.GetRequiredService<RegistryService>();
        return await registry.GetManifestAsync(_repository, Reference.FromTag(Tag.Parse("t054321")), CancellationToken.None)
            ?? throw new InvalidOperationException("tag not found");
    }

    [Benchmark(Description = "blob link + size (blob HEAD)")]
    public async Task<object?> BlobHead()
    {
        await using var scope = _host.Services.CreateAsyncScope();
        var registry = scope.ServiceProvider.GetRequiredService<RegistryService>();
        return await registry.GetBlobAsync(_repository, _blob, CancellationToken.None)
            ?? throw new InvalidOperationException("blob not found");
    }
}
