using System.Buffers;

namespace Berth.Storage;

/// <summary>
/// The storage driver: a small, path-addressed byte store that Berth's blob store is built on. Paths are
/// driver-relative, use <c>/</c> separators, never start with <c>/</c> and never contain <c>..</c>
/// (see <see cref="StoragePath.Validate"/>). Implementations: the filesystem driver here; S3 in its own project.
/// Every driver passes the shared driver test suite.
/// </summary>
public interface IStorageDriver
{
    /// <summary>A short name for logs and health checks, e.g. <c>filesystem</c>.</summary>
    string Name { get; }

    /// <summary>Opens a file for reading, positioned at <paramref name="offset"/> bytes.</summary>
    /// <exception cref="StoragePathNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The offset is negative or past the end of the file.</exception>
    Task<Stream> OpenReadAsync(string path, long offset, CancellationToken cancellationToken);

    /// <summary>Size and modification time of a file or directory; null when nothing is at the path.</summary>
    Task<StorageStat?> StatAsync(string path, CancellationToken cancellationToken);

    /// <summary>
    /// Opens a writer. With <paramref name="append"/> the writer continues an existing file (whose size is
    /// <see cref="IStorageWriter.Size"/>); otherwise any existing file is replaced on commit.
    /// </summary>
    /// <exception cref="StoragePathNotFoundException"><paramref name="append"/> is set and no file exists.</exception>
    Task<IStorageWriter> OpenWriterAsync(string path, bool append, CancellationToken cancellationToken);

    /// <summary>Moves a file, replacing any file at the destination; atomic where the backend allows it.</summary>
    /// <exception cref="StoragePathNotFoundException">No file at <paramref name="sourcePath"/>.</exception>
    Task MoveAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken);

    /// <summary>Deletes a file or a whole directory tree. Deleting a missing path is not an error.</summary>
    Task DeleteAsync(string path, CancellationToken cancellationToken);

    /// <summary>Lists the direct children (files and directories) of a directory as full driver paths;
    /// empty when the directory does not exist.</summary>
    IAsyncEnumerable<string> ListAsync(string path, CancellationToken cancellationToken);

    /// <summary>A URL the client may fetch the file from directly (e.g. a presigned S3 URL), or null when
    /// the driver serves bytes itself.</summary>
    Task<Uri?> GetRedirectUrlAsync(string path, TimeSpan lifetime, CancellationToken cancellationToken);

    /// <summary>The local file path of a stored file, for zero-copy sends; null when the driver is not local.</summary>
    string? GetLocalFilePath(string path);
}

/// <summary>An open writer of <see cref="IStorageDriver"/>. Nothing written is visible at the path until
/// <see cref="CommitAsync"/>; disposing without committing keeps what was written for a later append
/// (resumable uploads), <see cref="CancelAsync"/> discards it.</summary>
public interface IStorageWriter : IAsyncDisposable
{
    /// <summary>Bytes in the file so far, including bytes written before this writer was opened.</summary>
    long Size { get; }

    /// <summary>Appends bytes.</summary>
    ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken);

    /// <summary>Appends a sequence of buffers (e.g. the segments of a request body's pipe), in order. The default
    /// writes segment by segment; a driver that can gather them into one system call (the filesystem's
    /// <c>pwritev</c>) overrides it. The buffers are only read, and not used after the returned task completes.</summary>
    async ValueTask WriteAsync(ReadOnlySequence<byte> buffers, CancellationToken cancellationToken)
    {
        foreach (var segment in buffers)
            await WriteAsync(segment, cancellationToken);
    }

    /// <summary>Makes everything written durable and visible at the path.</summary>
    Task CommitAsync(CancellationToken cancellationToken);

    /// <summary>Discards the file.</summary>
    Task CancelAsync(CancellationToken cancellationToken);
}

/// <summary>What <see cref="IStorageDriver.StatAsync"/> reports. <paramref name="Size"/> in bytes (0 for directories).</summary>
public sealed record StorageStat(string Path, long Size, DateTimeOffset ModifiedAt, bool IsDirectory);

/// <summary>Thrown when a storage path holds nothing.</summary>
public sealed class StoragePathNotFoundException(string path) : Exception($"storage path not found: {path}")
{
    /// <summary>The missing path.</summary>
    public string Path { get; } = path;
}

/// <summary>Thrown when a storage path is malformed or would escape the storage root.</summary>
public sealed class InvalidStoragePathException(string path, string reason) : Exception($"invalid storage path '{path}': {reason}")
{
    /// <summary>The refused path.</summary>
    public string Path { get; } = path;
}

/// <summary>Thrown when the storage backend fails (permissions, I/O); the message says which backend and operation.</summary>
public sealed class StorageBackendException(string backend, string operation, string path, Exception inner)
    : Exception($"{backend} storage failed to {operation} '{path}': {inner.Message}", inner)
{
    /// <summary>The backend name, e.g. <c>filesystem</c> or <c>s3</c>.</summary>
    public string Backend { get; } = backend;

    /// <summary>The operation, e.g. <c>write</c> or <c>HeadObject</c>.</summary>
    public string Operation { get; } = operation;

    /// <summary>The path the operation was on.</summary>
    public string StoragePath { get; } = path;

    /// <summary>What to grant when the backend refused for lack of permission (e.g.
    /// <c>s3:GetObject on arn:aws:s3:::bucket/prefix/*</c>); null when the failure is not a permission problem.</summary>
    public string? Grant { get; init; }

    /// <summary>True when the backend refused the operation for lack of permission (HTTP 403, EACCES).</summary>
    public bool IsAccessDenied { get; init; }
}

/// <summary>Driver path rules shared by every driver.</summary>
public static class StoragePath
{
    /// <summary>Checks a driver path: non-empty, relative, <c>/</c>-separated, no empty, <c>.</c> or <c>..</c>
    /// components, no backslashes or control characters.</summary>
    /// <exception cref="InvalidStoragePathException">The path breaks a rule.</exception>
    public static string Validate(string path)
    {
        if (string.IsNullOrEmpty(path)) throw new InvalidStoragePathException(path ?? "", "empty");
        if (path[0] == '/') throw new InvalidStoragePathException(path, "must be relative");
        foreach (var c in path)
        {
            if (c == '\\' || char.IsControl(c)) throw new InvalidStoragePathException(path, "contains a forbidden character");
        }
        foreach (var component in path.Split('/'))
        {
            if (component.Length == 0 || component == "." || component == "..")
                throw new InvalidStoragePathException(path, "empty, '.' or '..' component");
        }
        return path;
    }
}
