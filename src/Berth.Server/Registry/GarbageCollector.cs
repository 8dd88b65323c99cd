using Berth.Distribution;
using Berth.Metadata;
using Berth.Server.Configuration;
using Berth.Server.Observability;
using Berth.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Berth.Server.Registry;

/// <summary>Online garbage collection settings (section <c>Registry:GarbageCollection</c>). See docs/garbage-collection.md.</summary>
public sealed class GarbageCollectionOptions
{
    /// <summary>Run the background collector (one replica at a time, under the <c>garbage-collection</c> job lease).
    /// Default true. <c>berth gc</c> works either way.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How long an unreferenced blob or unreachable manifest stays queued before it may be deleted
    /// (default 24 hours). It must be longer than the slowest push: a blob uploaded but not yet referenced by a
    /// manifest is unreferenced too.</summary>
    public TimeSpan ReviewDelay { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Time between two background passes (default 15 minutes; at least 1 second).</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Most queued items one pass reviews per round (default 1000; 1 to 100000).</summary>
    public int BatchSize { get; set; } = 1000;
}

/// <summary>What garbage collection deleted, would delete (dry run) or queued.</summary>
public enum GcItemKind
{
    /// <summary>A manifest (its bytes live in the database).</summary>
    Manifest,
    /// <summary>A blob (bytes in storage, shared by every repository).</summary>
    Blob,
}

/// <summary>One item of a garbage collection report.</summary>
/// <param name="Kind">Manifest or blob.</param>
/// <param name="Repository">The manifest's repository; null for blobs (they belong to no single repository).</param>
/// <param name="Digest">The digest.</param>
/// <param name="Size">Size in bytes (a manifest's own bytes; a blob's stored bytes).</param>
/// <param name="Reason">Why it goes, in words.</param>
/// <param name="ReviewAfter">When it is (or would be) due for deletion (UTC).</param>
public sealed record GcItem(GcItemKind Kind, string? Repository, string Digest, long Size, string Reason, DateTime ReviewAfter);

/// <summary>The outcome of one garbage collection pass.</summary>
/// <param name="DryRun">True when nothing was changed (<c>berth gc --dry-run</c>).</param>
/// <param name="Deleted">Items deleted (dry run: that a pass now would delete).</param>
/// <param name="Queued">Items newly queued for review (dry run: that would be queued), due at their <see cref="GcItem.ReviewAfter"/>.</param>
/// <param name="Rescued">Queued items found referenced again at review time and taken off the queue.</param>
/// <param name="Failed">Items whose deletion failed (storage or database error); they stay queued for the next pass.</param>
public sealed record GcReport(bool DryRun, IReadOnlyList<GcItem> Deleted, IReadOnlyList<GcItem> Queued, int Rescued, int Failed)
{
    /// <summary>Bytes of the blobs deleted (or that would be).</summary>
    public long DeletedBlobBytes => Deleted.Where(i => i.Kind == GcItemKind.Blob).Sum(i => i.Size);
}

/// <summary>
/// Online garbage collection: no stop, no read-only mode. A pass (1) marks: manifests no tag reaches (directly,
/// through an index, or through the subject/referrer relation in either direction) and blobs no manifest
/// references go into review queues, due after <see cref="GarbageCollectionOptions.ReviewDelay"/>; (2) sweeps due
/// items one per transaction: it locks the row (PostgreSQL <c>FOR UPDATE</c>; SQLite transactions are
/// <c>BEGIN IMMEDIATE</c>, one writer at a time), takes the item off the queue only if it is still there and due
/// (a push that references it deletes the queue row first: a rescue), checks again that nothing references it,
/// deletes the database rows, then the blob's bytes, and commits. Pushes lock the rows they reference with
/// <c>FOR SHARE</c> in their own transaction, so a push and a sweep of the same row are serialized and the loser
/// sees the winner's result. The full argument is in docs/garbage-collection.md.
/// </summary>
public sealed class GarbageCollector(BerthDbContext db, BlobStore blobs, TimeProvider clock, IOptions<RegistryOptions> options, ILogger<GarbageCollector> logger)
{
    private const string ManifestReason = "untagged: no tag reaches it directly, through an index, or as the subject or referrer of a tagged manifest";
    private const string BlobReason = "no manifest references it";
    private const int MaxSweepRounds = 8;

    // Edges of "keeping": a kept index keeps its child manifests; a kept subject keeps its referrers; a kept
    // referrer keeps its subject. Always within one repository.
    private const string EdgesSql = """
        edges(src, dst) AS (
            SELECT p."Id", c."Id" FROM manifest_references r
                JOIN manifests p ON p."Id" = r."ManifestId"
                JOIN manifests c ON c."RepositoryId" = p."RepositoryId" AND c."Digest" = r."Digest"
                WHERE r."IsManifest"
            UNION ALL
            SELECT s."Id", x."Id" FROM manifests x JOIN manifests s ON s."RepositoryId" = x."RepositoryId" AND s."Digest" = x."SubjectDigest"
            UNION ALL
            SELECT x."Id", s."Id" FROM manifests x JOIN manifests s ON s."RepositoryId" = x."RepositoryId" AND s."Digest" = x."SubjectDigest"
        )
        """;

    private GarbageCollectionOptions Settings => options.Value.GarbageCollection;

    /// <summary>Runs one pass: mark, then sweep what is due.</summary>
    /// <param name="dryRun">Report what a pass now would queue and delete, change nothing.</param>
    /// <param name="renewLease">Called between rounds so a long pass keeps its job lease; null when none is held.</param>
    /// <param name="cancellationToken">Stops between items; what was done stays done.</param>
    public async Task<GcReport> RunAsync(bool dryRun, Func<CancellationToken, Task>? renewLease, CancellationToken cancellationToken)
    {
        var start = clock.GetTimestamp();
        try
        {
            var report = dryRun ? await DryRunAsync(cancellationToken) : await CollectAsync(renewLease, cancellationToken);
            if (!dryRun)
            {
                BerthMetrics.GcRun("ok", clock.GetElapsedTime(start));
                if (report.Deleted.Count > 0 || report.Queued.Count > 0 || report.Failed > 0)
                    logger.LogInformation("Garbage collection: {Manifests} manifests and {Blobs} blobs ({Bytes} bytes) deleted, {Queued} queued, {Rescued} rescued, {Failed} failed",
                        report.Deleted.Count(i => i.Kind == GcItemKind.Manifest), report.Deleted.Count(i => i.Kind == GcItemKind.Blob), report.DeletedBlobBytes,
                        report.Queued.Count, report.Rescued, report.Failed);
            }
            return report;
        }
        catch (Exception ex) when (!dryRun && ex is not OperationCanceledException)
        {
            BerthMetrics.GcRun("failed", clock.GetElapsedTime(start));
            throw;
        }
    }

    private DateTime Now => clock.GetUtcNow().UtcDateTime;

    private async Task<GcReport> CollectAsync(Func<CancellationToken, Task>? renewLease, CancellationToken cancellationToken)
    {
        var deleted = new List<GcItem>();
        var queued = new List<GcItem>();
        int rescued = 0, failed = 0;

        queued.AddRange(await MarkManifestsAsync(cancellationToken));
        // Children outlive the index that references them, so deleting an index can make its children deletable in
        // the same pass: sweep again while a round made progress.
        for (int round = 0; round < MaxSweepRounds; round++)
        {
            if (renewLease is not null) await renewLease(cancellationToken);
            var (d, r, f, progress) = await SweepManifestsAsync(cancellationToken);
            deleted.AddRange(d);
            rescued += r;
            failed += f;
            if (!progress) break;
        }
        queued.AddRange(await MarkBlobsAsync(cancellationToken));
        for (int round = 0; round < MaxSweepRounds; round++)
        {
            if (renewLease is not null) await renewLease(cancellationToken);
            var (d, r, f, progress) = await SweepBlobsAsync(cancellationToken);
            deleted.AddRange(d);
            rescued += r;
            failed += f;
            if (!progress) break;
        }
        return new GcReport(false, deleted, queued, rescued, failed);
    }

    // ---- mark ----

    private sealed record UnreachableManifestRow(long Id, string Repository, string Digest, long Size, DateTime? ReviewAfter);

    private sealed record UnreferencedBlobRow(string Digest, long Size, DateTime? ReviewAfter);

    private IQueryable<UnreachableManifestRow> UnreachableManifests() => db.Database.SqlQueryRaw<UnreachableManifestRow>($"""
        WITH RECURSIVE {EdgesSql},
        kept(id) AS (
            SELECT "ManifestId" FROM tags
            UNION
            SELECT e.dst FROM kept k JOIN edges e ON e.src = k.id
        )
        SELECT m."Id" AS "Id", r."Name" AS "Repository", m."Digest" AS "Digest", m."Size" AS "Size", q."ReviewAfter" AS "ReviewAfter"
        FROM manifests m
        JOIN repositories r ON r."Id" = m."RepositoryId"
        LEFT JOIN gc_manifest_review_queue q ON q."ManifestId" = m."Id"
        WHERE NOT EXISTS (SELECT 1 FROM kept WHERE kept.id = m."Id")
        """);

    private IQueryable<UnreferencedBlobRow> UnreferencedBlobs() => db.Database.SqlQueryRaw<UnreferencedBlobRow>("""
        SELECT b."Digest" AS "Digest", b."Size" AS "Size", q."ReviewAfter" AS "ReviewAfter"
        FROM blobs b
        LEFT JOIN gc_blob_review_queue q ON q."Digest" = b."Digest"
        WHERE NOT EXISTS (SELECT 1 FROM manifest_references r WHERE r."Digest" = b."Digest")
        """);

    private async Task<List<GcItem>> MarkManifestsAsync(CancellationToken cancellationToken)
    {
        var now = Now;
        var due = now + Settings.ReviewDelay;
        var fresh = (await UnreachableManifests().ToListAsync(cancellationToken)).Where(m => m.ReviewAfter is null).ToList();
        var queued = new List<GcItem>(fresh.Count);
        foreach (var m in fresh)
        {
            // One row at a time: the manifest may have been deleted meanwhile (then the foreign key has nothing to
            // point at and nothing is queued), or pushed again and queued by another pass.
            int n = await db.Database.ExecuteSqlInterpolatedAsync($"""
                INSERT INTO gc_manifest_review_queue ("ManifestId", "ReviewAfter", "QueuedAt")
                SELECT m."Id", {due}, {now} FROM manifests m WHERE m."Id" = {m.Id}
                ON CONFLICT ("ManifestId") DO NOTHING
                """, cancellationToken);
            if (n > 0) queued.Add(new GcItem(GcItemKind.Manifest, m.Repository, m.Digest, m.Size, ManifestReason, due));
        }
        BerthMetrics.GcQueued(GcItemKind.Manifest, queued.Count);
        return queued;
    }

    private async Task<List<GcItem>> MarkBlobsAsync(CancellationToken cancellationToken)
    {
        var now = Now;
        var due = now + Settings.ReviewDelay;
        var fresh = (await UnreferencedBlobs().ToListAsync(cancellationToken)).Where(b => b.ReviewAfter is null).ToList();
        var queued = new List<GcItem>(fresh.Count);
        foreach (var b in fresh)
        {
            int n = await db.Database.ExecuteSqlInterpolatedAsync($"""
                INSERT INTO gc_blob_review_queue ("Digest", "ReviewAfter", "QueuedAt")
                SELECT b."Digest", {due}, {now} FROM blobs b WHERE b."Digest" = {b.Digest}
                ON CONFLICT ("Digest") DO NOTHING
                """, cancellationToken);
            if (n > 0) queued.Add(new GcItem(GcItemKind.Blob, null, b.Digest, b.Size, BlobReason, due));
        }
        BerthMetrics.GcQueued(GcItemKind.Blob, queued.Count);
        return queued;
    }

    // ---- sweep ----

    private async Task<(List<GcItem> Deleted, int Rescued, int Failed, bool Progress)> SweepManifestsAsync(CancellationToken cancellationToken)
    {
        var now = Now;
        var dueIds = await db.GcManifestReviews.Where(q => q.ReviewAfter <= now).OrderBy(q => q.ReviewAfter).ThenBy(q => q.ManifestId)
            .Select(q => q.ManifestId).Take(Settings.BatchSize).ToListAsync(cancellationToken);
        var deleted = new List<GcItem>();
        int rescued = 0, failed = 0;
        bool progress = false;
        foreach (var id in dueIds)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                var outcome = await SweepManifestAsync(id, now, cancellationToken);
                if (outcome.Deleted is { } item)
                {
                    deleted.Add(item);
                    progress = true;
                }
                if (outcome.Rescued) rescued++;
            }
            catch (Exception ex) when (ex is DbUpdateException or System.Data.Common.DbException or InvalidOperationException)
            {
                failed++;
                logger.LogWarning(ex, "Garbage collection could not delete manifest {ManifestId}; it stays queued", id);
            }
            finally
            {
                db.ChangeTracker.Clear();
            }
        }
        BerthMetrics.GcDeleted(GcItemKind.Manifest, deleted.Count, deleted.Sum(d => d.Size));
        return (deleted, rescued, failed, progress);
    }

    private async Task<(GcItem? Deleted, bool Rescued)> SweepManifestAsync(long id, DateTime now, CancellationToken cancellationToken)
    {
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        var manifest = await db.Manifests.Where(m => m.Id == id)
            .Join(db.Repositories, m => m.RepositoryId, r => r.Id, (m, r) => new { m.Id, m.RepositoryId, m.Digest, m.Size, Repository = r.Name })
            .FirstOrDefaultAsync(cancellationToken);
        if (manifest is null) return (null, false); // deleted meanwhile; its queue row went with it

        // Lock the manifest and every manifest that could make it reachable (its ancestors over the keeping edges)
        // against pushes, then decide on what is committed now. A push that tags or references one of them holds
        // FOR SHARE on that row, so it either finished before (and we see it) or waits for us (and sees the result).
        var locked = new HashSet<long>();
        for (int attempt = 0; ; attempt++)
        {
            var ancestors = await AncestorsAsync(manifest.RepositoryId, id, cancellationToken);
            var toLock = ancestors.Where(a => !locked.Contains(a)).Order().ToList();
            if (toLock.Count == 0) break;
            if (attempt >= 3) return (null, false); // the graph keeps changing under us: try again next pass
            await LockManifestsForUpdateAsync(toLock, cancellationToken);
            locked.UnionWith(toLock);
        }

        // Conditional: the queue row must still be there and due. A push that references the manifest deleted it.
        int dequeued = await db.GcManifestReviews.Where(q => q.ManifestId == id && q.ReviewAfter <= now).ExecuteDeleteAsync(cancellationToken);
        if (dequeued == 0)
        {
            await tx.CommitAsync(cancellationToken);
            return (null, true);
        }
        bool tagged = await db.Tags.AnyAsync(t => locked.Contains(t.ManifestId), cancellationToken);
        bool hasParentIndex = await db.ManifestReferences.AnyAsync(r => r.IsManifest && r.Digest == manifest.Digest
            && db.Manifests.Any(p => p.Id == r.ManifestId && p.RepositoryId == manifest.RepositoryId), cancellationToken);
        if (tagged)
        {
            await tx.CommitAsync(cancellationToken); // reachable again: off the queue (a rescue)
            return (null, true);
        }
        if (hasParentIndex)
        {
            // An index (itself unreachable) still lists it: the index goes first, then this one, so no index is
            // ever left pointing at a missing child. Keep it queued.
            await tx.RollbackAsync(cancellationToken);
            return (null, false);
        }
        await db.ManifestReferences.Where(r => r.ManifestId == id).ExecuteDeleteAsync(cancellationToken);
        await db.Manifests.Where(m => m.Id == id).ExecuteDeleteAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return (new GcItem(GcItemKind.Manifest, manifest.Repository, manifest.Digest, manifest.Size, ManifestReason, now), false);
    }

    /// <summary>The manifest and every manifest of its repository it can be reached from over the keeping edges.</summary>
    private async Task<List<long>> AncestorsAsync(long repositoryId, long id, CancellationToken cancellationToken) =>
        await db.Database.SqlQuery<long>($"""
            WITH RECURSIVE m AS (SELECT "Id", "Digest", "SubjectDigest" FROM manifests WHERE "RepositoryId" = {repositoryId}),
            edges(src, dst) AS (
                SELECT p."Id", c."Id" FROM manifest_references r
                    JOIN m p ON p."Id" = r."ManifestId"
                    JOIN m c ON c."Digest" = r."Digest"
                    WHERE r."IsManifest"
                UNION ALL
                SELECT s."Id", x."Id" FROM m x JOIN m s ON s."Digest" = x."SubjectDigest"
                UNION ALL
                SELECT x."Id", s."Id" FROM m x JOIN m s ON s."Digest" = x."SubjectDigest"
            ),
            anc(id) AS (
                SELECT CAST({id} AS BIGINT)
                UNION
                SELECT e.src FROM anc a JOIN edges e ON e.dst = a.id
            )
            SELECT id AS "Value" FROM anc
            """).ToListAsync(cancellationToken);

    private async Task LockManifestsForUpdateAsync(List<long> ids, CancellationToken cancellationToken)
    {
        if (!db.IsPostgreSql) return; // SQLite: this transaction is the only writer (BEGIN IMMEDIATE)
        var array = ids.ToArray();
        await db.Database.SqlQuery<long>($"""SELECT "Id" AS "Value" FROM manifests WHERE "Id" = ANY({array}) ORDER BY "Id" FOR UPDATE""").ToListAsync(cancellationToken);
    }

    private async Task<(List<GcItem> Deleted, int Rescued, int Failed, bool Progress)> SweepBlobsAsync(CancellationToken cancellationToken)
    {
        var now = Now;
        var dueDigests = await db.GcBlobReviews.Where(q => q.ReviewAfter <= now).OrderBy(q => q.ReviewAfter).ThenBy(q => q.Digest)
            .Select(q => q.Digest).Take(Settings.BatchSize).ToListAsync(cancellationToken);
        var deleted = new List<GcItem>();
        int rescued = 0, failed = 0;
        foreach (var digest in dueDigests)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                var outcome = await SweepBlobAsync(digest, now, cancellationToken);
                if (outcome.Deleted is { } item) deleted.Add(item);
                if (outcome.Rescued) rescued++;
            }
            catch (Exception ex) when (ex is DbUpdateException or System.Data.Common.DbException or InvalidOperationException or IOException or StorageBackendException)
            {
                failed++;
                logger.LogWarning(ex, "Garbage collection could not delete blob {Digest}; it stays queued", digest);
            }
        }
        BerthMetrics.GcDeleted(GcItemKind.Blob, deleted.Count, deleted.Sum(d => d.Size));
        return (deleted, rescued, failed, deleted.Count > 0 && dueDigests.Count == Settings.BatchSize);
    }

    private async Task<(GcItem? Deleted, bool Rescued)> SweepBlobAsync(string digest, DateTime now, CancellationToken cancellationToken)
    {
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        // Lock the blob row: pushes that link or reference it hold FOR SHARE on it in their transaction.
        long? size = db.IsPostgreSql
            ? (await db.Database.SqlQuery<long>($"""SELECT "Size" AS "Value" FROM blobs WHERE "Digest" = {digest} FOR UPDATE""").ToListAsync(cancellationToken)).Cast<long?>().FirstOrDefault()
            : await db.Blobs.Where(b => b.Digest == digest).Select(b => (long?)b.Size).FirstOrDefaultAsync(cancellationToken);
        if (size is null) return (null, false);
        int dequeued = await db.GcBlobReviews.Where(q => q.Digest == digest && q.ReviewAfter <= now).ExecuteDeleteAsync(cancellationToken);
        if (dequeued == 0)
        {
            await tx.CommitAsync(cancellationToken);
            return (null, true); // a push took it off the queue
        }
        if (await db.ManifestReferences.AnyAsync(r => r.Digest == digest, cancellationToken))
        {
            await tx.CommitAsync(cancellationToken); // referenced again: off the queue
            return (null, true);
        }
        await db.RepositoryBlobs.Where(rb => rb.Digest == digest).ExecuteDeleteAsync(cancellationToken);
        await db.Blobs.Where(b => b.Digest == digest).ExecuteDeleteAsync(cancellationToken);
        // The bytes go while the row is still locked and before the commit: if this fails, the transaction rolls
        // back and the blob stays, whole, in the queue. No push can link the digest until we commit.
        if (Digest.TryParse(digest, out var parsed)) await blobs.DeleteAsync(parsed, cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return (new GcItem(GcItemKind.Blob, null, digest, size.Value, BlobReason, now), false);
    }

    // ---- dry run ----

    private async Task<GcReport> DryRunAsync(CancellationToken cancellationToken)
    {
        var now = Now;
        var due = now + Settings.ReviewDelay;
        var manifests = await UnreachableManifests().ToListAsync(cancellationToken);
        var blobRows = await UnreferencedBlobs().ToListAsync(cancellationToken);
        var deleted = new List<GcItem>();
        var queued = new List<GcItem>();
        foreach (var m in manifests.OrderBy(m => m.Repository, StringComparer.Ordinal).ThenBy(m => m.Digest, StringComparer.Ordinal))
        {
            var item = new GcItem(GcItemKind.Manifest, m.Repository, m.Digest, m.Size, ManifestReason, m.ReviewAfter ?? due);
            (m.ReviewAfter is { } at && at <= now ? deleted : queued).Add(item);
        }
        foreach (var b in blobRows.OrderBy(b => b.Digest, StringComparer.Ordinal))
        {
            var item = new GcItem(GcItemKind.Blob, null, b.Digest, b.Size, BlobReason, b.ReviewAfter ?? due);
            (b.ReviewAfter is { } at && at <= now ? deleted : queued).Add(item);
        }
        return new GcReport(true, deleted, queued, 0, 0);
    }
}

/// <summary>
/// Runs <see cref="GarbageCollector"/> every <see cref="GarbageCollectionOptions.Interval"/> on the replica that holds the
/// <c>garbage-collection</c> job lease (<see cref="BerthDbContext.TryAcquireLeaseAsync"/>), so replicas never sweep
/// side by side. Does nothing when <see cref="GarbageCollectionOptions.Enabled"/> is false.
/// </summary>
public sealed class GarbageCollectionWorker(IServiceScopeFactory scopes, TimeProvider clock, IOptions<RegistryOptions> options, ILogger<GarbageCollectionWorker> logger) : BackgroundService
{
    /// <summary>The job lease's name.</summary>
    public const string LeaseName = "garbage-collection";

    private readonly string _holder = Truncate($"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}", 255);

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[^length..];

    /// <inheritdoc/>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value.GarbageCollection;
        if (!settings.Enabled) return;
        var ttl = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMinutes(5).Ticks, settings.Interval.Ticks * 2));
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(settings.Interval, clock, stoppingToken);
                await using var scope = scopes.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<BerthDbContext>();
                if (!await db.TryAcquireLeaseAsync(LeaseName, _holder, ttl, clock.GetUtcNow(), stoppingToken)) continue;
                var collector = scope.ServiceProvider.GetRequiredService<GarbageCollector>();
                await collector.RunAsync(false, async ct =>
                {
                    if (!await db.TryAcquireLeaseAsync(LeaseName, _holder, ttl, clock.GetUtcNow(), ct))
                        throw new OperationCanceledException("the garbage-collection lease went to another replica");
                }, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogError(ex, "Garbage collection pass failed; the next one runs in {Interval}", settings.Interval);
            }
        }
    }
}
