using System.Security.Cryptography;
using System.Text;
using Berth.Distribution;
using Berth.Metadata;
using Microsoft.EntityFrameworkCore;

namespace Berth.Web.Tests.Infrastructure;

/// <summary>Writes registry metadata straight into the database (blobs, manifests, references, tags), for page tests that need many tags fast.</summary>
public static class RegistrySeed
{
    /// <summary>A repository with <paramref name="tagCount"/> tags spread over <paramref name="images"/> image manifests
    /// (each: a config and two layers; the second layer shared by all), tag <c>t00000…</c>, pushed a second apart.</summary>
    /// <returns>The repository id and the image manifests' digests with their sizes (config + layers).</returns>
    public static async Task<(long RepositoryId, List<(string Digest, long Size)> Images)> SeedAsync(BerthDbContext db, string repository, int tagCount, int images)
    {
        var now = DateTime.UtcNow;
        db.Repositories.Add(new RepositoryEntity { Name = repository, CreatedAt = now });
        await db.SaveChangesAsync();
        var repositoryId = await db.Repositories.Where(r => r.Name == repository).Select(r => r.Id).FirstAsync();
        var shared = Blob("shared-layer-" + repository, 1_000_000);
        var result = new List<(string, long)>();
        var manifestIds = new List<long>();
        var blobs = new List<(string Digest, long Size)> { shared };
        for (int i = 0; i < images; i++)
        {
            var config = Blob($"config-{repository}-{i}", 1_500 + i);
            var layer = Blob($"layer-{repository}-{i}", 3_000_000 + i * 1000);
            blobs.Add(config);
            blobs.Add(layer);
            var json = $$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciManifest}}","config":{"mediaType":"{{MediaTypes.OciConfig}}","digest":"{{config.Digest}}","size":{{config.Size}}},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{{layer.Digest}}","size":{{layer.Size}}},{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{{shared.Digest}}","size":{{shared.Size}}}]}""";
            var (id, digest) = await AddManifestAsync(db, repositoryId, MediaTypes.OciManifest, json, [config.Digest, layer.Digest, shared.Digest], [], now);
            manifestIds.Add(id);
            result.Add((digest, config.Size + layer.Size + shared.Size));
        }
        foreach (var (digest, size) in blobs.DistinctBy(b => b.Digest))
        {
            db.Blobs.Add(new BlobEntity { Digest = digest, Size = size, CreatedAt = now });
            db.RepositoryBlobs.Add(new RepositoryBlobEntity { RepositoryId = repositoryId, Digest = digest, CreatedAt = now });
        }
        await db.SaveChangesAsync();
        for (int i = 0; i < tagCount; i++)
            db.Tags.Add(new TagEntity { RepositoryId = repositoryId, Name = $"t{i:D5}", ManifestId = manifestIds[i % manifestIds.Count], UpdatedAt = now.AddSeconds(i - tagCount) });
        await db.SaveChangesAsync();
        db.ChangeTracker.Clear();
        return (repositoryId, result);
    }

    /// <summary>Adds an image index over existing image manifests (linux/amd64, linux/arm64/v8) and tags it.</summary>
    public static async Task<string> SeedIndexAsync(BerthDbContext db, long repositoryId, string tag, IReadOnlyList<(string Digest, long Size)> images)
    {
        var entries = string.Join(',', images.Take(2).Select((m, i) =>
            $$"""{"mediaType":"{{MediaTypes.OciManifest}}","digest":"{{m.Digest}}","size":100,"platform":{{(i == 0 ? "{\"os\":\"linux\",\"architecture\":\"amd64\"}" : "{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}")}}}"""));
        var json = $$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciIndex}}","manifests":[{{entries}}]}""";
        var (id, digest) = await AddManifestAsync(db, repositoryId, MediaTypes.OciIndex, json, [], images.Take(2).Select(m => m.Digest).ToList(), DateTime.UtcNow);
        db.Tags.Add(new TagEntity { RepositoryId = repositoryId, Name = tag, ManifestId = id, UpdatedAt = DateTime.UtcNow });
        await db.SaveChangesAsync();
        db.ChangeTracker.Clear();
        return digest;
    }

    private static async Task<(long Id, string Digest)> AddManifestAsync(BerthDbContext db, long repositoryId, string mediaType, string json, List<string> blobs, List<string> children, DateTime now)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        var digest = Digest.ComputeSha256(bytes).ToString();
        var manifest = new ManifestEntity { RepositoryId = repositoryId, Digest = digest, MediaType = mediaType, Size = bytes.Length, Content = bytes, CreatedAt = now };
        db.Manifests.Add(manifest);
        await db.SaveChangesAsync();
        foreach (var b in blobs.Distinct()) db.ManifestReferences.Add(new ManifestReferenceEntity { ManifestId = manifest.Id, Digest = b, IsManifest = false });
        foreach (var c in children.Distinct()) db.ManifestReferences.Add(new ManifestReferenceEntity { ManifestId = manifest.Id, Digest = c, IsManifest = true });
        await db.SaveChangesAsync();
        return (manifest.Id, digest);
    }

    private static (string Digest, long Size) Blob(string seed, long size) =>
        ("sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(seed))), size);
}
