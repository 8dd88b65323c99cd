using System.Text.Json;
using Berth.Distribution;
using Berth.Server.Configuration;
using Berth.Server.Registry;
using Microsoft.Extensions.Options;

namespace Berth.Server.Api;

/// <summary>Content discovery (OCI Distribution Spec v1.1, "Content discovery"): tag list and catalog with
/// <c>n</c>/<c>last</c> pagination and a <c>Link: &lt;…&gt;; rel="next"</c> header, and the referrers API.</summary>
internal static class ListingHandlers
{
    public static async Task TagsAsync(HttpContext context, RepositoryName name)
    {
        var (limit, last) = ParsePaging(context);
        var registry = context.RequestServices.GetRequiredService<RegistryService>();
        if (limit is null)
        {
            // Everything: streamed from the database to the socket, never held as a list.
            var tags = await registry.StreamTagsAsync(name, last, context.RequestAborted)
                ?? throw new RegistryException(ErrorCode.NameUnknown, $"repository {name} is not known to this registry", new { name = name.Value });
            await StreamTagListAsync(context, name, tags);
            return;
        }
        var page = await registry.ListTagsAsync(name, limit, last, context.RequestAborted)
            ?? throw new RegistryException(ErrorCode.NameUnknown, $"repository {name} is not known to this registry", new { name = name.Value });
        if (page.HasMore) context.Response.Headers.Link = $"</v2/{name}/tags/list?n={limit}&last={Uri.EscapeDataString(page.Items[^1])}>; rel=\"next\"";
        await WriteJsonAsync(context, writer =>
        {
            writer.WriteString("name", name.Value);
            writer.WriteStartArray("tags");
            foreach (var tag in page.Items) writer.WriteStringValue(tag);
            writer.WriteEndArray();
        });
    }

    public static async Task CatalogAsync(HttpContext context)
    {
        var (limit, last) = ParsePaging(context);
        var registry = context.RequestServices.GetRequiredService<RegistryService>();
        var page = await registry.ListRepositoriesAsync(limit, last, context.RequestAborted);
        if (page.HasMore) context.Response.Headers.Link = $"</v2/_catalog?n={limit}&last={Uri.EscapeDataString(page.Items[^1])}>; rel=\"next\"";
        // Filtered to what the caller may pull; a page may then hold fewer than n names (the Link still continues).
        var authorizer = context.RequestServices.GetRequiredService<IRegistryAuthorizer>();
        var visible = new List<string>(page.Items.Count);
        foreach (var item in page.Items)
        {
            if (RepositoryName.TryParse(item, out var name, out _) && await authorizer.CanListAsync(context, name, context.RequestAborted)) visible.Add(item);
        }
        await WriteJsonAsync(context, writer =>
        {
            writer.WriteStartArray("repositories");
            foreach (var repository in visible) writer.WriteStringValue(repository);
            writer.WriteEndArray();
        });
    }

    public static async Task ReferrersAsync(HttpContext context, RepositoryName name, Digest subject)
    {
        var artifactType = context.Request.Query["artifactType"].ToString();
        var filter = artifactType.Length > 0 ? artifactType : null;
        var registry = context.RequestServices.GetRequiredService<RegistryService>();
        var referrers = await registry.ListReferrersAsync(name, subject, filter, context.RequestAborted);
        if (filter is not null) context.Response.Headers["OCI-Filters-Applied"] = "artifactType";
        context.Response.ContentType = MediaTypes.OciIndex;
        await WriteJsonAsync(context, writer =>
        {
            writer.WriteNumber("schemaVersion", 2);
            writer.WriteString("mediaType", MediaTypes.OciIndex);
            writer.WriteStartArray("manifests");
            foreach (var d in referrers)
            {
                writer.WriteStartObject();
                writer.WriteString("mediaType", d.MediaType);
                writer.WriteString("digest", d.Digest.ToString());
                writer.WriteNumber("size", d.Size);
                if (d.ArtifactType is not null) writer.WriteString("artifactType", d.ArtifactType);
                if (d.Annotations is { Count: > 0 })
                {
                    writer.WriteStartObject("annotations");
                    foreach (var (k, v) in d.Annotations) writer.WriteString(k, v);
                    writer.WriteEndObject();
                }
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
        }, MediaTypes.OciIndex);
    }

    private static (int? Limit, string? Last) ParsePaging(HttpContext context)
    {
        var query = context.Request.Query;
        int? limit = null;
        var n = query["n"].ToString();
        if (n.Length > 0)
        {
            if (!int.TryParse(n, System.Globalization.NumberStyles.None, null, out var parsed))
                throw new RegistryException(ErrorCode.PaginationNumberInvalid, $"n='{V2Api.Truncate(n)}' is not a non-negative integer", new { n = V2Api.Truncate(n) });
            var max = context.RequestServices.GetRequiredService<IOptions<RegistryOptions>>().Value.MaxPageSize;
            limit = Math.Min(parsed, max);
        }
        var last = query["last"].ToString();
        return (limit, last.Length > 0 ? last : null);
    }

    /// <summary>Writes <c>{"name":…,"tags":[…]}</c> straight into the response pipe (chunked), flushing every 32 KiB.</summary>
    private static async Task StreamTagListAsync(HttpContext context, RepositoryName name, IAsyncEnumerable<string> tags)
    {
        context.Response.ContentType = "application/json";
        var pipe = context.Response.BodyWriter;
        await using var writer = new Utf8JsonWriter(pipe);
        writer.WriteStartObject();
        writer.WriteString("name", name.Value);
        writer.WriteStartArray("tags");
        await foreach (var tag in tags.WithCancellation(context.RequestAborted))
        {
            writer.WriteStringValue(tag);
            if (writer.BytesPending >= 32 * 1024)
            {
                writer.Flush();
                await pipe.FlushAsync(context.RequestAborted);
            }
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
        writer.Flush();
        await pipe.FlushAsync(context.RequestAborted);
    }

    private static async Task WriteJsonAsync(HttpContext context, Action<Utf8JsonWriter> body, string contentType = "application/json")
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(1024);
        await using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }
        context.Response.ContentType = contentType;
        context.Response.ContentLength = buffer.WrittenCount;
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
    }
}
