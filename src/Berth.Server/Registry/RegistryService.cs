using System.IO.Pipelines;
using System.Text.Json;
using Berth.Distribution;
using Berth.Metadata;
using Berth.Server.Configuration;
using Berth.Server.Notifications;
using Berth.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Berth.Server.Registry;

/// <summary>What Berth knows about a blob a repository may serve. <see cref="Size"/> in bytes.</summary>
public sealed record BlobInfo(Digest Digest, long Size);

/// <summary>A stored manifest as served: bytes exactly as pushed, media type and digest.</summary>
public sealed record ManifestRecord(Digest Digest, string MediaType, byte[] Content, string? SubjectDigest);

/// <summary>The outcome of a manifest push.</summary>
public sealed record PutManifestResult(Digest Digest, Digest? Subject);

/// <summary>One page of a lexically ordered listing (tags, catalog); <see cref="HasMore"/> asks for a next link.</summary>
public sealed record Page(IReadOnlyList<string> Items, bool HasMore);

/// <summary>
/// The registry's domain operations (OCI Distribution Spec v1.1 pull, push, content discovery and content
/// management), over the metadata database and the blob store. Knows nothing of HTTP; refusals are
/// <see cref="RegistryException"/>s with the spec's codes. Every change it makes (manifest push and delete, blob
/// push and mount) is announced to the notification endpoints through <see cref="RegistryEvents"/>.
/// </summary>
public sealed class RegistryService(BerthDbContext db, BlobStore blobs, TimeProvider clock, IOptions<RegistryOptions> options, RegistryUsage usage, RegistryEvents events, Observability.Auditor audit, RegistryReadCache cache)
{
    // Compiled once per EF model: a process may hold more than one (SQLite and PostgreSQL side by side in the
    // metadata tests, or a database migration), and a compiled query is bound to the model it first ran with.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Microsoft.EntityFrameworkCore.Metadata.IModel, CompiledQueries> QueriesByModel = new();

    private CompiledQueries Queries => QueriesByModel.GetValue(db.Model, _ => new CompiledQueries());

    private sealed class CompiledQueries
    {
        public readonly Func<BerthDbContext, string, string, IAsyncEnumerable<BlobInfoRow>> BlobQuery =
            EF.CompileAsyncQuery((BerthDbContext ctx, string repository, string digest) =>
                from rb in ctx.RepositoryBlobs
                join r in ctx.Repositories on rb.RepositoryId equals r.Id
                join b in ctx.Blobs on rb.Digest equals b.Digest
                where r.Name == repository && rb.Digest == digest
                select new BlobInfoRow(b.Digest, b.Size));

        public readonly Func<BerthDbContext, string, string, IAsyncEnumerable<ManifestRow>> ManifestByTagQuery =
            EF.CompileAsyncQuery((BerthDbContext ctx, string repository, string tag) =>
                from t in ctx.Tags
                join r in ctx.Repositories on t.RepositoryId equals r.Id
                join m in ctx.Manifests on t.ManifestId equals m.Id
                where r.Name == repository && t.Name == tag
                select new ManifestRow(m.Digest, m.MediaType, m.Content, m.SubjectDigest));

        public readonly Func<BerthDbContext, string, string, IAsyncEnumerable<ManifestRow>> ManifestByDigestQuery =
            EF.CompileAsyncQuery((BerthDbContext ctx, string repository, string digest) =>
                from m in ctx.Manifests
                join r in ctx.Repositories on m.RepositoryId equals r.Id
                where r.Name == repository && m.Digest == digest
                select new ManifestRow(m.Digest, m.MediaType, m.Content, m.SubjectDigest));
    }

    private sealed record BlobInfoRow(string Digest, long Size);
    private sealed record ManifestRow(string Digest, string MediaType, byte[] Content, string? SubjectDigest);

    private DateTime Now => clock.GetUtcNow().UtcDateTime;

    // ---- blobs ----

    /// <summary>The blob if <paramref name="repository"/> may serve it; null otherwise (even when other repositories have it).</summary>
    public async Task<BlobInfo?> GetBlobAsync(RepositoryName repository, Digest digest, CancellationToken cancellationToken)
    {
        await foreach (var row in Queries.BlobQuery(db, repository.Value, digest.ToString()).WithCancellation(cancellationToken))
        {
            return new BlobInfo(digest, row.Size);
        }
        return null;
    }

    /// <summary>
    /// <see cref="GetBlobAsync"/> for a pull (blob GET and HEAD): answered from <see cref="RegistryReadCache"/> when it
    /// remembers the blob, so an unlink made by another replica shows here within <c>Registry:ReadCacheSeconds</c>.
    /// Mounts and the registry's own reads use the uncached <see cref="GetBlobAsync"/>.
    /// </summary>
    public async Task<BlobInfo?> GetBlobForPullAsync(RepositoryName repository, Digest digest, CancellationToken cancellationToken)
    {
        if (cache.TryGetBlob(repository, digest, out var cached)) return cached;
        var ticket = cache.BeginRead();
        var blob = await GetBlobAsync(repository, digest, cancellationToken);
        if (blob is not null) cache.RememberBlob(repository, blob, ticket);
        return blob;
    }

    /// <summary>Removes a repository's link to a blob (the bytes stay until garbage collection).</summary>
    /// <returns>False when the repository had no such link.</returns>
    public async Task<bool> DeleteBlobAsync(RepositoryName repository, Digest digest, CancellationToken cancellationToken)
    {
        var d = digest.ToString();
        int n = await db.RepositoryBlobs
            .Where(rb => rb.Digest == d && db.Repositories.Any(r => r.Id == rb.RepositoryId && r.Name == repository.Value))
            .ExecuteDeleteAsync(cancellationToken);
        if (n > 0) audit.Record("blob_deleted", $"{repository}@{digest}", $"blob {digest} unlinked from {repository}");
        return n > 0;
    }

    /// <summary>Reads a small blob of the repository whole (an image config, for schema 1 conversion); the
    /// largest size read is <paramref name="maxBytes"/> bytes.</summary>
    /// <returns>Null when the repository cannot serve the blob, its bytes are missing or it is larger than <paramref name="maxBytes"/>.</returns>
    public async Task<byte[]?> ReadSmallBlobAsync(RepositoryName repository, Digest digest, long maxBytes, CancellationToken cancellationToken)
    {
        var blob = await GetBlobAsync(repository, digest, cancellationToken);
        if (blob is null || blob.Size > maxBytes) return null;
        try
        {
            await using var stream = await blobs.OpenReadAsync(digest, 0, cancellationToken);
            var content = new byte[blob.Size];
            await stream.ReadExactlyAsync(content, cancellationToken);
            return content;
        }
        catch (Exception ex) when (ex is StoragePathNotFoundException or EndOfStreamException)
        {
            return null;
        }
    }

    /// <summary>Makes sure the repository can serve a blob the registry itself produces (the empty layer of
    /// converted schema 1 manifests): links it when its bytes are stored, stores and links it otherwise.</summary>
    public async Task EnsureBlobAsync(RepositoryName repository, Digest digest, byte[] content, CancellationToken cancellationToken)
    {
        if (await GetBlobAsync(repository, digest, cancellationToken) is not null && await blobs.StatAsync(digest, cancellationToken) is not null) return;
        // Through the upload path, which links the blob under garbage collection's rules (see LinkBlobAsync).
        await UploadMonolithicAsync(repository, digest, new MemoryStream(content, writable: false), cancellationToken);
    }

    /// <summary>Cross-repository mount: links a blob of <paramref name="source"/> into <paramref name="target"/>.</summary>
    /// <returns>The blob, or null when the source repository cannot serve it (the caller starts an upload instead).</returns>
    public async Task<BlobInfo?> MountBlobAsync(RepositoryName target, RepositoryName source, Digest digest, CancellationToken cancellationToken)
    {
        var blob = await GetBlobAsync(source, digest, cancellationToken);
        if (blob is null) return null;
        var stat = await blobs.StatAsync(digest, cancellationToken);
        if (stat is null) return null; // metadata without bytes: let the client upload again
        await usage.CheckQuotaAsync(target, digest, blob.Size, cancellationToken);
        long repositoryId = await EnsureRepositoryAsync(target, cancellationToken);
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        // The blob must still exist once locked: garbage collection may have deleted it since the checks above.
        if (!await LinkBlobAsync(repositoryId, digest, blob.Size, mustExist: true, cancellationToken)) return null;
        await tx.CommitAsync(cancellationToken);
        await events.BlobMountedAsync(target, source, digest, blob.Size);
        return blob;
    }

    // ---- uploads ----

    /// <summary>Starts an upload session in a repository (created if new).</summary>
    public async Task<Guid> StartUploadAsync(RepositoryName repository, CancellationToken cancellationToken)
    {
        await usage.CheckQuotaAsync(repository, null, 0, cancellationToken);
        long repositoryId = await EnsureRepositoryAsync(repository, cancellationToken);
        var id = Guid.NewGuid();
        await blobs.StartUploadAsync(id, cancellationToken);
        db.UploadSessions.Add(new UploadSessionEntity { Id = id, RepositoryId = repositoryId, StartedAt = Now });
        await db.SaveChangesAsync(cancellationToken);
        db.ChangeTracker.Clear();
        return id;
    }

    /// <summary>Bytes received so far by an upload session of this repository.</summary>
    /// <exception cref="RegistryException">BLOB_UPLOAD_UNKNOWN when the session does not exist in this repository.</exception>
    public async Task<long> GetUploadSizeAsync(RepositoryName repository, Guid id, CancellationToken cancellationToken)
    {
        await RequireUploadAsync(repository, id, cancellationToken);
        return await blobs.GetUploadSizeAsync(id, cancellationToken) ?? throw UploadUnknown(id);
    }

    /// <summary>Appends a chunk (PATCH). See <see cref="BlobStore.AppendAsync(Guid, long?, Stream, CancellationToken)"/>.</summary>
    public async Task<long> AppendUploadAsync(RepositoryName repository, Guid id, long? offset, Stream body, CancellationToken cancellationToken)
    {
        await RequireUploadAsync(repository, id, cancellationToken);
        return await blobs.AppendAsync(id, offset, body, cancellationToken);
    }

    /// <summary>Appends a chunk (PATCH) read from the request's pipe. See <see cref="BlobStore.AppendAsync(Guid, long?, PipeReader, CancellationToken)"/>.</summary>
    public async Task<long> AppendUploadAsync(RepositoryName repository, Guid id, long? offset, PipeReader body, CancellationToken cancellationToken)
    {
        await RequireUploadAsync(repository, id, cancellationToken);
        return await blobs.AppendAsync(id, offset, body, cancellationToken);
    }

    /// <summary>Finishes an upload session (PUT): verifies the digest, stores the blob, links it into the repository.</summary>
    /// <returns>The blob's size in bytes.</returns>
    public Task<long> CompleteUploadAsync(RepositoryName repository, Guid id, Digest digest, long? offset, Stream? body, CancellationToken cancellationToken) =>
        body is null
            ? CompleteUploadAsync(repository, id, digest, offset, (PipeReader?)null, cancellationToken)
            : BlobStore.ReadThroughPipeAsync(body, reader => CompleteUploadAsync(repository, id, digest, offset, reader, cancellationToken));

    /// <summary>Finishes an upload session (PUT) with the last chunk, if any, read from the request's pipe: verifies the
    /// digest, stores the blob, links it into the repository.</summary>
    /// <returns>The blob's size in bytes.</returns>
    public async Task<long> CompleteUploadAsync(RepositoryName repository, Guid id, Digest digest, long? offset, PipeReader? body, CancellationToken cancellationToken)
    {
        long repositoryId = await RequireUploadAsync(repository, id, cancellationToken);
        long size;
        try
        {
            // Verified and placed, but when the digest's bytes were already stored the session keeps its copy
            // until the link below is committed: garbage collection may be deleting the stored copy right now.
            // The quota is checked once the size is known and the digest verified, before anything is stored.
            size = await blobs.CompleteUploadAsync(id, digest, offset, body, cancellationToken,
                (verifiedSize, ct) => usage.CheckQuotaAsync(repository, digest, verifiedSize, ct));
        }
        catch (RegistryException ex) when (ex.Code == ErrorCode.DigestInvalid || ex.Code == ErrorCode.Denied)
        {
            await db.UploadSessions.Where(u => u.Id == id).ExecuteDeleteAsync(CancellationToken.None);
            throw;
        }
        await using (var tx = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            await LinkBlobAsync(repositoryId, digest, size, mustExist: false, cancellationToken);
            await db.UploadSessions.Where(u => u.Id == id).ExecuteDeleteAsync(cancellationToken);
            await tx.CommitAsync(cancellationToken);
        }
        // Linked and off the review queue: from here on garbage collection leaves the digest alone, so the stored
        // copy (or the session's, moved into place now if the stored one went) is safe.
        await blobs.FinishUploadAsync(id, digest, size, cancellationToken);
        await events.BlobPushedAsync(repository, digest, size);
        return size;
    }

    /// <summary>Cancels an upload session (DELETE) and discards its bytes.</summary>
    public async Task CancelUploadAsync(RepositoryName repository, Guid id, CancellationToken cancellationToken)
    {
        await RequireUploadAsync(repository, id, cancellationToken);
        await blobs.DiscardUploadAsync(id, cancellationToken);
        await db.UploadSessions.Where(u => u.Id == id).ExecuteDeleteAsync(cancellationToken);
    }

    /// <summary>Monolithic upload (POST or PUT with the whole blob): streams, verifies and stores in one request.</summary>
    public Task<long> UploadMonolithicAsync(RepositoryName repository, Digest digest, Stream body, CancellationToken cancellationToken) =>
        BlobStore.ReadThroughPipeAsync(body, reader => UploadMonolithicAsync(repository, digest, reader, cancellationToken));

    /// <summary>Monolithic upload read from the request's pipe (its buffers hashed and written without a copy).</summary>
    public async Task<long> UploadMonolithicAsync(RepositoryName repository, Digest digest, PipeReader body, CancellationToken cancellationToken)
    {
        var id = await StartUploadAsync(repository, cancellationToken);
        try
        {
            return await CompleteUploadAsync(repository, id, digest, null, body, cancellationToken);
        }
        catch
        {
            await blobs.DiscardUploadAsync(id, CancellationToken.None);
            await db.UploadSessions.Where(u => u.Id == id).ExecuteDeleteAsync(CancellationToken.None);
            throw;
        }
    }

    private async Task<long> RequireUploadAsync(RepositoryName repository, Guid id, CancellationToken cancellationToken)
    {
        var repositoryId = await (from u in db.UploadSessions
                                  join r in db.Repositories on u.RepositoryId equals r.Id
                                  where u.Id == id && r.Name == repository.Value
                                  select (long?)r.Id).FirstOrDefaultAsync(cancellationToken);
        return repositoryId ?? throw UploadUnknown(id);
    }

    private static RegistryException UploadUnknown(Guid id) =>
        new(ErrorCode.BlobUploadUnknown, $"upload session {id:N} is unknown in this repository (finished, cancelled, or never started)");

    // ---- manifests ----

    /// <summary>A manifest by tag or digest; null when the repository has none by that reference.</summary>
    /// <remarks>Answered from <see cref="RegistryReadCache"/> when it remembers the reference: a tag moved or deleted by
    /// another replica shows here within <c>Registry:ReadCacheSeconds</c>, at once when moved by this one.</remarks>
    public async Task<ManifestRecord?> GetManifestAsync(RepositoryName repository, Reference reference, CancellationToken cancellationToken)
    {
        if (cache.TryGetManifest(repository, reference, out var cached)) return cached;
        var ticket = cache.BeginRead();
        var manifest = await ReadManifestAsync(repository, reference, cancellationToken);
        if (manifest is not null) cache.RememberManifest(repository, reference, manifest, ticket);
        return manifest;
    }

    private async Task<ManifestRecord?> ReadManifestAsync(RepositoryName repository, Reference reference, CancellationToken cancellationToken)
    {
        var rows = reference.IsDigest
            ? Queries.ManifestByDigestQuery(db, repository.Value, reference.Digest.ToString())
            : Queries.ManifestByTagQuery(db, repository.Value, reference.Tag.Value);
        await foreach (var row in rows.WithCancellation(cancellationToken))
        {
            return new ManifestRecord(Digest.Parse(row.Digest), row.MediaType, row.Content, row.SubjectDigest);
        }
        return null;
    }

    /// <summary>
    /// Stores a manifest (PUT): validates it, checks that every blob and child manifest it references is in
    /// the repository, stores the bytes unchanged and moves the tag when the reference is a tag. Nothing
    /// changes when it is refused. A Docker schema 1 manifest (accepted unless <c>Registry:Schema1:AcceptPush</c>
    /// is false) must name this repository, and the pushed tag when pushed by tag; its digest is that of its
    /// canonical payload (<see cref="ParsedManifest.ComputeDigest"/>).
    /// </summary>
    /// <exception cref="RegistryException">MANIFEST_INVALID, MANIFEST_UNVERIFIED, TAG_INVALID, MANIFEST_BLOB_UNKNOWN, DIGEST_INVALID.</exception>
    public async Task<PutManifestResult> PutManifestAsync(RepositoryName repository, Reference reference, byte[] content, string? contentType, CancellationToken cancellationToken)
    {
        var manifest = ManifestParser.Parse(content, contentType, options.Value.Schema1.AcceptPush);
        manifest.Schema1?.CheckTarget(repository, reference.IsDigest ? null : reference.Tag);
        var digest = manifest.ComputeDigest(content, reference.IsDigest ? reference.Digest.Algorithm : Digest.Sha256);
        if (reference.IsDigest && digest != reference.Digest)
        {
            throw new RegistryException(ErrorCode.DigestInvalid, $"the manifest's digest is {digest}, not {reference.Digest}",
                new { expected = reference.Digest.ToString(), actual = digest.ToString() });
        }

        await usage.CheckQuotaAsync(repository, null, 0, cancellationToken);

        // Checked against the repository as it is; it is created only once the manifest is accepted.
        long repositoryId = await FindRepositoryAsync(repository, cancellationToken) ?? -1;

        // One transaction from the checks to the commit: the blobs and manifests it references are locked against
        // garbage collection (PostgreSQL: FOR SHARE; SQLite: BEGIN IMMEDIATE, one writer at a time) and taken off
        // the review queue, so what the checks see still exists when the manifest commits. docs/garbage-collection.md.
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        var requiredBlobs = manifest.RequiredBlobs.ToList();
        var requiredBlobDigests = manifest.RequiredBlobDigests.ToList();
        if (requiredBlobDigests.Count > 0)
        {
            var wanted = requiredBlobDigests.Select(d => d.ToString()).Distinct().ToList();
            await LockBlobsAsync(wanted, cancellationToken);
            await db.GcBlobReviews.Where(q => wanted.Contains(q.Digest)).ExecuteDeleteAsync(cancellationToken);
            var present = await (from rb in db.RepositoryBlobs
                                 join b in db.Blobs on rb.Digest equals b.Digest
                                 where rb.RepositoryId == repositoryId && wanted.Contains(rb.Digest)
                                 select new { b.Digest, b.Size }).ToDictionaryAsync(x => x.Digest, x => x.Size, cancellationToken);
            foreach (var d in requiredBlobDigests)
            {
                if (!present.ContainsKey(d.ToString()))
                    throw new RegistryException(ErrorCode.ManifestBlobUnknown, $"blob {d} is not in repository {repository}; push it (or mount it) before the manifest", new { digest = d.ToString() });
            }
            foreach (var d in requiredBlobs)
            {
                var size = present[d.Digest.ToString()];
                if (size != d.Size)
                    throw new RegistryException(ErrorCode.ManifestInvalid, $"descriptor of {d.Digest} says {d.Size} bytes but the blob has {size}", new { digest = d.Digest.ToString(), declared = d.Size, actual = size });
            }
        }
        var requiredManifests = manifest.RequiredManifests.ToList();
        var related = requiredManifests.Select(d => d.Digest.ToString()).Append(manifest.Subject?.Digest.ToString()).OfType<string>().Distinct().ToList();
        if (related.Count > 0 && repositoryId >= 0)
        {
            // Child manifests and the subject: locked and rescued (a kept referrer keeps its subject).
            var relatedIds = await LockManifestsAsync(repositoryId, related, cancellationToken);
            if (relatedIds.Count > 0) await db.GcManifestReviews.Where(q => relatedIds.Contains(q.ManifestId)).ExecuteDeleteAsync(cancellationToken);
        }
        if (requiredManifests.Count > 0)
        {
            var wanted = requiredManifests.Select(d => d.Digest.ToString()).Distinct().ToList();
            var present = await db.Manifests.Where(m => m.RepositoryId == repositoryId && wanted.Contains(m.Digest))
                .ToDictionaryAsync(m => m.Digest, m => m.Size, cancellationToken);
            foreach (var d in requiredManifests)
            {
                if (!present.TryGetValue(d.Digest.ToString(), out var size))
                    throw new RegistryException(ErrorCode.ManifestBlobUnknown, $"manifest {d.Digest} is not in repository {repository}; push the platform manifests before the index", new { digest = d.Digest.ToString() });
                if (size != d.Size)
                    throw new RegistryException(ErrorCode.ManifestInvalid, $"descriptor of manifest {d.Digest} says {d.Size} bytes but it has {size}", new { digest = d.Digest.ToString(), declared = d.Size, actual = size });
            }
        }

        var digestText = digest.ToString();
        var now = Now;
        string? annotations = manifest.Annotations is { Count: > 0 } a ? JsonSerializer.Serialize(a) : null;
        if (repositoryId < 0) repositoryId = await EnsureRepositoryAsync(repository, cancellationToken);
        long manifestId = 0;
        for (int attempt = 0; manifestId == 0; attempt++)
        {
            await db.Database.ExecuteSqlInterpolatedAsync($"""
                INSERT INTO manifests ("RepositoryId", "Digest", "MediaType", "ArtifactType", "SubjectDigest", "Size", "Content", "AnnotationsJson", "CreatedAt")
                VALUES ({repositoryId}, {digestText}, {manifest.MediaType}, {manifest.EffectiveArtifactType}, {manifest.Subject?.Digest.ToString()}, {(long)content.Length}, {content}, {annotations}, {now})
                ON CONFLICT ("RepositoryId", "Digest") DO NOTHING
                """, cancellationToken);
            // Locked like the references: garbage collection may have deleted an existing copy since the insert saw it.
            var ids = await LockManifestsAsync(repositoryId, [digestText], cancellationToken);
            if (ids.Count > 0) manifestId = ids[0];
            else if (attempt >= 2) throw new InvalidOperationException($"manifest {digestText} vanished three times while being stored");
        }
        await db.GcManifestReviews.Where(q => q.ManifestId == manifestId).ExecuteDeleteAsync(cancellationToken);
        foreach (var child in requiredBlobDigests.Select(d => (Digest: d, IsManifest: false)).Concat(requiredManifests.Select(d => (d.Digest, IsManifest: true))).DistinctBy(x => x.Digest))
        {
            var childDigest = child.Digest.ToString();
            await db.Database.ExecuteSqlInterpolatedAsync($"""
                INSERT INTO manifest_references ("ManifestId", "Digest", "IsManifest") VALUES ({manifestId}, {childDigest}, {child.IsManifest})
                ON CONFLICT ("ManifestId", "Digest") DO NOTHING
                """, cancellationToken);
        }
        if (!reference.IsDigest)
        {
            var tag = reference.Tag.Value;
            await db.Database.ExecuteSqlInterpolatedAsync($"""
                INSERT INTO tags ("RepositoryId", "Name", "ManifestId", "UpdatedAt") VALUES ({repositoryId}, {tag}, {manifestId}, {now})
                ON CONFLICT ("RepositoryId", "Name") DO UPDATE SET "ManifestId" = excluded."ManifestId", "UpdatedAt" = excluded."UpdatedAt"
                """, cancellationToken);
        }
        await tx.CommitAsync(cancellationToken);
        await events.ManifestPushedAsync(repository, digest, manifest.MediaType, content.Length, reference.IsDigest ? null : reference.Tag.Value);
        return new PutManifestResult(digest, manifest.Subject?.Digest);
    }

    /// <summary>
    /// Deletes by reference: a tag reference removes only the tag; a digest reference removes the manifest
    /// and every tag pointing at it.
    /// </summary>
    /// <returns>False when nothing matched.</returns>
    public async Task<bool> DeleteManifestAsync(RepositoryName repository, Reference reference, CancellationToken cancellationToken)
    {
        var repositoryId = await FindRepositoryAsync(repository, cancellationToken);
        if (repositoryId is null) return false;
        if (!reference.IsDigest)
        {
            var tag = reference.Tag.Value;
            if (await db.Tags.Where(t => t.RepositoryId == repositoryId && t.Name == tag).ExecuteDeleteAsync(cancellationToken) == 0) return false;
            audit.Record("tag_deleted", $"{repository}:{tag}", $"tag {tag} of {repository} deleted");
            await events.TagDeletedAsync(repository, tag);
            return true;
        }
        var digest = reference.Digest.ToString();
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        var manifestId = await db.Manifests.Where(m => m.RepositoryId == repositoryId && m.Digest == digest).Select(m => (long?)m.Id).FirstOrDefaultAsync(cancellationToken);
        if (manifestId is null) return false;
        await db.Tags.Where(t => t.ManifestId == manifestId).ExecuteDeleteAsync(cancellationToken);
        await db.ManifestReferences.Where(r => r.ManifestId == manifestId).ExecuteDeleteAsync(cancellationToken);
        await db.Manifests.Where(m => m.Id == manifestId).ExecuteDeleteAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
        audit.Record("manifest_deleted", $"{repository}@{reference.Digest}", $"manifest {reference.Digest} of {repository} deleted with the tags pointing at it");
        await events.ManifestDeletedAsync(repository, reference.Digest);
        return true;
    }

    /// <summary>
    /// Deletes a whole repository: its tags, manifests (with their references), blob links, upload sessions and the
    /// repository row, in one transaction. Blob bytes stay in storage for garbage collection. Used by the REST API's
    /// asynchronous repository delete and by the web UI.
    /// </summary>
    /// <returns>False when no such repository exists.</returns>
    public async Task<bool> DeleteRepositoryAsync(RepositoryName repository, CancellationToken cancellationToken)
    {
        var repositoryId = await FindRepositoryAsync(repository, cancellationToken);
        if (repositoryId is null) return false;
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.Tags.Where(t => t.RepositoryId == repositoryId).ExecuteDeleteAsync(cancellationToken);
        await db.ManifestReferences.Where(r => db.Manifests.Any(m => m.Id == r.ManifestId && m.RepositoryId == repositoryId)).ExecuteDeleteAsync(cancellationToken);
        await db.Manifests.Where(m => m.RepositoryId == repositoryId).ExecuteDeleteAsync(cancellationToken);
        await db.RepositoryBlobs.Where(b => b.RepositoryId == repositoryId).ExecuteDeleteAsync(cancellationToken);
        await db.UploadSessions.Where(u => u.RepositoryId == repositoryId).ExecuteDeleteAsync(cancellationToken);
        await db.Repositories.Where(r => r.Id == repositoryId).ExecuteDeleteAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
        audit.Record("repository_deleted", repository.Value, $"image repository {repository} deleted with its tags and manifests");
        await events.RepositoryDeletedAsync(repository);
        return true;
    }

    // ---- content discovery ----

    /// <summary>Tags of a repository in lexical (ordinal) order after <paramref name="last"/>, at most <paramref name="limit"/>.</summary>
    /// <returns>Null when the repository does not exist.</returns>
    public async Task<Page?> ListTagsAsync(RepositoryName repository, int? limit, string? last, CancellationToken cancellationToken)
    {
        var repositoryId = await FindRepositoryAsync(repository, cancellationToken);
        if (repositoryId is null) return null;
        var query = db.Tags.Where(t => t.RepositoryId == repositoryId);
        if (!string.IsNullOrEmpty(last)) query = query.Where(t => string.Compare(t.Name, last) > 0);
        return await PageAsync(query.OrderBy(t => t.Name).Select(t => t.Name), limit, cancellationToken);
    }

    /// <summary>
    /// All tags of a repository in lexical (ordinal) order after <paramref name="last"/>, streamed from one indexed
    /// range scan of the <c>tags</c> primary key (repository, name) without building a list: for unpaginated tag lists,
    /// which may hold hundreds of thousands of names.
    /// </summary>
    /// <returns>Null when the repository does not exist.</returns>
    public async Task<IAsyncEnumerable<string>?> StreamTagsAsync(RepositoryName repository, string? last, CancellationToken cancellationToken)
    {
        var repositoryId = await FindRepositoryAsync(repository, cancellationToken);
        if (repositoryId is null) return null;
        var query = db.Tags.Where(t => t.RepositoryId == repositoryId);
        if (!string.IsNullOrEmpty(last)) query = query.Where(t => string.Compare(t.Name, last) > 0);
        return query.OrderBy(t => t.Name).Select(t => t.Name).AsAsyncEnumerable();
    }

    /// <summary>Repository names (those holding at least one manifest) in lexical order after <paramref name="last"/>.</summary>
    public Task<Page> ListRepositoriesAsync(int? limit, string? last, CancellationToken cancellationToken)
    {
        var query = db.Repositories.Where(r => db.Manifests.Any(m => m.RepositoryId == r.Id));
        if (!string.IsNullOrEmpty(last)) query = query.Where(r => string.Compare(r.Name, last) > 0);
        return PageAsync(query.OrderBy(r => r.Name).Select(r => r.Name), limit, cancellationToken);
    }

    private static async Task<Page> PageAsync(IQueryable<string> ordered, int? limit, CancellationToken cancellationToken)
    {
        if (limit is null) return new Page(await ordered.ToListAsync(cancellationToken), false);
        if (limit == 0) return new Page([], false);
        var items = await ordered.Take(limit.Value + 1).ToListAsync(cancellationToken);
        bool more = items.Count > limit.Value;
        if (more) items.RemoveAt(items.Count - 1);
        return new Page(items, more);
    }

    /// <summary>Manifests in the repository whose subject is <paramref name="subject"/> (OCI 1.1 referrers),
    /// optionally only those of one artifact type.</summary>
    public async Task<IReadOnlyList<Descriptor>> ListReferrersAsync(RepositoryName repository, Digest subject, string? artifactType, CancellationToken cancellationToken)
    {
        var repositoryId = await FindRepositoryAsync(repository, cancellationToken);
        if (repositoryId is null) return [];
        var s = subject.ToString();
        var query = db.Manifests.Where(m => m.RepositoryId == repositoryId && m.SubjectDigest == s);
        if (artifactType is not null) query = query.Where(m => m.ArtifactType == artifactType);
        var rows = await query.OrderBy(m => m.Id).Select(m => new { m.Digest, m.MediaType, m.Size, m.ArtifactType, m.AnnotationsJson }).ToListAsync(cancellationToken);
        return rows.Select(r => new Descriptor(r.MediaType, Digest.Parse(r.Digest), r.Size)
        {
            ArtifactType = r.ArtifactType,
            Annotations = r.AnnotationsJson is null ? null : JsonSerializer.Deserialize<Dictionary<string, string>>(r.AnnotationsJson),
        }).ToList();
    }

    // ---- helpers ----

    private async Task<long?> FindRepositoryAsync(RepositoryName repository, CancellationToken cancellationToken) =>
        await db.Repositories.Where(r => r.Name == repository.Value).Select(r => (long?)r.Id).FirstOrDefaultAsync(cancellationToken);

    private async Task<long> EnsureRepositoryAsync(RepositoryName repository, CancellationToken cancellationToken)
    {
        var existing = await FindRepositoryAsync(repository, cancellationToken);
        if (existing is not null) return existing.Value;
        var name = repository.Value;
        var now = Now;
        await db.Database.ExecuteSqlInterpolatedAsync($"""
            INSERT INTO repositories ("Name", "CreatedAt") VALUES ({name}, {now}) ON CONFLICT ("Name") DO NOTHING
            """, cancellationToken);
        return (await FindRepositoryAsync(repository, cancellationToken))!.Value;
    }

    /// <summary>Links a blob into a repository inside the caller's transaction: records the blob (unless
    /// <paramref name="mustExist"/>), locks its row against garbage collection, takes it off the review queue (a
    /// rescue) and adds the link.</summary>
    /// <returns>False when <paramref name="mustExist"/> and the blob is gone (garbage collection won the race).</returns>
    private async Task<bool> LinkBlobAsync(long repositoryId, Digest digest, long size, bool mustExist, CancellationToken cancellationToken)
    {
        var d = digest.ToString();
        var now = Now;
        for (int attempt = 0; ; attempt++)
        {
            if (!mustExist)
            {
                await db.Database.ExecuteSqlInterpolatedAsync($"""
                    INSERT INTO blobs ("Digest", "Size", "CreatedAt") VALUES ({d}, {size}, {now}) ON CONFLICT ("Digest") DO NOTHING
                    """, cancellationToken);
            }
            if ((await LockBlobsAsync([d], cancellationToken)).Count > 0) break;
            // Deleted by garbage collection between the insert (which saw the old row) and the lock: insert again.
            if (mustExist) return false;
            if (attempt >= 2) throw new InvalidOperationException($"blob {d} vanished three times while being linked");
        }
        await db.GcBlobReviews.Where(q => q.Digest == d).ExecuteDeleteAsync(cancellationToken);
        await db.Database.ExecuteSqlInterpolatedAsync($"""
            INSERT INTO repository_blobs ("RepositoryId", "Digest", "CreatedAt") VALUES ({repositoryId}, {d}, {now}) ON CONFLICT ("RepositoryId", "Digest") DO NOTHING
            """, cancellationToken);
        return true;
    }

    /// <summary>Locks blob rows against garbage collection until the transaction ends (PostgreSQL <c>FOR SHARE</c>;
    /// SQLite needs nothing: its write transactions are <c>BEGIN IMMEDIATE</c>) and returns the digests that exist.</summary>
    private async Task<List<string>> LockBlobsAsync(List<string> digests, CancellationToken cancellationToken)
    {
        if (db.IsPostgreSql)
        {
            var array = digests.ToArray();
            return await db.Database.SqlQuery<string>($"""SELECT "Digest" AS "Value" FROM blobs WHERE "Digest" = ANY({array}) ORDER BY "Digest" FOR SHARE""").ToListAsync(cancellationToken);
        }
        return await db.Blobs.Where(b => digests.Contains(b.Digest)).Select(b => b.Digest).ToListAsync(cancellationToken);
    }

    /// <summary>Locks manifest rows of a repository against garbage collection (as <see cref="LockBlobsAsync"/>) and
    /// returns the ids of those that exist.</summary>
    private async Task<List<long>> LockManifestsAsync(long repositoryId, List<string> digests, CancellationToken cancellationToken)
    {
        if (db.IsPostgreSql)
        {
            var array = digests.ToArray();
            return await db.Database.SqlQuery<long>($"""SELECT "Id" AS "Value" FROM manifests WHERE "RepositoryId" = {repositoryId} AND "Digest" = ANY({array}) ORDER BY "Id" FOR SHARE""").ToListAsync(cancellationToken);
        }
        return await db.Manifests.Where(m => m.RepositoryId == repositoryId && digests.Contains(m.Digest)).Select(m => m.Id).ToListAsync(cancellationToken);
    }
}
