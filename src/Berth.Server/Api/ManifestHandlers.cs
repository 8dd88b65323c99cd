using Berth.Distribution;
using Berth.Server.Configuration;
using Berth.Server.Registry;
using Microsoft.Extensions.Options;

namespace Berth.Server.Api;

/// <summary>Manifest endpoints: <c>GET|HEAD|PUT|DELETE /v2/&lt;name&gt;/manifests/&lt;reference&gt;</c> (OCI
/// Distribution Spec v1.1, "Pulling manifests", "Pushing manifests", "Deleting tags/manifests").
/// Manifests are served byte-for-byte as pushed, with their pushed media type and digest, except to clients
/// that read only Docker schema 1 (see <see cref="ManifestNegotiation"/>), which get a converted schema 1 for
/// a Docker schema 2 image pulled by tag.</summary>
internal static class ManifestHandlers
{
    public static async Task GetAsync(HttpContext context, RepositoryName name, Reference reference)
    {
        var registry = context.RequestServices.GetRequiredService<RegistryService>();
        var manifest = await registry.GetManifestAsync(name, reference, context.RequestAborted)
            ?? throw new RegistryException(ErrorCode.ManifestUnknown, $"manifest {reference} is not in repository {name}", new { name = name.Value, reference = reference.ToString() });
        var response = context.Response;
        response.Headers.Vary = "Accept";
        switch (ManifestNegotiation.Choose(context.Request.Headers.Accept, manifest.MediaType, byTag: !reference.IsDigest))
        {
            case ManifestDelivery.ClientTooOld:
                throw ManifestNegotiation.TooOld(manifest.MediaType, reference.ToString());
            case ManifestDelivery.ConvertToSchema1 when context.RequestServices.GetRequiredService<IOptions<RegistryOptions>>().Value.Schema1.Convert:
                manifest = await context.RequestServices.GetRequiredService<Schema1Conversions>().ConvertAsync(name, reference.Tag, manifest, context.RequestAborted);
                break;
        }
        var etag = "\"" + manifest.Digest + "\"";
        response.Headers["Docker-Content-Digest"] = manifest.Digest.ToString();
        response.Headers.ETag = etag;
        response.ContentType = manifest.MediaType;
        response.ContentLength = manifest.Content.Length;
        if (reference.IsDigest && context.Request.Headers.IfNoneMatch.Any(v => v == etag))
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            response.ContentLength = null;
            return;
        }
        if (HttpMethods.IsHead(context.Request.Method)) return;
        await context.RequestServices.GetRequiredService<Notifications.RegistryEvents>()
            .ManifestPulledAsync(name, manifest.Digest, manifest.MediaType, manifest.Content.Length, reference.IsDigest ? null : reference.Tag.Value);
        await response.Body.WriteAsync(manifest.Content, context.RequestAborted);
    }

    public static async Task PutAsync(HttpContext context, RepositoryName name, Reference reference)
    {
        var limit = context.RequestServices.GetRequiredService<IOptions<RegistryOptions>>().Value.MaxManifestBytes;
        var content = await ReadLimitedAsync(context, limit);
        if (!reference.IsDigest)
            await context.RequestServices.GetRequiredService<TagProtection>().CheckPushAsync(Auth.BasicCredentials.GetPrincipal(context), name, reference.Tag.Value, context.RequestAborted);
        var registry = context.RequestServices.GetRequiredService<RegistryService>();
        var result = await registry.PutManifestAsync(name, reference, content, context.Request.ContentType, context.RequestAborted);
        var response = context.Response;
        response.StatusCode = StatusCodes.Status201Created;
        response.Headers.Location = $"/v2/{name}/manifests/{result.Digest}";
        response.Headers["Docker-Content-Digest"] = result.Digest.ToString();
        if (result.Subject is { } subject) response.Headers["OCI-Subject"] = subject.ToString();
        response.ContentLength = 0;
    }

    /// <summary>Reads a request body of at most <paramref name="limit"/> bytes; a larger one is refused with 413
    /// MANIFEST_INVALID after reading no more than the limit.</summary>
    private static async Task<byte[]> ReadLimitedAsync(HttpContext context, int limit)
    {
        var declared = context.Request.ContentLength;
        if (declared > limit) throw TooLarge(limit, declared);
        var buffer = new MemoryStream(declared is > 0 ? (int)declared.Value : 4096);
        var chunk = new byte[16 * 1024];
        while (true)
        {
            int read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted);
            if (read == 0) break;
            if (buffer.Length + read > limit) throw TooLarge(limit, null);
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    private static RegistryException TooLarge(int limit, long? declared) =>
        new(ErrorCode.ManifestInvalid, $"manifest is larger than the {limit} bytes this registry accepts", new { limit, declared }, StatusCodes.Status413PayloadTooLarge);

    public static async Task DeleteAsync(HttpContext context, RepositoryName name, Reference reference)
    {
        var protection = context.RequestServices.GetRequiredService<TagProtection>();
        var principal = Auth.BasicCredentials.GetPrincipal(context);
        if (reference.IsDigest) await protection.CheckDeleteManifestAsync(principal, name, reference.Digest, context.RequestAborted);
        else await protection.CheckDeleteAsync(principal, name, [reference.Tag.Value], context.RequestAborted);
        var registry = context.RequestServices.GetRequiredService<RegistryService>();
        if (!await registry.DeleteManifestAsync(name, reference, context.RequestAborted))
            throw new RegistryException(ErrorCode.ManifestUnknown, $"manifest {reference} is not in repository {name}", new { name = name.Value, reference = reference.ToString() });
        context.Response.StatusCode = StatusCodes.Status202Accepted;
        context.Response.ContentLength = 0;
    }
}
