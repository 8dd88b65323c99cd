using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Security.Cryptography;
using Berth.Distribution;

namespace Berth.Storage;

/// <summary>
/// Content-addressed blob bytes on top of an <see cref="IStorageDriver"/>, and the upload sessions that
/// produce them. Bytes are hashed while they stream in; a blob becomes visible at its digest's path only
/// after its digest checked out, by a move of the finished upload (so a crash never leaves a partial blob).
/// Upload sessions are plain files and survive restarts; the running SHA-256 state is cached per session
/// in this process. When another process (or replica) appended in between, this one reads back only the bytes it
/// has not hashed yet (all of them when it never saw the session), so chunks alternating between two replicas
/// cost each replica one extra read of the chunks the other one received.
/// </summary>
public sealed class BlobStore
{
    /// <summary>Size of the copy buffer in bytes.</summary>
    public const int CopyBufferSize = 256 * 1024;

    private readonly IStorageDriver _driver;
    private readonly ConcurrentDictionary<Guid, SessionState> _sessions = new();

    /// <summary>Creates a blob store over a driver.</summary>
    public BlobStore(IStorageDriver driver) => _driver = driver;

    /// <summary>The underlying driver.</summary>
    public IStorageDriver Driver => _driver;

    /// <summary>Size and time of a stored blob; null when its bytes are not stored.</summary>
    public Task<StorageStat?> StatAsync(Digest digest, CancellationToken cancellationToken) =>
        _driver.StatAsync(StorageLayout.BlobData(digest), cancellationToken);

    /// <summary>Opens a blob for reading at an offset in bytes.</summary>
    /// <exception cref="StoragePathNotFoundException">The blob's bytes are not stored.</exception>
    public Task<Stream> OpenReadAsync(Digest digest, long offset, CancellationToken cancellationToken) =>
        _driver.OpenReadAsync(StorageLayout.BlobData(digest), offset, cancellationToken);

    /// <summary>The local file of a blob for zero-copy sends, or null for remote drivers.</summary>
    public string? GetLocalFilePath(Digest digest) => _driver.GetLocalFilePath(StorageLayout.BlobData(digest));

    /// <summary>A redirect URL for a blob, or null.</summary>
    public Task<Uri?> GetRedirectUrlAsync(Digest digest, TimeSpan lifetime, CancellationToken cancellationToken) =>
        _driver.GetRedirectUrlAsync(StorageLayout.BlobData(digest), lifetime, cancellationToken);

    /// <summary>Deletes a blob's bytes (garbage collection only: metadata must no longer reference it).</summary>
    public Task DeleteAsync(Digest digest, CancellationToken cancellationToken) =>
        _driver.DeleteAsync(StorageLayout.BlobData(digest)[..^"/data".Length], cancellationToken);

    /// <summary>Creates the empty file of a new upload session.</summary>
    public async Task StartUploadAsync(Guid sessionId, CancellationToken cancellationToken)
    {
        await using var writer = await _driver.OpenWriterAsync(StorageLayout.UploadData(sessionId), append: false, cancellationToken);
        await writer.CommitAsync(cancellationToken);
        PruneIdleSessions();
        _sessions[sessionId] = new SessionState();
    }

    /// <summary>Forgets the cached hash state of sessions idle for an hour (finished on another replica, or abandoned);
    /// a session that comes back later is re-hashed from its stored bytes.</summary>
    private void PruneIdleSessions()
    {
        long now = Environment.TickCount64;
        foreach (var (id, state) in _sessions)
        {
            if (now - state.LastUsed > 3_600_000 && state.Lock.CurrentCount == 1 && _sessions.TryRemove(id, out var removed))
                removed.Hash?.Dispose();
        }
    }

    /// <summary>Bytes received so far by an upload session; null when the session has no data file.</summary>
    public async Task<long?> GetUploadSizeAsync(Guid sessionId, CancellationToken cancellationToken)
    {
        var stat = await _driver.StatAsync(StorageLayout.UploadData(sessionId), cancellationToken);
        return stat is null || stat.IsDirectory ? null : stat.Size;
    }

    /// <summary>
    /// Appends a request body to an upload session.
    /// </summary>
    /// <param name="sessionId">The session.</param>
    /// <param name="expectedOffset">When the client sent a Content-Range, the byte offset it starts at; it must
    /// equal the bytes received so far.</param>
    /// <param name="body">The bytes to append, read to its end (a request's <c>BodyReader</c>: its buffers are hashed
    /// and written as they are, without a copy). Not completed here: the caller owns it.</param>
    /// <param name="cancellationToken">Cancels the copy; bytes already written stay in the session.</param>
    /// <returns>The session's size in bytes after the append.</returns>
    /// <exception cref="RegistryException">BLOB_UPLOAD_UNKNOWN for a missing session; RANGE_INVALID (416) when
    /// <paramref name="expectedOffset"/> is not the current size (the exception's detail carries the size).</exception>
    public async Task<long> AppendAsync(Guid sessionId, long? expectedOffset, PipeReader body, CancellationToken cancellationToken)
    {
        var state = _sessions.GetOrAdd(sessionId, _ => new SessionState());
        await state.Lock.WaitAsync(cancellationToken);
        try
        {
            return await AppendLockedAsync(sessionId, state, expectedOffset, body, cancellationToken);
        }
        finally
        {
            state.Lock.Release();
        }
    }

    /// <summary>Appends a stream to an upload session; see <see cref="AppendAsync(Guid, long?, PipeReader, CancellationToken)"/>.
    /// The stream is read to its end and left open.</summary>
    public Task<long> AppendAsync(Guid sessionId, long? expectedOffset, Stream body, CancellationToken cancellationToken) =>
        ReadThroughPipeAsync(body, reader => AppendAsync(sessionId, expectedOffset, reader, cancellationToken));

    /// <summary>Runs an upload method that reads a pipe on a stream instead: the pipe reads the stream
    /// <see cref="CopyBufferSize"/> bytes at a time, is completed when <paramref name="read"/> ends, and leaves the
    /// stream open (its owner disposes it).</summary>
    /// <typeparam name="T">What <paramref name="read"/> returns.</typeparam>
    /// <param name="stream">The body.</param>
    /// <param name="read">The pipe-reading method.</param>
    /// <returns>What <paramref name="read"/> returned; its exceptions propagate.</returns>
    public static async Task<T> ReadThroughPipeAsync<T>(Stream stream, Func<PipeReader, Task<T>> read)
    {
        var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: CopyBufferSize, minimumReadSize: CopyBufferSize / 4, leaveOpen: true));
        try
        {
            return await read(reader);
        }
        finally
        {
            await reader.CompleteAsync();
        }
    }

    private async Task<long> AppendLockedAsync(Guid sessionId, SessionState state, long? expectedOffset, PipeReader? body, CancellationToken cancellationToken)
    {
        IStorageWriter writer;
        try
        {
            writer = await _driver.OpenWriterAsync(StorageLayout.UploadData(sessionId), append: true, cancellationToken);
        }
        catch (StoragePathNotFoundException)
        {
            _sessions.TryRemove(sessionId, out _);
            throw new RegistryException(ErrorCode.BlobUploadUnknown, "upload session has no data; it was finished, cancelled or never started");
        }
        await using (writer)
        {
            long size = writer.Size;
            if (expectedOffset is { } offset && offset != size)
            {
                throw new RegistryException(ErrorCode.RangeInvalid,
                    $"chunk starts at byte {offset} but the upload has {size} bytes; send the next chunk from byte {size}",
                    new UploadRange(size));
            }
            if (body is null) return size;
            await EnsureHashAsync(sessionId, state, size, cancellationToken);
            state.Valid = false; // until the copy finishes, the cached hash may lag the file
            await CopyHashingAsync(body, writer, state, cancellationToken);
            state.Valid = true;
            return writer.Size;
        }
    }

    /// <summary>
    /// Copies <paramref name="body"/> into the writer while hashing it, straight from the pipe's buffers (no copy into
    /// a buffer of ours): it waits for at least <see cref="CopyBufferSize"/> bytes (or the end), starts writing them
    /// (a gathered write that runs on the thread pool) and hashes the same buffers on this thread meanwhile; only then
    /// are they released to the pipe, which keeps receiving from the socket all along. Memory use is the pipe's own
    /// (bounded by the server's read buffer limit), whatever the body's length.
    /// </summary>
    private static async Task CopyHashingAsync(PipeReader body, IStorageWriter writer, SessionState state, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await body.ReadAtLeastAsync(CopyBufferSize, cancellationToken);
            var buffer = result.Buffer;
            if (!buffer.IsEmpty)
            {
                var write = writer.WriteAsync(buffer, cancellationToken);
                try
                {
                    foreach (var segment in buffer)
                        state.Hash!.AppendData(segment.Span);
                }
                finally
                {
                    // The write reads these buffers: they go back to the pipe only once it is done.
                    await write;
                }
                state.Offset += buffer.Length;
            }
            body.AdvanceTo(buffer.End);
            if (result.IsCanceled) throw new OperationCanceledException("the request body's read was cancelled", cancellationToken);
            if (result.IsCompleted) return;
        }
    }

    private async Task EnsureHashAsync(Guid sessionId, SessionState state, long size, CancellationToken cancellationToken)
    {
        state.LastUsed = Environment.TickCount64;
        if (state.Hash is not null && state.Valid && state.Offset == size) return;
        if (state.Hash is not null && state.Valid && state.Offset < size)
        {
            // Another replica appended after the bytes this process hashed: hash only what it added.
            await using var added = await _driver.OpenReadAsync(StorageLayout.UploadData(sessionId), state.Offset, cancellationToken);
            await HashStreamAsync(added, state.Hash, size - state.Offset, cancellationToken);
            state.Offset = size;
            return;
        }
        // Rebuild the running hash from the stored bytes (another process appended, or we restarted).
        state.Hash?.Dispose();
        state.Hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        state.Offset = 0;
        if (size > 0)
        {
            await using var stream = await _driver.OpenReadAsync(StorageLayout.UploadData(sessionId), 0, cancellationToken);
            await HashStreamAsync(stream, state.Hash, size, cancellationToken);
        }
        state.Offset = size;
        state.Valid = true;
    }

    private static async Task HashStreamAsync(Stream stream, IncrementalHash hash, long length, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        try
        {
            long remaining = length;
            while (remaining > 0)
            {
                int read = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(CopyBufferSize, remaining)), cancellationToken);
                if (read == 0) break;
                hash.AppendData(buffer, 0, read);
                remaining -= read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Finishes an upload session: appends the optional last body, verifies the digest (and size when
    /// given) of everything received, then moves the bytes to the blob's path. On a mismatch the session's
    /// bytes are deleted and nothing is stored.
    /// </summary>
    /// <param name="sessionId">The session.</param>
    /// <param name="expected">The digest the client claims.</param>
    /// <param name="expectedOffset">Content-Range start of the last body, when given.</param>
    /// <param name="body">The last chunk, or null.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <param name="verified">Called with the size in bytes once the digest checked out, before anything is stored
    /// (a quota check); when it throws, the session's bytes are deleted and the exception propagates.</param>
    /// <returns>The blob's size in bytes.</returns>
    /// <exception cref="RegistryException">DIGEST_INVALID, BLOB_UPLOAD_UNKNOWN or RANGE_INVALID.</exception>
    public Task<long> CompleteUploadAsync(Guid sessionId, Digest expected, long? expectedOffset, Stream? body, CancellationToken cancellationToken,
        Func<long, CancellationToken, Task>? verified = null) =>
        body is null
            ? CompleteUploadAsync(sessionId, expected, expectedOffset, (PipeReader?)null, cancellationToken, verified)
            : ReadThroughPipeAsync(body, reader => CompleteUploadAsync(sessionId, expected, expectedOffset, reader, cancellationToken, verified));

    /// <summary>
    /// Finishes an upload session like <see cref="CompleteUploadAsync(Guid, Digest, long?, Stream?, CancellationToken, Func{long, CancellationToken, Task}?)"/>,
    /// with the last chunk read from a pipe (a request's <c>BodyReader</c>, not completed here), or none.
    /// </summary>
    /// <param name="sessionId">The session.</param>
    /// <param name="expected">The digest the client claims.</param>
    /// <param name="expectedOffset">Content-Range start of the last body, when given.</param>
    /// <param name="body">The last chunk, or null.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <param name="verified">Called with the size in bytes once the digest checked out, before anything is stored.</param>
    /// <returns>The blob's size in bytes.</returns>
    /// <exception cref="RegistryException">DIGEST_INVALID, BLOB_UPLOAD_UNKNOWN or RANGE_INVALID.</exception>
    public async Task<long> CompleteUploadAsync(Guid sessionId, Digest expected, long? expectedOffset, PipeReader? body, CancellationToken cancellationToken,
        Func<long, CancellationToken, Task>? verified = null)
    {
        var state = _sessions.GetOrAdd(sessionId, _ => new SessionState());
        await state.Lock.WaitAsync(cancellationToken);
        try
        {
            long size = await AppendLockedAsync(sessionId, state, expectedOffset, body, cancellationToken);
            Digest actual;
            if (expected.Algorithm == Digest.Sha256)
            {
                await EnsureHashAsync(sessionId, state, size, cancellationToken);
                actual = Digest.FromHash(Digest.Sha256, state.Hash!.GetHashAndReset());
                state.Valid = false;
            }
            else
            {
                using var hash = IncrementalHash.CreateHash(expected.HashAlgorithm);
                await using (var stream = await _driver.OpenReadAsync(StorageLayout.UploadData(sessionId), 0, cancellationToken))
                {
                    await HashStreamAsync(stream, hash, size, cancellationToken);
                }
                actual = Digest.FromHash(expected.Algorithm, hash.GetHashAndReset());
            }

            if (actual != expected)
            {
                await DiscardUploadAsync(sessionId, cancellationToken);
                throw new RegistryException(ErrorCode.DigestInvalid,
                    $"the uploaded content ({size} bytes) has digest {actual}, not {expected}; nothing was stored",
                    new { expected = expected.ToString(), actual = actual.ToString(), size });
            }

            if (verified is not null)
            {
                try
                {
                    await verified(size, cancellationToken);
                }
                catch
                {
                    await DiscardUploadAsync(sessionId, CancellationToken.None);
                    throw;
                }
            }

            var blobPath = StorageLayout.BlobData(expected);
            var existing = await _driver.StatAsync(blobPath, cancellationToken);
            if (existing is not { IsDirectory: false } || existing.Size != size)
            {
                await _driver.MoveAsync(StorageLayout.UploadData(sessionId), blobPath, cancellationToken);
                await DiscardUploadAsync(sessionId, cancellationToken);
            }
            // else: already stored (deduplicated). The session keeps its copy until FinishUploadAsync, because
            // garbage collection may be deleting the stored one until the caller's metadata link is committed.
            return size;
        }
        finally
        {
            state.Lock.Release();
            _sessions.TryRemove(sessionId, out _);
        }
    }

    /// <summary>
    /// Called once the blob of a completed session is linked in the metadata database (and so protected from
    /// garbage collection): deletes the session's copy when the blob's bytes are stored, or moves the copy into
    /// place when the stored bytes went away in between (collected just before the link).
    /// </summary>
    /// <param name="sessionId">The completed session.</param>
    /// <param name="digest">The blob's verified digest.</param>
    /// <param name="size">The blob's size in bytes.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <exception cref="RegistryException">BLOB_UPLOAD_INVALID when neither the stored blob nor the session's copy
    /// exists any more; the client uploads again.</exception>
    public async Task FinishUploadAsync(Guid sessionId, Digest digest, long size, CancellationToken cancellationToken)
    {
        var blobPath = StorageLayout.BlobData(digest);
        var stored = await _driver.StatAsync(blobPath, cancellationToken);
        if (stored is not { IsDirectory: false } || stored.Size != size)
        {
            var copy = await _driver.StatAsync(StorageLayout.UploadData(sessionId), cancellationToken);
            if (copy is not { IsDirectory: false } || copy.Size != size)
            {
                throw new RegistryException(ErrorCode.BlobUploadInvalid,
                    $"the bytes of {digest} were removed by garbage collection while this upload finished; upload the blob again");
            }
            await _driver.MoveAsync(StorageLayout.UploadData(sessionId), blobPath, cancellationToken);
        }
        await DiscardUploadAsync(sessionId, cancellationToken);
    }

    /// <summary>Deletes an upload session's bytes.</summary>
    public async Task DiscardUploadAsync(Guid sessionId, CancellationToken cancellationToken)
    {
        await _driver.DeleteAsync(StorageLayout.UploadDirectory(sessionId), cancellationToken);
        if (_sessions.TryRemove(sessionId, out var state)) state.Hash?.Dispose();
    }

    private sealed class SessionState
    {
        public SemaphoreSlim Lock { get; } = new(1, 1);
        public IncrementalHash? Hash { get; set; }
        public long Offset { get; set; }
        public bool Valid { get; set; }
        public long LastUsed { get; set; } = Environment.TickCount64;
    }
}

/// <summary>Detail of a RANGE_INVALID error: the bytes the session holds, so the client can resume.</summary>
/// <param name="Size">Bytes received so far.</param>
public sealed record UploadRange(long Size);
