using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Berth.Server.Web;

/// <summary>
/// The UI's stylesheet and script, embedded in the assembly (<c>Web/Assets</c>) and served at
/// <c>/-/assets/&lt;name&gt;</c> with a content-hash version in the URL, an ETag and a one-year cache.
/// </summary>
public static class WebAssets
{
    private sealed record Asset(byte[] Content, string ContentType, string Hash);

    private static readonly ConcurrentDictionary<string, Asset?> Cache = new(StringComparer.Ordinal);

    /// <summary>The short content hash of an asset (for cache-busting URLs); empty when it does not exist.</summary>
    public static string Version(string name) => Load(name)?.Hash ?? "";

    /// <summary>Maps <c>GET /-/assets/{name}</c>.</summary>
    public static IEndpointRouteBuilder MapWebAssets(this IEndpointRouteBuilder app)
    {
        app.MapGet("/-/assets/{name}", (HttpContext context, string name) =>
        {
            var asset = Load(name);
            if (asset is null) return Results.NotFound();
            var etag = $"\"{asset.Hash}\"";
            context.Response.Headers.ETag = etag;
            context.Response.Headers.CacheControl = "public, max-age=31536000, immutable";
            context.Response.Headers["X-Content-Type-Options"] = "nosniff";
            if (context.Request.Headers.IfNoneMatch == etag) return Results.StatusCode(StatusCodes.Status304NotModified);
            return Results.Bytes(asset.Content, asset.ContentType);
        }).ExcludeFromDescription();
        return app;
    }

    private static Asset? Load(string name) => Cache.GetOrAdd(name, static n =>
    {
        var contentType = Path.GetExtension(n) switch
        {
            ".css" => "text/css; charset=utf-8",
            ".js" => "text/javascript; charset=utf-8",
            ".svg" => "image/svg+xml",
            _ => null,
        };
        if (contentType is null) return null;
        using var stream = typeof(WebAssets).Assembly.GetManifestResourceStream("Berth.Web.Assets." + n);
        if (stream is null) return null;
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        var bytes = buffer.ToArray();
        return new Asset(bytes, contentType, Convert.ToHexStringLower(SHA256.HashData(bytes))[..16]);
    });
}
