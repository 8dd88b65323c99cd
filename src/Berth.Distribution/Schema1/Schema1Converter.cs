using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Berth.Distribution;

/// <summary>An unsigned schema 1 manifest built from a schema 2 image.</summary>
/// <param name="Payload">The manifest JSON (3-space indented, ending in <c>"\n}"</c>), ready for
/// <see cref="Schema1Jws.Sign"/>; its SHA-256 is the converted manifest's digest, signed or not.</param>
/// <param name="UsesEmptyLayer">True when some <c>blobSum</c> is <see cref="Schema1Converter.EmptyLayerDigest"/>,
/// which the repository must then be able to serve.</param>
public sealed record Schema1Conversion(byte[] Payload, bool UsesEmptyLayer);

/// <summary>
/// Builds a Docker schema 1 manifest from a Docker schema 2 image manifest and its image config, for
/// clients older than Docker 1.10, following what CNCF Distribution 2.x serves them:
/// <list type="bullet">
/// <item>one <c>fsLayers</c>/<c>history</c> entry per entry of the config's <c>history</c>, newest first;
/// entries marked <c>empty_layer</c> get the well-known empty layer (<see cref="EmptyLayerDigest"/>), the
/// others take the manifest's layers in order;</item>
/// <item>each older entry's <c>v1Compatibility</c> is a small v1 image (<c>id</c>, <c>parent</c>,
/// <c>comment</c>, <c>created</c>, <c>container_config.Cmd</c> = [created_by], <c>author</c>,
/// <c>throwaway</c>) whose id is SHA-256 of <c>"&lt;blobSum hex&gt; &lt;parent id&gt;"</c>;</item>
/// <item>the newest entry's <c>v1Compatibility</c> is the image config without <c>rootfs</c> and
/// <c>history</c>, plus <c>id</c> (SHA-256 of <c>"&lt;blobSum hex&gt; &lt;parent&gt; &lt;config&gt;"</c>),
/// <c>parent</c> and <c>throwaway</c>, members sorted.</item>
/// </list>
/// A config without history, or whose non-empty history entries do not match the layers one to one, gets a
/// history rebuilt from the layers (one entry per layer, created at the config's <c>created</c>).
/// </summary>
public static class Schema1Converter
{
    /// <summary>The digest of <see cref="EmptyLayer"/>: <c>sha256:a3ed95ca…46d4</c>.</summary>
    public static readonly Digest EmptyLayerDigest = Digest.Parse("sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4");

    /// <summary>The gzip-compressed empty tar archive (1024 zero bytes) Docker uses for layers that change
    /// no file; these exact 32 bytes have the digest <see cref="EmptyLayerDigest"/>.</summary>
    public static ReadOnlySpan<byte> EmptyLayer =>
    [
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x09, 0x6e, 0x88, 0x00, 0xff, 0x62, 0x18, 0x05, 0xa3, 0x60, 0x14,
        0x8c, 0x58, 0x00, 0x08, 0x00, 0x00, 0xff, 0xff, 0x2e, 0xaf, 0xb5, 0xef, 0x00, 0x04, 0x00, 0x00,
    ];

    private static readonly JsonWriterOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Converts an image.</summary>
    /// <param name="name">The repository (written as <c>name</c>).</param>
    /// <param name="tag">The tag it is pulled by (written as <c>tag</c>).</param>
    /// <param name="configJson">The image config blob's bytes.</param>
    /// <param name="layers">The schema 2 manifest's layers, in manifest (base-first) order.</param>
    /// <exception cref="RegistryException">MANIFEST_UNKNOWN when the config cannot describe the image (not a
    /// JSON object, <c>rootfs.diff_ids</c> disagreeing with the layers).</exception>
    public static Schema1Conversion Convert(RepositoryName name, Tag tag, ReadOnlySpan<byte> configJson, IReadOnlyList<Descriptor> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(configJson.ToArray(), new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException ex)
        {
            throw Unconvertible($"its image config is not valid JSON ({ex.Message})");
        }
        using (document)
        {
            var config = document.RootElement;
            if (config.ValueKind != JsonValueKind.Object) throw Unconvertible("its image config is not a JSON object");
            string architecture = Text(config, "architecture") ?? "";
            string? baseLayer = null;
            if (config.TryGetProperty("rootfs", out var rootfs) && rootfs.ValueKind == JsonValueKind.Object)
            {
                if (rootfs.TryGetProperty("diff_ids", out var diffIds) && diffIds.ValueKind == JsonValueKind.Array && diffIds.GetArrayLength() != layers.Count)
                    throw Unconvertible($"its image config lists {diffIds.GetArrayLength()} layers (rootfs.diff_ids) but the manifest has {layers.Count}");
                baseLayer = Text(rootfs, "base_layer");
            }
            if (layers.Count == 0) throw Unconvertible("it has no layers, and a schema 1 manifest needs at least one");

            var history = ReadHistory(config, layers.Count);
            int count = history.Count;
            var blobSums = new Digest[count];
            var compat = new string[count];
            string parent = "";
            int nextLayer = 0;
            bool usesEmptyLayer = false;
            for (int i = 0; i < count; i++)
            {
                var entry = history[i];
                Digest blobSum;
                if (entry.EmptyLayer)
                {
                    blobSum = EmptyLayerDigest;
                    usesEmptyLayer = true;
                }
                else
                {
                    blobSum = layers[nextLayer++].Digest;
                }
                int reversed = count - 1 - i;
                blobSums[reversed] = blobSum;
                if (i < count - 1)
                {
                    var id = Sha256Hex(blobSum.Encoded + " " + parent);
                    if (i == 0 && !string.IsNullOrEmpty(baseLayer))
                    {
                        // Windows images: the first layer's parent is derived from the base layer.
                        parent = System.Convert.ToHexStringLower(SHA384.HashData(Encoding.UTF8.GetBytes(baseLayer))[..32]);
                    }
                    compat[reversed] = LayerImage(id, parent, entry);
                    parent = id;
                }
                else
                {
                    var id = Sha256Hex(blobSum.Encoded + " " + parent + " " + Encoding.UTF8.GetString(configJson));
                    compat[reversed] = TopImage(config, id, parent, entry.EmptyLayer);
                }
            }
            return new Schema1Conversion(WriteManifest(name, tag, architecture, blobSums, compat), usesEmptyLayer);
        }
    }

    private sealed record HistoryEntry(string? Created, string? Author, string? CreatedBy, string? Comment, bool EmptyLayer);

    private static List<HistoryEntry> ReadHistory(JsonElement config, int layerCount)
    {
        var entries = new List<HistoryEntry>();
        if (config.TryGetProperty("history", out var history) && history.ValueKind == JsonValueKind.Array)
        {
            foreach (var h in history.EnumerateArray())
            {
                if (h.ValueKind != JsonValueKind.Object) continue;
                bool empty = h.TryGetProperty("empty_layer", out var e) && e.ValueKind == JsonValueKind.True;
                entries.Add(new HistoryEntry(Text(h, "created"), Text(h, "author"), Text(h, "created_by"), Text(h, "comment"), empty));
            }
        }
        if (entries.Count(e => !e.EmptyLayer) == layerCount) return entries;
        // No usable history: one entry per layer.
        var created = Text(config, "created");
        return Enumerable.Range(0, layerCount).Select(_ => new HistoryEntry(created, null, null, null, false)).ToList();
    }

    /// <summary>The v1 image of an older entry, members in the order Docker writes them.</summary>
    private static string LayerImage(string id, string parent, HistoryEntry entry)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, Compact))
        {
            w.WriteStartObject();
            w.WriteString("id", id);
            if (parent.Length > 0) w.WriteString("parent", parent);
            if (!string.IsNullOrEmpty(entry.Comment)) w.WriteString("comment", entry.Comment);
            w.WriteString("created", entry.Created ?? "0001-01-01T00:00:00Z");
            w.WritePropertyName("container_config");
            w.WriteStartObject();
            w.WritePropertyName("Cmd");
            w.WriteStartArray();
            w.WriteStringValue(entry.CreatedBy ?? "");
            w.WriteEndArray();
            w.WriteEndObject();
            if (!string.IsNullOrEmpty(entry.Author)) w.WriteString("author", entry.Author);
            if (entry.EmptyLayer) w.WriteBoolean("throwaway", true);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>The newest entry: the image config without rootfs and history, plus id/parent/throwaway, sorted.</summary>
    private static string TopImage(JsonElement config, string id, string parent, bool throwaway)
    {
        var members = new SortedDictionary<string, Action<Utf8JsonWriter>>(StringComparer.Ordinal);
        foreach (var property in config.EnumerateObject())
        {
            if (property.Name is "rootfs" or "history") continue;
            var value = property.Value;
            members[property.Name] = w => value.WriteTo(w);
        }
        members["id"] = w => w.WriteStringValue(id);
        if (parent.Length > 0) members["parent"] = w => w.WriteStringValue(parent);
        if (throwaway) members["throwaway"] = w => w.WriteBooleanValue(true);

        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, Compact))
        {
            w.WriteStartObject();
            foreach (var (key, write) in members)
            {
                w.WritePropertyName(key);
                write(w);
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static byte[] WriteManifest(RepositoryName name, Tag tag, string architecture, Digest[] blobSums, string[] compat)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions
        {
            Indented = true,
            IndentCharacter = ' ',
            IndentSize = 3,
            NewLine = "\n",
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }))
        {
            w.WriteStartObject();
            w.WriteNumber("schemaVersion", 1);
            w.WriteString("name", name.Value);
            w.WriteString("tag", tag.Value);
            w.WriteString("architecture", architecture);
            w.WritePropertyName("fsLayers");
            w.WriteStartArray();
            foreach (var blobSum in blobSums)
            {
                w.WriteStartObject();
                w.WriteString("blobSum", blobSum.ToString());
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WritePropertyName("history");
            w.WriteStartArray();
            foreach (var v1 in compat)
            {
                w.WriteStartObject();
                w.WriteString("v1Compatibility", v1);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static string? Text(JsonElement element, string property)
    {
        if (!element.TryGetProperty(property, out var value) || value.ValueKind != JsonValueKind.String) return null;
        try { return value.GetString(); }
        catch (InvalidOperationException) { return null; } // a lone surrogate escape: treat as absent
    }

    private static string Sha256Hex(string text) => System.Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    private static RegistryException Unconvertible(string reason) =>
        new(ErrorCode.ManifestUnknown,
            $"this image cannot be served as a Docker schema 1 manifest, which is all this client accepts: {reason}; pull it with Docker 1.10 or later (or another client that accepts schema 2)",
            new { reason });
}
