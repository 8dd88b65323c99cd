using Berth.Distribution;
using Berth.Server.Configuration;
using Berth.Server.Registry;
using Berth.Storage;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Berth.Server.Api;

/// <summary>Blob endpoints: <c>GET|HEAD|DELETE /v2/&lt;name&gt;/blobs/&lt;digest&gt;</c> (OCI Distribution Spec v1.1,
/// "Pulling blobs", "Deleting blobs"), with single-range requests answered 206.</summary>
internal static class BlobHandlers
{
    /// <summary>How long a presigned redirect URL stays valid.</summary>
    private static readonly TimeSpan RedirectLifetime = TimeSpan.FromMinutes(20);

    public static async Task GetAsync(HttpContext context, RepositoryName name, Digest digest)
    {
        var ct = context.RequestAborted;
        var registry = context.RequestServices.GetRequiredService<RegistryService>();
        var blob = await registry.GetBlobForPullAsync(name, digest, ct)
            ?? throw new RegistryException(ErrorCode.BlobUnknown, $"blob {digest} is not in repository {name}", new { digest = digest.ToString() });

        var response = context.Response;
        var etag = "\"" + digest + "\"";
        response.Headers["Docker-Content-Digest"] = digest.ToString();
        response.Headers.ETag = etag;
        response.Headers.CacheControl = "max-age=31536000";
        response.Headers.AcceptRanges = "bytes";
        response.ContentType = "application/octet-stream";

        if (context.Request.Headers.IfNoneMatch.Any(v => v == etag || v == "*"))
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }

        long size = blob.Size;
        long start = 0, length = size;
        var range = context.Request.Headers.Range.ToString();
        if (!string.IsNullOrEmpty(range) && TryParseRange(range, size, out var rs, out var rl, out bool satisfiable))
        {
            if (!satisfiable)
            {
                response.Headers.ContentRange = $"bytes */{size}";
                throw new RegistryException(ErrorCode.RangeInvalid, $"range '{V2Api.Truncate(range)}' is outside the blob's {size} bytes", new { size }, 416);
            }
            start = rs;
            length = rl;
            response.StatusCode = StatusCodes.Status206PartialContent;
            response.Headers.ContentRange = $"bytes {start}-{start + length - 1}/{size}";
        }
        response.ContentLength = length;
        if (HttpMethods.IsHead(context.Request.Method)) return;
        await context.RequestServices.GetRequiredService<Notifications.RegistryEvents>().BlobPulledAsync(name, digest, size);

        var store = context.RequestServices.GetRequiredService<BlobStore>();
        if (response.StatusCode == StatusCodes.Status200OK
            && await store.GetRedirectUrlAsync(digest, RedirectLifetime, ct) is { } redirect)
        {
            // Storage:S3:Redirect: the client downloads from the object store with a presigned URL.
            response.StatusCode = StatusCodes.Status307TemporaryRedirect;
            response.Headers.Location = redirect.AbsoluteUri;
            response.ContentLength = 0;
            return;
        }
        var local = store.GetLocalFilePath(digest);
        try
        {
            if (local is not null)
            {
                var pull = context.RequestServices.GetRequiredService<IOptions<RegistryOptions>>().Value.Pull;
                if (ZeroCopyBlobResponse.EligibleSocket(context, pull, length) is { } socket)
                {
                    // Cleartext HTTP/1.1 on Kestrel's socket: sendfile(2) straight from the page cache, then the
                    // connection closes (ZeroCopyBlobResponse explains why; Registry:Pull:SendFile turns it off).
                    FileStream file;
                    try
                    {
                        // Asynchronous: SendPacketsElement requires it (the bytes never pass through the stream itself).
                        file = new FileStream(local, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0, FileOptions.Asynchronous);
                    }
                    catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
                    {
                        throw new StoragePathNotFoundException(StorageLayout.BlobData(digest));
                    }
                    await using (file)
                    {
                        if (await ZeroCopyBlobResponse.TrySendAsync(context, socket, file, start, length)) return;
                    }
                }
                if (!File.Exists(local)) throw new StoragePathNotFoundException(StorageLayout.BlobData(digest));
                await response.SendFileAsync(local, start, length, ct);
                return;
            }
            await using var stream = await store.OpenReadAsync(digest, start, ct);
            await CopyAsync(stream, response.Body, length, ct);
        }
        catch (StoragePathNotFoundException)
        {
            response.Headers.ContentRange = default;
            response.StatusCode = StatusCodes.Status200OK;
            throw new RegistryException(ErrorCode.BlobUnknown, $"blob {digest} is listed in repository {name} but its bytes are missing from storage", new { digest = digest.ToString(), component = "storage" });
        }
    }

    private static async Task CopyAsync(Stream source, Stream destination, long length, CancellationToken ct)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(BlobStore.CopyBufferSize);
        try
        {
            while (length > 0)
            {
                int read = await source.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, length)), ct);
                if (read == 0) break;
                await destination.WriteAsync(buffer.AsMemory(0, read), ct);
                length -= read;
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Parses a single <c>bytes=</c> range (RFC 9110 §14.1.2). False when the header is not a single
    /// byte range (then the whole blob is sent); <paramref name="satisfiable"/> false when it lies outside the blob.</summary>
    internal static bool TryParseRange(string header, long size, out long start, out long length, out bool satisfiable)
    {
        start = 0; length = size; satisfiable = true;
        if (!RangeHeaderValue.TryParse(header, out var parsed) || !string.Equals(parsed.Unit.Value, "bytes", StringComparison.OrdinalIgnoreCase) || parsed.Ranges.Count != 1)
            return false;
        var r = parsed.Ranges.First();
        if (r.From is null)
        {
            long suffix = r.To ?? 0;
            if (suffix <= 0 || size == 0) { satisfiable = false; return true; }
            suffix = Math.Min(suffix, size);
            start = size - suffix; length = suffix;
            return true;
        }
        if (r.From.Value >= size) { satisfiable = false; return true; }
        long end = Math.Min(r.To ?? size - 1, size - 1);
        if (end < r.From.Value) { satisfiable = false; return true; }
        start = r.From.Value; length = end - start + 1;
        return true;
    }

    public static async Task DeleteAsync(HttpContext context, RepositoryName name, Digest digest)
    {
        var registry = context.RequestServices.GetRequiredService<RegistryService>();
        if (!await registry.DeleteBlobAsync(name, digest, context.RequestAborted))
            throw new RegistryException(ErrorCode.BlobUnknown, $"blob {digest} is not in repository {name}", new { digest = digest.ToString() });
        context.Response.StatusCode = StatusCodes.Status202Accepted;
        context.Response.Headers["Docker-Content-Digest"] = digest.ToString();
        context.Response.ContentLength = 0;
    }
}
