using System.Globalization;
using Berth.Distribution;
using Berth.Metadata;
using Microsoft.EntityFrameworkCore;

namespace Berth.Server.Registry;

/// <summary>Deduplicated registry storage of a scope: each blob counted once however many repositories or manifests
/// use it. <see cref="Bytes"/> in bytes; <see cref="Blobs"/> is the number of distinct blobs.</summary>
public sealed record StorageUsage(long Bytes, long Blobs);

/// <summary>A namespace's quota and its usage now, both in bytes.</summary>
/// <param name="NamespaceId">The namespace.</param>
/// <param name="FullPath">Its full path.</param>
/// <param name="QuotaBytes">The quota, or null when none is set.</param>
/// <param name="Usage">Deduplicated usage of every repository under the namespace (subgroups included).</param>
public sealed record NamespaceStorage(long NamespaceId, string FullPath, long? QuotaBytes, StorageUsage Usage);

/// <summary>
/// Registry storage usage and namespace quotas (docs/quotas.md). Usage is an indexed aggregate over the links of
/// blobs to repositories (<c>repository_blobs</c>, keyed by repository and indexed by digest), computed when asked:
/// never a full scan, always current (a push, a delete or garbage collection changes the links in its own
/// transaction), and correct under concurrent pushes of one blob because every blob is counted once by digest. A
/// repository belongs to the project and the namespaces whose full paths prefix its name; the prefix range uses the
/// unique index on repository names.
/// </summary>
public sealed class RegistryUsage(BerthDbContext db, TimeProvider clock)
{
    /// <summary>Usage of one repository (blobs it may serve).</summary>
    public async Task<StorageUsage> ForRepositoryAsync(long repositoryId, CancellationToken cancellationToken)
    {
        var digests = db.RepositoryBlobs.Where(rb => rb.RepositoryId == repositoryId).Select(rb => rb.Digest);
        return await SumAsync(digests, cancellationToken);
    }

    /// <summary>Usage of every repository named <paramref name="fullPath"/> or under <c>fullPath/</c>: a project's
    /// repositories, or a namespace's (subgroups included).</summary>
    public async Task<StorageUsage> ForPathAsync(string fullPath, CancellationToken cancellationToken)
    {
        var (low, high) = (fullPath + "/", fullPath + "0"); // '0' follows '/' in byte order: the range is "fullPath/…"
        var repositories = db.Repositories
            .Where(r => r.Name == fullPath || (string.Compare(r.Name, low) >= 0 && string.Compare(r.Name, high) < 0))
            .Select(r => r.Id);
        var digests = db.RepositoryBlobs.Where(rb => repositories.Contains(rb.RepositoryId)).Select(rb => rb.Digest);
        return await SumAsync(digests, cancellationToken);
    }

    private async Task<StorageUsage> SumAsync(IQueryable<string> digests, CancellationToken cancellationToken)
    {
        var totals = await db.Blobs.Where(b => digests.Contains(b.Digest))
            .GroupBy(_ => 1)
            .Select(g => new { Bytes = g.Sum(b => b.Size), Count = g.LongCount() })
            .FirstOrDefaultAsync(cancellationToken);
        return totals is null ? new StorageUsage(0, 0) : new StorageUsage(totals.Bytes, totals.Count);
    }

    /// <summary>A namespace's quota and usage.</summary>
    /// <returns>Null when there is no such namespace.</returns>
    public async Task<NamespaceStorage?> GetNamespaceAsync(long namespaceId, CancellationToken cancellationToken)
    {
        var ns = await db.Namespaces.Where(n => n.Id == namespaceId).Select(n => new { n.Id, n.FullPath }).FirstOrDefaultAsync(cancellationToken);
        if (ns is null) return null;
        var quota = await db.NamespaceQuotas.Where(q => q.NamespaceId == namespaceId).Select(q => (long?)q.QuotaBytes).FirstOrDefaultAsync(cancellationToken);
        return new NamespaceStorage(ns.Id, ns.FullPath, quota, await ForPathAsync(ns.FullPath, cancellationToken));
    }

    /// <summary>Sets (or with null removes) a namespace's quota.</summary>
    /// <param name="namespaceId">The namespace.</param>
    /// <param name="quotaBytes">The quota in bytes (at least 1), or null for none.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <exception cref="ArgumentOutOfRangeException">The quota is below 1 byte.</exception>
    public async Task SetQuotaAsync(long namespaceId, long? quotaBytes, CancellationToken cancellationToken)
    {
        if (quotaBytes is null)
        {
            await db.NamespaceQuotas.Where(q => q.NamespaceId == namespaceId).ExecuteDeleteAsync(cancellationToken);
            return;
        }
        if (quotaBytes < 1) throw new ArgumentOutOfRangeException(nameof(quotaBytes), quotaBytes, "a quota is at least 1 byte");
        var now = clock.GetUtcNow().UtcDateTime;
        var bytes = quotaBytes.Value;
        await db.Database.ExecuteSqlInterpolatedAsync($"""
            INSERT INTO namespace_registry_quotas ("NamespaceId", "QuotaBytes", "UpdatedAt") VALUES ({namespaceId}, {bytes}, {now})
            ON CONFLICT ("NamespaceId") DO UPDATE SET "QuotaBytes" = excluded."QuotaBytes", "UpdatedAt" = excluded."UpdatedAt"
            """, cancellationToken);
    }

    /// <summary>
    /// Refuses a push into <paramref name="repository"/> that would take a namespace with a quota (the repository's
    /// own or any enclosing group) over it. With <paramref name="digest"/> null it refuses only when a namespace is
    /// already over its quota (start of an upload, a manifest); with a digest it also counts the blob's
    /// <paramref name="size"/>, unless the namespace already holds that blob (deduplicated).
    /// </summary>
    /// <exception cref="RegistryException">DENIED, with the quota and the usage in the message.</exception>
    public async Task CheckQuotaAsync(RepositoryName repository, Digest? digest, long size, CancellationToken cancellationToken)
    {
        var prefixes = Prefixes(repository.Value);
        var limited = await (from n in db.Namespaces
                             join q in db.NamespaceQuotas on n.Id equals q.NamespaceId
                             where prefixes.Contains(n.FullPath)
                             select new { n.FullPath, q.QuotaBytes }).ToListAsync(cancellationToken);
        foreach (var ns in limited)
        {
            var used = await ForPathAsync(ns.FullPath, cancellationToken);
            long adding = 0;
            if (digest is { } d && size > 0 && !await HoldsAsync(ns.FullPath, d.ToString(), cancellationToken)) adding = size;
            bool over = used.Bytes + adding > ns.QuotaBytes;
            if (!over) continue;
            var message = digest is null
                ? $"namespace '{ns.FullPath}' is over its storage quota: quota {FormatBytes(ns.QuotaBytes)}, usage {FormatBytes(used.Bytes)}; delete images (garbage collection then frees their blobs) or ask an administrator for a larger quota"
                : $"storage quota of namespace '{ns.FullPath}' exceeded: quota {FormatBytes(ns.QuotaBytes)}, usage {FormatBytes(used.Bytes)}, this blob adds {FormatBytes(adding)}; nothing was stored";
            throw new RegistryException(ErrorCode.Denied, message,
                new { @namespace = ns.FullPath, quota_bytes = ns.QuotaBytes, usage_bytes = used.Bytes, blob_bytes = adding });
        }
    }

    private async Task<bool> HoldsAsync(string fullPath, string digest, CancellationToken cancellationToken)
    {
        var (low, high) = (fullPath + "/", fullPath + "0");
        return await (from rb in db.RepositoryBlobs
                      join r in db.Repositories on rb.RepositoryId equals r.Id
                      where rb.Digest == digest && (r.Name == fullPath || (string.Compare(r.Name, low) >= 0 && string.Compare(r.Name, high) < 0))
                      select rb.RepositoryId).AnyAsync(cancellationToken);
    }

    /// <summary>The path prefixes that can name a namespace holding the repository: <c>a</c>, <c>a/b</c>, … (not the whole name).</summary>
    private static List<string> Prefixes(string name)
    {
        var prefixes = new List<string>();
        for (int i = name.IndexOf('/'); i > 0; i = name.IndexOf('/', i + 1)) prefixes.Add(name[..i]);
        return prefixes;
    }

    /// <summary>Bytes in binary units for people: <c>512 B</c>, <c>1.5 KiB</c>, <c>10.0 MiB</c>, <c>2.25 GiB</c>.</summary>
    public static string FormatBytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        double value = bytes;
        int unit = 0;
        while (Math.Abs(value) >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return unit == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{bytes} B")
            : string.Create(CultureInfo.InvariantCulture, $"{value:0.##} {units[unit]} ({bytes} bytes)");
    }
}
