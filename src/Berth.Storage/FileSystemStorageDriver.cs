using System.Buffers;
using System.Runtime.CompilerServices;

namespace Berth.Storage;

/// <summary>
/// Stores files under a root directory. Appending writers (upload sessions) write in place; replacing
/// writers write to a unique <c>.tmp</c> sibling that is renamed into place on commit, so a reader never
/// sees half a file at a committed path. Paths that would resolve outside the root are refused.
/// </summary>
public sealed class FileSystemStorageDriver : IStorageDriver, IStorageChecks
{
    private const int BufferSize = 1 << 16;
    private readonly string _root;

    /// <summary>Creates a driver rooted at <paramref name="rootDirectory"/> (created if missing).</summary>
    public FileSystemStorageDriver(string rootDirectory)
    {
        _root = Path.GetFullPath(rootDirectory);
        Directory.CreateDirectory(_root);
    }

    /// <inheritdoc/>
    public string Name => "filesystem";

    /// <summary>The absolute root directory.</summary>
    public string RootDirectory => _root;

    private string Full(string path)
    {
        StoragePath.Validate(path);
        var full = Path.GetFullPath(Path.Combine(_root, path));
        if (!full.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new InvalidStoragePathException(path, "resolves outside the storage root");
        return full;
    }

    /// <inheritdoc/>
    public Task<Stream> OpenReadAsync(string path, long offset, CancellationToken cancellationToken)
    {
        var full = Full(path);
        FileStream stream;
        try
        {
            stream = new FileStream(full, new FileStreamOptions
            {
                Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.ReadWrite | FileShare.Delete,
                BufferSize = 0, Options = FileOptions.Asynchronous | FileOptions.SequentialScan,
            });
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new StoragePathNotFoundException(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new StorageBackendException(Name, "read", path, ex);
        }
        long length = stream.Length;
        if (offset < 0 || offset > length)
        {
            stream.Dispose();
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"offset outside file of {length} bytes");
        }
        stream.Position = offset;
        return Task.FromResult<Stream>(stream);
    }

    /// <inheritdoc/>
    public Task<StorageStat?> StatAsync(string path, CancellationToken cancellationToken)
    {
        var full = Full(path);
        var file = new FileInfo(full);
        if (file.Exists) return Task.FromResult<StorageStat?>(new StorageStat(path, file.Length, file.LastWriteTimeUtc, false));
        var dir = new DirectoryInfo(full);
        if (dir.Exists) return Task.FromResult<StorageStat?>(new StorageStat(path, 0, dir.LastWriteTimeUtc, true));
        return Task.FromResult<StorageStat?>(null);
    }

    /// <inheritdoc/>
    public Task<IStorageWriter> OpenWriterAsync(string path, bool append, CancellationToken cancellationToken)
    {
        var full = Full(path);
        try
        {
            if (append)
            {
                if (!File.Exists(full)) throw new StoragePathNotFoundException(path);
                // Opened for writing at the current end (not FileMode.Append: every write names its offset).
                var stream = new FileStream(full, new FileStreamOptions
                {
                    Mode = FileMode.Open, Access = FileAccess.Write, Share = FileShare.Read | FileShare.Delete,
                    BufferSize = 0, Options = FileOptions.Asynchronous,
                });
                return Task.FromResult<IStorageWriter>(new Writer(this, path, full, full, stream, stream.Length));
            }
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            var temp = full + "." + Guid.NewGuid().ToString("N") + ".tmp";
            var tempStream = new FileStream(temp, new FileStreamOptions
            {
                Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.Read | FileShare.Delete,
                BufferSize = 0, Options = FileOptions.Asynchronous,
            });
            return Task.FromResult<IStorageWriter>(new Writer(this, path, full, temp, tempStream, 0));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new StorageBackendException(Name, "open a writer for", path, ex);
        }
    }

    /// <inheritdoc/>
    public Task MoveAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken)
    {
        var source = Full(sourcePath);
        var destination = Full(destinationPath);
        if (!File.Exists(source)) throw new StoragePathNotFoundException(sourcePath);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Move(source, destination, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new StorageBackendException(Name, "move", sourcePath, ex);
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task DeleteAsync(string path, CancellationToken cancellationToken)
    {
        var full = Full(path);
        try
        {
            if (File.Exists(full)) File.Delete(full);
            else if (Directory.Exists(full)) Directory.Delete(full, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new StorageBackendException(Name, "delete", path, ex);
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<string> ListAsync(string path, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var full = Full(path);
        if (!Directory.Exists(full)) yield break;
        IEnumerable<string> entries;
        try
        {
            entries = Directory.EnumerateFileSystemEntries(full).Where(e => !e.EndsWith(".tmp", StringComparison.Ordinal)).ToList();
        }
        catch (DirectoryNotFoundException)
        {
            yield break;
        }
        foreach (var entry in entries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return path + "/" + Path.GetFileName(entry);
        }
        await Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task<Uri?> GetRedirectUrlAsync(string path, TimeSpan lifetime, CancellationToken cancellationToken) => Task.FromResult<Uri?>(null);

    /// <inheritdoc/>
    public string? GetLocalFilePath(string path) => Full(path);

    /// <inheritdoc/>
    public Task<IReadOnlyList<StorageCheckResult>> RunChecksAsync(StorageCheckDepth depth, CancellationToken cancellationToken) =>
        GenericStorageChecks.RunAsync(this, depth, cancellationToken);

    /// <inheritdoc/>
    public Task<DateTimeOffset?> GetServerTimeAsync(CancellationToken cancellationToken) => Task.FromResult<DateTimeOffset?>(null);

    /// <summary>Writes with positional system calls on the file's handle (<c>pwrite</c>, and <c>pwritev</c> for a
    /// sequence of buffers): no user-space buffer, one call per request-body read whatever its segment count.</summary>
    private sealed class Writer(FileSystemStorageDriver driver, string path, string target, string file, FileStream stream, long size) : IStorageWriter
    {
        private readonly Microsoft.Win32.SafeHandles.SafeFileHandle _handle = stream.SafeFileHandle; // once: each access re-syncs the stream's position
        private bool _done;
        private long _size = size;

        public long Size => _size;

        public async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(_done, this);
            await RandomAccess.WriteAsync(_handle, buffer, _size, cancellationToken);
            _size += buffer.Length;
        }

        public async ValueTask WriteAsync(ReadOnlySequence<byte> buffers, CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(_done, this);
            if (buffers.IsSingleSegment)
            {
                await RandomAccess.WriteAsync(_handle, buffers.First, _size, cancellationToken);
            }
            else
            {
                var segments = new List<ReadOnlyMemory<byte>>();
                foreach (var segment in buffers)
                {
                    if (!segment.IsEmpty) segments.Add(segment);
                }
                await RandomAccess.WriteAsync(_handle, segments, _size, cancellationToken);
            }
            _size += buffers.Length;
        }

        public async Task CommitAsync(CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(_done, this);
            try
            {
                await stream.FlushAsync(cancellationToken);
                stream.Flush(flushToDisk: true);
                await stream.DisposeAsync();
                _done = true;
                if (!ReferenceEquals(target, file) && target != file) File.Move(file, target, overwrite: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new StorageBackendException(driver.Name, "commit", path, ex);
            }
        }

        public async Task CancelAsync(CancellationToken cancellationToken)
        {
            if (!_done)
            {
                await stream.DisposeAsync();
                _done = true;
            }
            try { File.Delete(file); } catch (IOException) { }
        }

        public async ValueTask DisposeAsync()
        {
            if (_done) return;
            _done = true;
            await stream.FlushAsync();
            await stream.DisposeAsync();
            // A replacing write that was never committed leaves nothing behind.
            if (target != file) { try { File.Delete(file); } catch (IOException) { } }
        }
    }
}
