using System.Text;

namespace Berth.Storage;

/// <summary>How thorough <see cref="IStorageChecks.RunChecksAsync"/> is.</summary>
public enum StorageCheckDepth
{
    /// <summary>A few quick operations (write, stat, delete a scratch key): the start-up and readiness check.</summary>
    Short,

    /// <summary>Every operation Berth uses (the <c>berth doctor</c> check).</summary>
    Full,
}

/// <summary>
/// The outcome of one storage operation tried on a scratch key. <paramref name="Operation"/> names the backend
/// operation (e.g. <c>HeadObject</c>); <paramref name="Error"/> is the backend's error when it failed and
/// <paramref name="Grant"/> the permission to grant (e.g. <c>s3:GetObject on arn:aws:s3:::bucket/prefix/*</c>).
/// A failed check with <paramref name="Warning"/> set is reported but does not fail the whole check.
/// </summary>
public sealed record StorageCheckResult(string Operation, bool Ok, string? Error = null, string? Grant = null, bool Warning = false)
{
    /// <summary>One line for people: <c>ok</c>, or the failing operation, the error and what to grant.</summary>
    public override string ToString()
    {
        if (Ok) return $"{Operation}: ok{(Error is null ? "" : " (" + Error + ")")}";
        var text = new StringBuilder($"{Operation}: {(Warning ? "WARNING" : "FAILED")}: {Error}");
        if (Grant is not null) text.Append($"; grant {Grant}");
        return text.ToString();
    }
}

/// <summary>A storage driver that can check its own backend by trying the operations Berth needs on a scratch
/// key (used by <c>berth doctor</c>, the start-up check and the readiness endpoint).</summary>
public interface IStorageChecks
{
    /// <summary>Runs the checks; never throws for a backend failure (each failure is a result).</summary>
    Task<IReadOnlyList<StorageCheckResult>> RunChecksAsync(StorageCheckDepth depth, CancellationToken cancellationToken);

    /// <summary>The backend's clock (e.g. the Last-Modified of a scratch object just written), or null when the
    /// backend has no clock of its own (the local filesystem).</summary>
    Task<DateTimeOffset?> GetServerTimeAsync(CancellationToken cancellationToken);
}

/// <summary>
/// The generic checks any <see cref="IStorageDriver"/> can run through its own interface: write, stat, read,
/// append, list, move, delete on a scratch path under <c>_doctor/</c>. Drivers with a richer backend (S3) run
/// finer-grained checks of their own.
/// </summary>
public static class GenericStorageChecks
{
    /// <summary>Runs the checks on <paramref name="driver"/>; each failure names the driver operation.</summary>
    public static async Task<IReadOnlyList<StorageCheckResult>> RunAsync(IStorageDriver driver, StorageCheckDepth depth, CancellationToken cancellationToken)
    {
        var results = new List<StorageCheckResult>();
        var dir = "_doctor/" + Guid.NewGuid().ToString("N");
        var file = dir + "/scratch";
        var moved = dir + "/moved";
        var payload = Encoding.UTF8.GetBytes("berth storage check\n");

        async Task<bool> Try(string operation, Func<Task> action)
        {
            try
            {
                await action();
                results.Add(new StorageCheckResult(operation, true));
                return true;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                var inner = ex is StorageBackendException { InnerException: { } i } ? i : ex;
                results.Add(new StorageCheckResult(operation, false, inner.Message, (ex as StorageBackendException)?.Grant));
                return false;
            }
        }

        bool written = await Try("write", async () =>
        {
            await using var writer = await driver.OpenWriterAsync(file, append: false, cancellationToken);
            await writer.WriteAsync(payload, cancellationToken);
            await writer.CommitAsync(cancellationToken);
        });
        if (written)
        {
            await Try("stat", async () =>
            {
                var stat = await driver.StatAsync(file, cancellationToken);
                if (stat is null || stat.Size != payload.Length) throw new InvalidOperationException($"stat reported {stat?.Size.ToString() ?? "nothing"} instead of {payload.Length} bytes");
            });
            if (depth == StorageCheckDepth.Full)
            {
                await Try("read", async () =>
                {
                    await using var stream = await driver.OpenReadAsync(file, 0, cancellationToken);
                    var buffer = new byte[payload.Length + 1];
                    int read = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken);
                    if (!buffer.AsSpan(0, read).SequenceEqual(payload)) throw new InvalidOperationException("read back different bytes");
                });
                await Try("append", async () =>
                {
                    await using (var writer = await driver.OpenWriterAsync(file, append: true, cancellationToken))
                    {
                        await writer.WriteAsync(payload, cancellationToken);
                    }
                    var stat = await driver.StatAsync(file, cancellationToken);
                    if (stat?.Size != 2 * payload.Length) throw new InvalidOperationException($"after an append the size is {stat?.Size} instead of {2 * payload.Length}");
                });
                await Try("list", async () =>
                {
                    var found = new List<string>();
                    await foreach (var entry in driver.ListAsync(dir, cancellationToken)) found.Add(entry);
                    if (!found.Contains(file)) throw new InvalidOperationException($"listing {dir} did not show {file}");
                });
                await Try("move", () => driver.MoveAsync(file, moved, cancellationToken));
                await Try("redirect", () => driver.GetRedirectUrlAsync(moved, TimeSpan.FromMinutes(1), cancellationToken));
            }
        }
        await Try("delete", async () =>
        {
            await driver.DeleteAsync(dir, cancellationToken);
            if (await driver.StatAsync(file, cancellationToken) is not null || await driver.StatAsync(moved, cancellationToken) is not null)
                throw new InvalidOperationException("the scratch files are still there after the delete");
        });
        return results;
    }
}
