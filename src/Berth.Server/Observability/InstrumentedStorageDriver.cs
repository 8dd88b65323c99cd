using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Berth.Storage;

namespace Berth.Server.Observability;

/// <summary>
/// Wraps the configured <see cref="IStorageDriver"/> (filesystem or S3) and records every operation's latency in
/// <c>berth_storage_operation_duration_seconds{backend,operation}</c> and its failures in
/// <c>berth_storage_errors_total{backend,operation}</c>. Operations: <c>open_read</c> (until the stream is open),
/// <c>stat</c>, <c>open_writer</c>, <c>write</c> (one chunk), <c>commit</c>, <c>cancel</c>, <c>move</c>, <c>delete</c>,
/// <c>list</c>, <c>redirect_url</c>. "Not found" and cancellation are outcomes, not failures. Behaviour is the inner
/// driver's, unchanged; its self-checks (<see cref="IStorageChecks"/>) are passed through.
/// </summary>
public sealed class InstrumentedStorageDriver(IStorageDriver inner) : IStorageDriver, IStorageChecks, IDisposable
{
    /// <summary>The wrapped driver.</summary>
    public IStorageDriver Inner { get; } = inner;

    /// <inheritdoc/>
    public string Name => Inner.Name;

    /// <inheritdoc/>
    public Task<Stream> OpenReadAsync(string path, long offset, CancellationToken cancellationToken) =>
        MeasureAsync("open_read", () => Inner.OpenReadAsync(path, offset, cancellationToken));

    /// <inheritdoc/>
    public Task<StorageStat?> StatAsync(string path, CancellationToken cancellationToken) =>
        MeasureAsync("stat", () => Inner.StatAsync(path, cancellationToken));

    /// <inheritdoc/>
    public async Task<IStorageWriter> OpenWriterAsync(string path, bool append, CancellationToken cancellationToken) =>
        new Writer(this, await MeasureAsync("open_writer", () => Inner.OpenWriterAsync(path, append, cancellationToken)));

    /// <inheritdoc/>
    public Task MoveAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken) =>
        MeasureAsync("move", async () => { await Inner.MoveAsync(sourcePath, destinationPath, cancellationToken); return true; });

    /// <inheritdoc/>
    public Task DeleteAsync(string path, CancellationToken cancellationToken) =>
        MeasureAsync("delete", async () => { await Inner.DeleteAsync(path, cancellationToken); return true; });

    /// <inheritdoc/>
    public async IAsyncEnumerable<string> ListAsync(string path, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        long start = Stopwatch.GetTimestamp();
        bool failed = true;
        try
        {
            await foreach (var item in Inner.ListAsync(path, cancellationToken)) yield return item;
            failed = false;
        }
        finally
        {
            Observe("list", start, failed && !cancellationToken.IsCancellationRequested);
        }
    }

    /// <inheritdoc/>
    public Task<Uri?> GetRedirectUrlAsync(string path, TimeSpan lifetime, CancellationToken cancellationToken) =>
        MeasureAsync("redirect_url", () => Inner.GetRedirectUrlAsync(path, lifetime, cancellationToken));

    /// <inheritdoc/>
    public string? GetLocalFilePath(string path) => Inner.GetLocalFilePath(path);

    /// <inheritdoc/>
    public Task<IReadOnlyList<StorageCheckResult>> RunChecksAsync(StorageCheckDepth depth, CancellationToken cancellationToken) =>
        Inner is IStorageChecks checks ? checks.RunChecksAsync(depth, cancellationToken) : GenericStorageChecks.RunAsync(Inner, depth, cancellationToken);

    /// <inheritdoc/>
    public Task<DateTimeOffset?> GetServerTimeAsync(CancellationToken cancellationToken) =>
        Inner is IStorageChecks checks ? checks.GetServerTimeAsync(cancellationToken) : Task.FromResult<DateTimeOffset?>(null);

    /// <summary>Disposes the inner driver when it holds resources (the S3 client).</summary>
    public void Dispose() => (Inner as IDisposable)?.Dispose();

    private async Task<T> MeasureAsync<T>(string operation, Func<Task<T>> action)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            var result = await action();
            Observe(operation, start, failed: false);
            return result;
        }
        catch (Exception ex) when (IsOutcome(ex))
        {
            Observe(operation, start, failed: false);
            throw;
        }
        catch
        {
            Observe(operation, start, failed: true);
            throw;
        }
    }

    private static bool IsOutcome(Exception ex) => ex is StoragePathNotFoundException or OperationCanceledException or ArgumentOutOfRangeException;

    private void Observe(string operation, long start, bool failed)
    {
        BerthMetrics.StorageOperation(Name, operation, Stopwatch.GetElapsedTime(start));
        if (failed) BerthMetrics.StorageError(Name, operation);
    }

    private sealed class Writer(InstrumentedStorageDriver driver, IStorageWriter inner) : IStorageWriter
    {
        public long Size => inner.Size;

        public async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
        {
            long start = Stopwatch.GetTimestamp();
            try
            {
                await inner.WriteAsync(buffer, cancellationToken);
                driver.Observe("write", start, failed: false);
            }
            catch (Exception ex) when (!IsOutcome(ex))
            {
                driver.Observe("write", start, failed: true);
                throw;
            }
        }

        public async ValueTask WriteAsync(ReadOnlySequence<byte> buffers, CancellationToken cancellationToken)
        {
            long start = Stopwatch.GetTimestamp();
            try
            {
                await inner.WriteAsync(buffers, cancellationToken);
                driver.Observe("write", start, failed: false);
            }
            catch (Exception ex) when (!IsOutcome(ex))
            {
                driver.Observe("write", start, failed: true);
                throw;
            }
        }

        public Task CommitAsync(CancellationToken cancellationToken) =>
            driver.MeasureAsync("commit", async () => { await inner.CommitAsync(cancellationToken); return true; });

        public Task CancelAsync(CancellationToken cancellationToken) =>
            driver.MeasureAsync("cancel", async () => { await inner.CancelAsync(cancellationToken); return true; });

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
