using Berth.Distribution;
using Berth.Server.Registry;
using Berth.Storage;

namespace Berth.Server.Api;

/// <summary>
/// Upload endpoints (OCI Distribution Spec v1.1, "Pushing blobs"): <c>POST /v2/&lt;name&gt;/blobs/uploads/</c>
/// (start a session, monolithic with <c>?digest=</c>, or mount with <c>?mount=&amp;from=</c>), and
/// <c>GET|PATCH|PUT|DELETE /v2/&lt;name&gt;/blobs/uploads/&lt;id&gt;</c>. Chunks must arrive in order: a chunk
/// that does not start at the current size gets 416 with the current <c>Range</c>.
/// </summary>
internal static class UploadHandlers
{
    public static async Task StartAsync(HttpContext context, RepositoryName name)
    {
        var ct = context.RequestAborted;
        var registry = context.RequestServices.GetRequiredService<RegistryService>();
        var query = context.Request.Query;

        var mount = query["mount"].ToString();
        if (mount.Length > 0)
        {
            var digest = V2Api.ParseDigest(mount);
            var fromText = query["from"].ToString();
            if (RepositoryName.TryParse(fromText, out var from, out _))
            {
                var authorizer = context.RequestServices.GetRequiredService<IRegistryAuthorizer>();
                var decision = await authorizer.AuthorizeAsync(context, from, RegistryActions.Pull, ct);
                if (decision.Allowed && await registry.MountBlobAsync(name, from, digest, ct) is not null)
                {
                    BlobCreated(context, name, digest);
                    return;
                }
            }
            // Not mountable (unknown source, no access, no blob): fall back to a normal upload session.
        }

        var digestText = query["digest"].ToString();
        if (digestText.Length > 0)
        {
            var digest = V2Api.ParseDigest(digestText);
            await registry.UploadMonolithicAsync(name, digest, context.Request.BodyReader, ct);
            BlobCreated(context, name, digest);
            return;
        }

        var id = await registry.StartUploadAsync(name, ct);
        UploadAccepted(context, name, id, 0, StatusCodes.Status202Accepted);
    }

    public static async Task StatusAsync(HttpContext context, RepositoryName name, Guid id)
    {
        var registry = context.RequestServices.GetRequiredService<RegistryService>();
        long size = await registry.GetUploadSizeAsync(name, id, context.RequestAborted);
        UploadAccepted(context, name, id, size, StatusCodes.Status204NoContent);
    }

    public static async Task PatchAsync(HttpContext context, RepositoryName name, Guid id)
    {
        var registry = context.RequestServices.GetRequiredService<RegistryService>();
        long? offset = ParseContentRange(context);
        long size = await WithRangeOnError(context, name, id, () => registry.AppendUploadAsync(name, id, offset, context.Request.BodyReader, context.RequestAborted));
        UploadAccepted(context, name, id, size, StatusCodes.Status202Accepted);
    }

    public static async Task PutAsync(HttpContext context, RepositoryName name, Guid id)
    {
        var registry = context.RequestServices.GetRequiredService<RegistryService>();
        var digestText = context.Request.Query["digest"].ToString();
        if (digestText.Length == 0)
            throw new RegistryException(ErrorCode.DigestInvalid, "the digest query parameter is required to finish an upload (PUT …?digest=sha256:…)");
        var digest = V2Api.ParseDigest(digestText);
        long? offset = ParseContentRange(context);
        // A body of unknown length has no Content-Length, and over HTTP/2 no Transfer-Encoding either: only a
        // declared length of 0 means "no final chunk" (reading an absent body just yields no bytes).
        bool hasBody = context.Request.ContentLength != 0;
        await WithRangeOnError(context, name, id, () => registry.CompleteUploadAsync(name, id, digest, offset, hasBody ? context.Request.BodyReader : null, context.RequestAborted));
        BlobCreated(context, name, digest);
    }

    public static async Task CancelAsync(HttpContext context, RepositoryName name, Guid id)
    {
        var registry = context.RequestServices.GetRequiredService<RegistryService>();
        await registry.CancelUploadAsync(name, id, context.RequestAborted);
        context.Response.StatusCode = StatusCodes.Status204NoContent;
        context.Response.ContentLength = 0;
    }

    private static async Task<long> WithRangeOnError(HttpContext context, RepositoryName name, Guid id, Func<Task<long>> action)
    {
        try
        {
            return await action();
        }
        catch (RegistryException ex) when (ex.Detail is UploadRange range)
        {
            context.Response.Headers.Location = UploadLocation(name, id);
            context.Response.Headers.Range = RangeValue(range.Size);
            context.Response.Headers["Docker-Upload-UUID"] = id.ToString("D");
            throw;
        }
    }

    /// <summary>Parses <c>Content-Range: &lt;start&gt;-&lt;end&gt;</c> (also with a <c>bytes</c> unit); returns the start
    /// offset, or null without the header. A malformed range or one whose length disagrees with Content-Length is 416.</summary>
    private static long? ParseContentRange(HttpContext context)
    {
        var header = context.Request.Headers.ContentRange.ToString();
        if (string.IsNullOrWhiteSpace(header)) return null;
        var text = header.Trim();
        if (text.StartsWith("bytes", StringComparison.OrdinalIgnoreCase)) text = text[5..].TrimStart(' ', '=');
        int slash = text.IndexOf('/');
        if (slash >= 0) text = text[..slash];
        int dash = text.IndexOf('-');
        if (dash <= 0 || !long.TryParse(text.AsSpan(0, dash), out long start) || !long.TryParse(text.AsSpan(dash + 1), out long end) || start < 0 || end < start)
            throw new RegistryException(ErrorCode.RangeInvalid, $"Content-Range '{V2Api.Truncate(header)}' is not '<start>-<end>'", null, 416);
        if (context.Request.ContentLength is { } length && length != end - start + 1)
            throw new RegistryException(ErrorCode.RangeInvalid, $"Content-Range {start}-{end} is {end - start + 1} bytes but Content-Length is {length}", null, 416);
        return start;
    }

    private static string UploadLocation(RepositoryName name, Guid id) => $"/v2/{name}/blobs/uploads/{id:D}";

    private static string RangeValue(long size) => $"0-{Math.Max(size - 1, 0)}";

    private static void UploadAccepted(HttpContext context, RepositoryName name, Guid id, long size, int status)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.Headers.Location = UploadLocation(name, id);
        response.Headers.Range = RangeValue(size);
        response.Headers["Docker-Upload-UUID"] = id.ToString("D");
        response.ContentLength = 0;
    }

    private static void BlobCreated(HttpContext context, RepositoryName name, Digest digest)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status201Created;
        response.Headers.Location = $"/v2/{name}/blobs/{digest}";
        response.Headers["Docker-Content-Digest"] = digest.ToString();
        response.ContentLength = 0;
    }
}
