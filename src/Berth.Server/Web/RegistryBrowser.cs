using System.Text.Json;
using Berth.Distribution;
using Berth.Metadata;
using Microsoft.EntityFrameworkCore;

namespace Berth.Server.Web;

/// <summary>An image repository of a project, as the Registry page lists it.</summary>
/// <param name="Id">Repository id.</param>
/// <param name="Name">Full repository name (<c>group/project/app</c>).</param>
/// <param name="TagCount">Number of tags.</param>
/// <param name="Size">Bytes of the distinct blobs its manifests reference (each blob counted once).</param>
/// <param name="LastPush">When a tag last moved or a manifest was last pushed (UTC), or null.</param>
public sealed record RepositorySummary(long Id, string Name, int TagCount, long Size, DateTime? LastPush);

/// <summary>A platform of a multi-arch image, e.g. <c>linux/arm64/v8</c>.</summary>
public sealed record PlatformInfo(string Name, string Digest);

/// <summary>One row of a repository's tag list.</summary>
/// <param name="Name">The tag.</param>
/// <param name="Digest">Digest of the manifest it points at.</param>
/// <param name="MediaType">The manifest's media type.</param>
/// <param name="Size">Compressed size in bytes: config and layers; for an index, the distinct blobs of all its platforms.</param>
/// <param name="PushedAt">When the tag last moved (UTC).</param>
/// <param name="OtherTags">How many other tags point at the same manifest.</param>
/// <param name="Platforms">Platforms of an index (multi-arch image); empty for single-platform images.</param>
public sealed record TagRow(string Name, string Digest, string MediaType, long Size, DateTime PushedAt, int OtherTags, IReadOnlyList<PlatformInfo> Platforms)
{
    /// <summary>True for an image index / manifest list.</summary>
    public bool IsIndex => MediaTypes.IsIndex(MediaType);
}

/// <summary>Orders of the tag list.</summary>
public enum TagSort
{
    /// <summary>By name, A to Z (ordinal).</summary>
    Name,
    /// <summary>By name, Z to A.</summary>
    NameDescending,
    /// <summary>Most recently pushed first.</summary>
    Newest,
    /// <summary>Least recently pushed first.</summary>
    Oldest,
}

/// <summary>One page of tags. <see cref="Total"/> counts all matching tags; <see cref="Page"/> is 1-based.</summary>
public sealed record TagPage(IReadOnlyList<TagRow> Rows, int Total, int Page, int PageSize)
{
    /// <summary>Number of pages (at least 1).</summary>
    public int PageCount => Math.Max(1, (Total + PageSize - 1) / PageSize);
}

/// <summary>
/// The read side of the registry for the web UI: a project's image repositories with tag counts,
/// deduplicated sizes and last push; one repository's tags, a page at a time (one query for the rows with
/// their sizes and shared-digest counts, one count, and for multi-arch rows one more for their platforms'
/// sizes). Deletes go through <see cref="Registry.RegistryLifecycle"/>.
/// </summary>
public sealed class RegistryBrowser(BerthDbContext db)
{
    /// <summary>Largest page size the UI asks for.</summary>
    public const int MaxPageSize = 200;

    /// <summary>The repositories of a project (named by its full path, or below it) that hold at least one
    /// manifest, by name; <paramref name="search"/> filters by a part of the name.</summary>
    public async Task<IReadOnlyList<RepositorySummary>> ListRepositoriesAsync(ProjectEntity project, string? search, CancellationToken cancellationToken)
    {
        var query = ProjectRepositories(project).Where(r => db.Manifests.Any(m => m.RepositoryId == r.Id));
        if (!string.IsNullOrWhiteSpace(search))
        {
            var s = search.Trim().ToLowerInvariant();
            query = query.Where(r => r.Name.Contains(s));
        }
        var rows = await Summaries(query.OrderBy(r => r.Name)).ToListAsync(cancellationToken);
        return rows.OrderBy(r => r.Name, StringComparer.Ordinal).ToList();
    }

    /// <summary>One repository of a project by name, or null.</summary>
    public async Task<RepositorySummary?> GetRepositoryAsync(ProjectEntity project, string name, CancellationToken cancellationToken)
    {
        var lower = name.ToLowerInvariant();
        return await Summaries(ProjectRepositories(project).Where(r => r.Name == lower)).FirstOrDefaultAsync(cancellationToken);
    }

    /// <summary>How many repositories (holding manifests) and tags a project has.</summary>
    public async Task<(int Repositories, int Tags)> CountAsync(ProjectEntity project, CancellationToken cancellationToken)
    {
        var repositories = ProjectRepositories(project).Where(r => db.Manifests.Any(m => m.RepositoryId == r.Id));
        int count = await repositories.CountAsync(cancellationToken);
        int tags = await db.Tags.CountAsync(t => repositories.Any(r => r.Id == t.RepositoryId), cancellationToken);
        return (count, tags);
    }

    /// <summary>A page of a repository's tags.</summary>
    /// <param name="repositoryId">The repository.</param>
    /// <param name="search">Only tags containing this text.</param>
    /// <param name="sort">The order.</param>
    /// <param name="page">1-based page number (clamped).</param>
    /// <param name="pageSize">Rows per page (1 to <see cref="MaxPageSize"/>).</param>
    /// <param name="cancellationToken">Cancellation.</param>
    public async Task<TagPage> ListTagsAsync(long repositoryId, string? search, TagSort sort, int page, int pageSize, CancellationToken cancellationToken)
    {
        pageSize = Math.Clamp(pageSize, 1, MaxPageSize);
        var tags = db.Tags.Where(t => t.RepositoryId == repositoryId);
        if (!string.IsNullOrWhiteSpace(search))
        {
            var s = search.Trim();
            tags = tags.Where(t => t.Name.Contains(s));
        }
        int total = await tags.CountAsync(cancellationToken);
        int pages = Math.Max(1, (total + pageSize - 1) / pageSize);
        page = Math.Clamp(page, 1, pages);
        tags = sort switch
        {
            TagSort.NameDescending => tags.OrderByDescending(t => t.Name),
            TagSort.Newest => tags.OrderByDescending(t => t.UpdatedAt).ThenBy(t => t.Name),
            TagSort.Oldest => tags.OrderBy(t => t.UpdatedAt).ThenBy(t => t.Name),
            _ => tags.OrderBy(t => t.Name),
        };
        var rows = await (from t in tags.Skip((page - 1) * pageSize).Take(pageSize)
                          join m in db.Manifests on t.ManifestId equals m.Id
                          select new
                          {
                              t.Name,
                              t.UpdatedAt,
                              m.Id,
                              m.Digest,
                              m.MediaType,
                              Bytes = (from r in db.ManifestReferences
                                       join b in db.Blobs on r.Digest equals b.Digest
                                       where r.ManifestId == m.Id && !r.IsManifest
                                       select (long?)b.Size).Sum() ?? 0,
                              Shared = db.Tags.Count(o => o.ManifestId == m.Id) - 1,
                              Content = m.MediaType == MediaTypes.OciIndex || m.MediaType == MediaTypes.DockerManifestList ? m.Content : null,
                          }).ToListAsync(cancellationToken);
        // Keep the chosen order (the join may not).
        var ordered = sort switch
        {
            TagSort.NameDescending => rows.OrderByDescending(r => r.Name, StringComparer.Ordinal).ToList(),
            TagSort.Newest => rows.OrderByDescending(r => r.UpdatedAt).ThenBy(r => r.Name, StringComparer.Ordinal).ToList(),
            TagSort.Oldest => rows.OrderBy(r => r.UpdatedAt).ThenBy(r => r.Name, StringComparer.Ordinal).ToList(),
            _ => rows.OrderBy(r => r.Name, StringComparer.Ordinal).ToList(),
        };

        // Multi-arch rows: platforms from the index, size from the distinct blobs of its child manifests.
        var platforms = new Dictionary<long, List<PlatformInfo>>();
        foreach (var row in ordered.Where(r => r.Content is not null))
            platforms[row.Id] = ParsePlatforms(row.Content!);
        var indexSizes = await IndexSizesAsync(repositoryId, platforms.Keys.ToList(), cancellationToken);

        var result = ordered.Select(r => new TagRow(r.Name, r.Digest, r.MediaType,
            indexSizes.TryGetValue(r.Id, out var size) ? size : r.Bytes,
            DateTime.SpecifyKind(r.UpdatedAt, DateTimeKind.Utc), Math.Max(0, r.Shared),
            platforms.TryGetValue(r.Id, out var p) ? p : [])).ToList();
        return new TagPage(result, total, page, pageSize);
    }

    private IQueryable<RepositoryEntity> ProjectRepositories(ProjectEntity project)
    {
        var root = project.FullPath.ToLowerInvariant();
        var below = root + "/";
        return db.Repositories.Where(r => r.Name == root || r.Name.StartsWith(below));
    }

    private IQueryable<RepositorySummary> Summaries(IQueryable<RepositoryEntity> repositories) =>
        from r in repositories
        select new RepositorySummary(
            r.Id,
            r.Name,
            db.Tags.Count(t => t.RepositoryId == r.Id),
            (from rb in db.RepositoryBlobs
             join b in db.Blobs on rb.Digest equals b.Digest
             where rb.RepositoryId == r.Id
                   && db.ManifestReferences.Any(mr => mr.Digest == rb.Digest && !mr.IsManifest
                                                      && db.Manifests.Any(m => m.Id == mr.ManifestId && m.RepositoryId == r.Id))
             select (long?)b.Size).Sum() ?? 0,
            db.Tags.Where(t => t.RepositoryId == r.Id).Max(t => (DateTime?)t.UpdatedAt)
                ?? db.Manifests.Where(m => m.RepositoryId == r.Id).Max(m => (DateTime?)m.CreatedAt));

    private async Task<Dictionary<long, long>> IndexSizesAsync(long repositoryId, List<long> indexIds, CancellationToken cancellationToken)
    {
        if (indexIds.Count == 0) return [];
        var rows = await (from r in db.ManifestReferences
                          where indexIds.Contains(r.ManifestId) && r.IsManifest
                          join c in db.Manifests on new { RepositoryId = repositoryId, r.Digest } equals new { c.RepositoryId, c.Digest }
                          join cr in db.ManifestReferences on c.Id equals cr.ManifestId
                          where !cr.IsManifest
                          join b in db.Blobs on cr.Digest equals b.Digest
                          select new { IndexId = r.ManifestId, b.Digest, b.Size }).ToListAsync(cancellationToken);
        return rows.GroupBy(x => x.IndexId).ToDictionary(g => g.Key, g => g.DistinctBy(x => x.Digest).Sum(x => x.Size));
    }

    private static List<PlatformInfo> ParsePlatforms(byte[] content)
    {
        var result = new List<PlatformInfo>();
        try
        {
            using var doc = JsonDocument.Parse(content);
            if (!doc.RootElement.TryGetProperty("manifests", out var manifests) || manifests.ValueKind != JsonValueKind.Array) return result;
            foreach (var entry in manifests.EnumerateArray())
            {
                if (!entry.TryGetProperty("platform", out var platform) || platform.ValueKind != JsonValueKind.Object) continue;
                var os = platform.TryGetProperty("os", out var o) ? o.GetString() : null;
                var arch = platform.TryGetProperty("architecture", out var a) ? a.GetString() : null;
                if (os is null or "unknown" || arch is null or "unknown") continue; // attestations and the like
                var variant = platform.TryGetProperty("variant", out var v) ? v.GetString() : null;
                var digest = entry.TryGetProperty("digest", out var d) ? d.GetString() ?? "" : "";
                result.Add(new PlatformInfo(variant is null ? $"{os}/{arch}" : $"{os}/{arch}/{variant}", digest));
            }
        }
        catch (JsonException)
        {
            // stored as pushed; a malformed index shows no platforms
        }
        return result;
    }
}
