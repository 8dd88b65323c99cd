using System.Collections.Concurrent;
using System.Data.Common;
using Berth.Distribution;
using Berth.Server.Configuration;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.Options;

namespace Berth.Server.Registry;

/// <summary>
/// The answers of the pull hot path, remembered for a short time (<c>Registry:ReadCacheSeconds</c>, default 1 s): a
/// manifest by (repository, tag) and by (repository, digest) — the bytes as pushed, media type and digest — and a
/// blob's size by (repository, digest), as the database gave them. A manifest GET or blob HEAD that hits the cache
/// costs no database round trip.
/// <para>
/// Freshness. On this replica, any write to the registry's tables (<c>tags</c>, <c>manifests</c>,
/// <c>repositories</c>, <c>repository_blobs</c>, <c>blobs</c>) by any code path — a push, a tag or manifest delete,
/// a repository delete, garbage collection, cleanup policies, the REST API, the web UI — and the commit of a
/// transaction that made such a write move a generation counter (<see cref="WriteWatcher"/>, an EF Core interceptor), which makes every
/// entry remembered before it unusable: this replica never serves a tag's old digest after it moved it. A write
/// made by another replica or process (<c>berth gc</c>) is seen at the latest after the entry's lifetime, counted
/// from the moment its query started: the documented bound for a moved or deleted tag, a deleted manifest or an
/// unlinked blob to show on another replica is <c>Registry:ReadCacheSeconds</c>. Misses (404) are never remembered,
/// so a push is visible at once everywhere. Authorization is not cached here: every request is still authorized
/// (<see cref="IRegistryAuthorizer"/>) before the cache is asked.
/// </para>
/// <para>
/// Bounded: at most <see cref="MaxEntries"/> entries and <see cref="MaxManifestBytes"/> bytes of manifests
/// (manifests over <see cref="MaxCachedManifestBytes"/> bytes are not kept); past either, everything is dropped and the cache
/// fills again. One instance per application (a singleton).
/// </para>
/// </summary>
public sealed class RegistryReadCache
{
    /// <summary>Most entries (manifests by tag and by digest, blobs) held at once.</summary>
    public const int MaxEntries = 8192;

    /// <summary>Most manifest bytes held at once (8 MiB).</summary>
    public const long MaxManifestBytes = 8 * 1024 * 1024;

    /// <summary>Largest manifest kept (64 KiB); larger ones are always read from the database.</summary>
    public const int MaxCachedManifestBytes = 64 * 1024;

    private readonly ConcurrentDictionary<ManifestKey, Entry<ManifestRecord>> _manifests = new();
    private readonly ConcurrentDictionary<BlobKey, Entry<BlobInfo>> _blobs = new();
    private readonly TimeProvider _clock;
    private readonly long _lifetimeTicks;
    private long _generation;
    private long _manifestBytes;

    /// <summary>A cache whose entries live <c>Registry:ReadCacheSeconds</c> (0: nothing is cached).</summary>
    public RegistryReadCache(IOptions<RegistryOptions> options, TimeProvider clock)
    {
        _clock = clock;
        var seconds = options.Value.ReadCacheSeconds;
        _lifetimeTicks = (long)(seconds * clock.TimestampFrequency);
        Enabled = seconds > 0;
    }

    /// <summary>Whether anything is cached (<c>Registry:ReadCacheSeconds</c> &gt; 0).</summary>
    public bool Enabled { get; }

    /// <summary>How many entries are held (diagnostics, tests).</summary>
    public int Count => _manifests.Count + _blobs.Count;

    private readonly record struct ManifestKey(string Repository, string Reference, bool IsDigest);
    private readonly record struct BlobKey(string Repository, string Digest);
    private sealed record Entry<T>(T Value, long Generation, long ExpiresAt);

    /// <summary>A token taken before a database read; pass it to the <c>Remember…</c> call for that read, so a write
    /// that happened during the read makes the remembered answer unusable.</summary>
    public readonly record struct ReadTicket(long Generation, long StartedAt);

    /// <summary>Takes a ticket for a database read that is about to start.</summary>
    public ReadTicket BeginRead() => new(Volatile.Read(ref _generation), _clock.GetTimestamp());

    /// <summary>Forgets everything remembered so far: called after every write to the registry's tables on this replica.</summary>
    public void Invalidate()
    {
        Interlocked.Increment(ref _generation);
    }

    /// <summary>The remembered manifest of <paramref name="repository"/> by <paramref name="reference"/>, when still usable.</summary>
    public bool TryGetManifest(RepositoryName repository, Reference reference, out ManifestRecord manifest) =>
        TryGet(_manifests, new ManifestKey(repository.Value, reference.ToString(), reference.IsDigest), out manifest);

    /// <summary>Remembers the answer of a manifest read that started with <paramref name="ticket"/>; under its digest too
    /// when it was read by tag.</summary>
    public void RememberManifest(RepositoryName repository, Reference reference, ManifestRecord manifest, ReadTicket ticket)
    {
        if (!Enabled || manifest.Content.Length > MaxCachedManifestBytes) return;
        MakeRoom();
        if (Interlocked.Add(ref _manifestBytes, manifest.Content.Length) > MaxManifestBytes) Clear();
        var entry = new Entry<ManifestRecord>(manifest, ticket.Generation, ticket.StartedAt + _lifetimeTicks);
        _manifests[new ManifestKey(repository.Value, reference.ToString(), reference.IsDigest)] = entry;
        if (!reference.IsDigest) _manifests[new ManifestKey(repository.Value, manifest.Digest.ToString(), true)] = entry;
    }

    /// <summary>The remembered blob of <paramref name="repository"/>, when still usable.</summary>
    public bool TryGetBlob(RepositoryName repository, Digest digest, out BlobInfo blob) =>
        TryGet(_blobs, new BlobKey(repository.Value, digest.ToString()), out blob);

    /// <summary>Remembers the answer of a blob read that started with <paramref name="ticket"/>.</summary>
    public void RememberBlob(RepositoryName repository, BlobInfo blob, ReadTicket ticket)
    {
        if (!Enabled) return;
        MakeRoom();
        _blobs[new BlobKey(repository.Value, blob.Digest.ToString())] = new Entry<BlobInfo>(blob, ticket.Generation, ticket.StartedAt + _lifetimeTicks);
    }

    private bool TryGet<TKey, T>(ConcurrentDictionary<TKey, Entry<T>> entries, TKey key, out T value) where TKey : notnull
    {
        if (Enabled && entries.TryGetValue(key, out var entry))
        {
            if (entry.Generation == Volatile.Read(ref _generation) && _clock.GetTimestamp() < entry.ExpiresAt)
            {
                value = entry.Value;
                return true;
            }
            entries.TryRemove(new KeyValuePair<TKey, Entry<T>>(key, entry));
        }
        value = default!;
        return false;
    }

    private void MakeRoom()
    {
        if (_manifests.Count + _blobs.Count >= MaxEntries) Clear();
    }

    private void Clear()
    {
        _manifests.Clear();
        _blobs.Clear();
        Interlocked.Exchange(ref _manifestBytes, 0);
    }

    /// <summary>
    /// The EF Core interceptor that tells the cache about writes: after a command that inserts, updates or deletes
    /// rows of a registry table, and after the commit of a transaction that ran such a command, it calls <see cref="Invalidate"/>.
    /// Registered on the application's <c>BerthDbContext</c> options.
    /// </summary>
    public sealed class WriteWatcher(RegistryReadCache cache) : DbCommandInterceptor, IDbTransactionInterceptor
    {
        private static readonly string[] Tables = ["tags", "manifests", "repositories", "blobs"];

        // Transactions that wrote to a registry table: their commit invalidates once more (what a reader saw between
        // the write and the commit was the old state).
        private readonly System.Runtime.CompilerServices.ConditionalWeakTable<DbTransaction, object> _dirty = new();

        private void Saw(DbCommand command)
        {
            var sql = command.CommandText;
            if (!IsWrite(sql)) return;
            foreach (var table in Tables)
            {
                if (sql.Contains(table, StringComparison.Ordinal))
                {
                    cache.Invalidate();
                    if (command.Transaction is { } transaction) _dirty.AddOrUpdate(transaction, this);
                    return;
                }
            }
        }

        private void Committed(DbTransaction transaction)
        {
            if (_dirty.Remove(transaction)) cache.Invalidate();
        }

        /// <summary>Whether a command writes: its first statement starts with INSERT, UPDATE, DELETE, REPLACE, MERGE, or WITH and writes
        /// (reads of the hot path are plain SELECTs and cost only this check).</summary>
        private static bool IsWrite(string sql)
        {
            var text = sql.AsSpan().TrimStart();
            return text.StartsWith("INSERT", StringComparison.OrdinalIgnoreCase) || text.StartsWith("UPDATE", StringComparison.OrdinalIgnoreCase)
                || text.StartsWith("DELETE", StringComparison.OrdinalIgnoreCase) || text.StartsWith("REPLACE", StringComparison.OrdinalIgnoreCase)
                || text.StartsWith("MERGE", StringComparison.OrdinalIgnoreCase)
                || (text.StartsWith("WITH", StringComparison.OrdinalIgnoreCase) && (text.Contains("INSERT ", StringComparison.OrdinalIgnoreCase)
                    || text.Contains("UPDATE ", StringComparison.OrdinalIgnoreCase) || text.Contains("DELETE ", StringComparison.OrdinalIgnoreCase)));
        }

        /// <inheritdoc/>
        public override int NonQueryExecuted(DbCommand command, CommandExecutedEventData eventData, int result)
        { Saw(command); return result; }

        /// <inheritdoc/>
        public override ValueTask<int> NonQueryExecutedAsync(DbCommand command, CommandExecutedEventData eventData, int result, CancellationToken cancellationToken = default)
        { Saw(command); return ValueTask.FromResult(result); }

        /// <inheritdoc/>
        public override DbDataReader ReaderExecuted(DbCommand command, CommandExecutedEventData eventData, DbDataReader result)
        { Saw(command); return result; }

        /// <inheritdoc/>
        public override ValueTask<DbDataReader> ReaderExecutedAsync(DbCommand command, CommandExecutedEventData eventData, DbDataReader result, CancellationToken cancellationToken = default)
        { Saw(command); return ValueTask.FromResult(result); }

        /// <inheritdoc/>
        public override object? ScalarExecuted(DbCommand command, CommandExecutedEventData eventData, object? result)
        { Saw(command); return result; }

        /// <inheritdoc/>
        public override ValueTask<object?> ScalarExecutedAsync(DbCommand command, CommandExecutedEventData eventData, object? result, CancellationToken cancellationToken = default)
        { Saw(command); return ValueTask.FromResult(result); }

        /// <inheritdoc/>
        public void TransactionCommitted(DbTransaction transaction, TransactionEndEventData eventData) => Committed(transaction);

        /// <inheritdoc/>
        public Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
        {
            Committed(transaction);
            return Task.CompletedTask;
        }
    }
}
