using System.Text.Json;

namespace Berth.Distribution;

/// <summary>
/// A parsed and validated manifest: an OCI image manifest or index, a Docker schema 2 manifest or
/// manifest list, or a Docker schema 1 manifest (<see cref="Schema1"/>). The bytes themselves are kept
/// elsewhere, unchanged; this is what Berth needs to know about them (what they reference, their subject,
/// their artifact type, what their digest is computed over).
/// </summary>
public sealed class ParsedManifest
{
    /// <summary>The manifest's media type (from its <c>mediaType</c> field, or the request's Content-Type).</summary>
    public required string MediaType { get; init; }

    /// <summary>The config descriptor (image manifests only).</summary>
    public Descriptor? Config { get; init; }

    /// <summary>Layer descriptors (image manifests only), in manifest order.</summary>
    public IReadOnlyList<Descriptor> Layers { get; init; } = [];

    /// <summary>Child manifest descriptors (indexes only), in manifest order.</summary>
    public IReadOnlyList<Descriptor> Manifests { get; init; } = [];

    /// <summary>The <c>subject</c> descriptor (OCI 1.1 referrers), when present.</summary>
    public Descriptor? Subject { get; init; }

    /// <summary>The manifest's own <c>artifactType</c> field.</summary>
    public string? ArtifactType { get; init; }

    /// <summary>The manifest's annotations.</summary>
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }

    /// <summary>True for indexes and manifest lists.</summary>
    public bool IsIndex => MediaTypes.IsIndex(MediaType);

    /// <summary>
    /// The artifact type reported in the referrers API: <see cref="ArtifactType"/> when set, else the
    /// config's media type for image manifests (OCI Distribution Spec v1.1, "Listing Referrers").
    /// </summary>
    public string? EffectiveArtifactType => ArtifactType ?? (MediaTypes.IsImageManifest(MediaType) ? Config?.MediaType : null);

    /// <summary>Blobs that must be present in the repository before this manifest is accepted:
    /// the config and every layer except foreign / non-distributable ones.</summary>
    public IEnumerable<Descriptor> RequiredBlobs =>
        (Config is null ? Layers : Layers.Prepend(Config)).Where(d => !MediaTypes.IsForeignLayer(d.MediaType));

    /// <summary>Manifests that must be present in the repository (index children).</summary>
    public IEnumerable<Descriptor> RequiredManifests => Manifests;

    /// <summary>The schema 1 manifest, for <see cref="MediaTypes.DockerSchema1"/> and
    /// <see cref="MediaTypes.DockerSchema1Signed"/>; null otherwise.</summary>
    public Schema1Manifest? Schema1 { get; init; }

    /// <summary>Every blob that must be in the repository, without duplicates: <see cref="RequiredBlobs"/>
    /// plus, for schema 1, every <c>blobSum</c> (whose sizes a schema 1 manifest does not record).</summary>
    public IEnumerable<Digest> RequiredBlobDigests =>
        RequiredBlobs.Select(d => d.Digest).Concat(Schema1?.BlobSums ?? []).Distinct();

    /// <summary>
    /// The digest that names this manifest: of the bytes as pushed, except for a signed schema 1 manifest,
    /// whose digest is that of its canonical payload (signatures removed; see <see cref="Schema1Manifest"/>).
    /// </summary>
    /// <param name="content">The manifest bytes as pushed.</param>
    /// <param name="algorithm"><see cref="Digest.Sha256"/> or <see cref="Digest.Sha512"/>.</param>
    public Digest ComputeDigest(ReadOnlySpan<byte> content, string algorithm = Digest.Sha256) =>
        Schema1 is { } schema1 ? schema1.ComputeDigest(algorithm) : Digest.Compute(algorithm, content);
}

/// <summary>
/// Parses and validates manifests (OCI image spec v1.1 "Image Manifest" and "Image Index"; Docker Image
/// Manifest V2 Schema 2 and manifest list; Docker Image Manifest V2 Schema 1, signed or unsigned, see
/// <see cref="Schema1Manifest"/>). Only the JSON shape and schema 1 signatures are checked here; whether the
/// referenced content exists is checked by the registry.
/// </summary>
public static class ManifestParser
{
    /// <summary>The largest manifest accepted, in bytes (4 MiB, as the OCI spec recommends).</summary>
    public const int MaxManifestBytes = 4 * 1024 * 1024;

    /// <summary>
    /// Parses a manifest.
    /// </summary>
    /// <param name="content">The manifest bytes exactly as pushed.</param>
    /// <param name="contentType">The request's Content-Type (may be null or a non-manifest type, in which case
    /// the <c>mediaType</c> field decides).</param>
    /// <param name="acceptSchema1">False to refuse Docker schema 1 manifests (MANIFEST_INVALID saying so).</param>
    /// <exception cref="RegistryException">MANIFEST_INVALID with a detail naming what is wrong; MANIFEST_UNVERIFIED
    /// for a schema 1 manifest whose signatures are malformed or do not verify.</exception>
    public static ParsedManifest Parse(ReadOnlyMemory<byte> content, string? contentType, bool acceptSchema1 = true)
    {
        if (!System.Text.Unicode.Utf8.IsValid(content.Span)) throw Invalid("manifest is not valid UTF-8");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(content, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException ex)
        {
            throw Invalid($"manifest is not valid JSON: {ex.Message}");
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Invalid("manifest must be a JSON object");

            var headerType = NormalizeContentType(contentType);
            string? fieldType = OptionalString(root, "mediaType");
            int schemaVersion = root.TryGetProperty("schemaVersion", out var sv) && sv.ValueKind == JsonValueKind.Number && sv.TryGetInt32(out var v) ? v : -1;

            bool headerSchema1 = headerType is MediaTypes.DockerSchema1 or MediaTypes.DockerSchema1Signed;
            if (schemaVersion == 1 || headerSchema1 || fieldType is MediaTypes.DockerSchema1 or MediaTypes.DockerSchema1Signed)
            {
                if (!acceptSchema1)
                {
                    throw new RegistryException(ErrorCode.ManifestInvalid,
                        "Docker schema 1 manifests are disabled on this registry; push with a client that speaks Docker schema 2 or OCI (e.g. Docker 1.10 or later)",
                        new { reason = "schema 1 pushes are disabled" });
                }
                if (schemaVersion != 1)
                    throw Invalid($"the manifest is declared Docker schema 1 ({headerType ?? fieldType}) but its schemaVersion is not 1");
                if (headerType is not null && MediaTypes.IsManifest(headerType) && !headerSchema1)
                    throw Invalid($"Content-Type '{headerType}' does not match the manifest, which is Docker schema 1");
                var schema1 = Schema1Manifest.Parse(content);
                if (headerType == MediaTypes.DockerSchema1Signed && !schema1.IsSigned)
                {
                    throw new RegistryException(ErrorCode.ManifestUnverified,
                        $"the manifest is sent as signed ({MediaTypes.DockerSchema1Signed}) but has no signatures; sign it, or send it as {MediaTypes.DockerSchema1}",
                        new { reason = "no signatures" });
                }
                return new ParsedManifest { MediaType = schema1.MediaType, Schema1 = schema1 };
            }
            if (schemaVersion != 2) throw Invalid("schemaVersion must be 2");

            string mediaType;
            if (fieldType is not null)
            {
                if (!MediaTypes.IsManifest(fieldType)) throw Invalid($"unsupported manifest mediaType '{fieldType}'");
                if (headerType is not null && MediaTypes.IsManifest(headerType) && headerType != fieldType)
                    throw Invalid($"Content-Type '{headerType}' does not match the manifest's mediaType '{fieldType}'");
                mediaType = fieldType;
            }
            else if (headerType is not null && MediaTypes.IsManifest(headerType))
            {
                mediaType = headerType;
            }
            else if (root.TryGetProperty("manifests", out _))
            {
                mediaType = MediaTypes.OciIndex;
            }
            else if (root.TryGetProperty("config", out _))
            {
                mediaType = MediaTypes.OciManifest;
            }
            else
            {
                throw Invalid("cannot tell the manifest's type: no mediaType field, no manifest Content-Type, neither 'config' nor 'manifests'");
            }

            if (mediaType is MediaTypes.DockerManifest or MediaTypes.DockerManifestList && fieldType is null)
                throw Invalid($"mediaType field is required for {mediaType}");

            var subject = root.TryGetProperty("subject", out var subj) && subj.ValueKind != JsonValueKind.Null ? ParseDescriptor(subj, "subject") : null;
            string? artifactType = OptionalString(root, "artifactType");
            var annotations = ParseAnnotations(root, "annotations");

            if (MediaTypes.IsIndex(mediaType))
            {
                if (root.TryGetProperty("config", out _) || root.TryGetProperty("layers", out _))
                    throw Invalid("an index must not have 'config' or 'layers'");
                var manifests = ParseDescriptorArray(root, "manifests", required: true);
                foreach (var m in manifests)
                {
                    if (mediaType == MediaTypes.DockerManifestList && !MediaTypes.IsManifest(m.MediaType))
                        throw Invalid($"manifest list entry {m.Digest} has media type '{m.MediaType}', which is not a manifest type");
                }
                return new ParsedManifest
                {
                    MediaType = mediaType,
                    Manifests = manifests,
                    Subject = subject,
                    ArtifactType = artifactType,
                    Annotations = annotations,
                };
            }

            if (root.TryGetProperty("manifests", out _)) throw Invalid("an image manifest must not have 'manifests'");
            if (!root.TryGetProperty("config", out var configElement)) throw Invalid("'config' is required");
            var config = ParseDescriptor(configElement, "config");
            var layers = ParseDescriptorArray(root, "layers", required: true);
            if (mediaType == MediaTypes.DockerManifest && config.MediaType != MediaTypes.DockerConfig)
            {
                // Docker accepts other config types (plugins, buildkit caches); only require a media type.
                if (string.IsNullOrEmpty(config.MediaType)) throw Invalid("config.mediaType is required");
            }
            if (config.MediaType == MediaTypes.OciEmpty && artifactType is null && mediaType == MediaTypes.OciManifest && layers.Count == 0)
            {
                // An artifact with empty config and no layers is allowed (e.g. pure annotations); nothing to check.
            }
            return new ParsedManifest
            {
                MediaType = mediaType,
                Config = config,
                Layers = layers,
                Subject = subject,
                ArtifactType = artifactType,
                Annotations = annotations,
            };
        }
    }

    /// <summary>Strips parameters (<c>; charset=…</c>) and whitespace from a Content-Type; null for empty.</summary>
    public static string? NormalizeContentType(string? contentType)
    {
        if (string.IsNullOrWhiteSpace(contentType)) return null;
        int semi = contentType.IndexOf(';');
        var type = (semi >= 0 ? contentType[..semi] : contentType).Trim();
        return type.Length == 0 ? null : type.ToLowerInvariant();
    }

    private static List<Descriptor> ParseDescriptorArray(JsonElement root, string property, bool required)
    {
        if (!root.TryGetProperty(property, out var array) || array.ValueKind == JsonValueKind.Null)
        {
            if (required) throw Invalid($"'{property}' is required");
            return [];
        }
        if (array.ValueKind != JsonValueKind.Array) throw Invalid($"'{property}' must be an array");
        var list = new List<Descriptor>(array.GetArrayLength());
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            list.Add(ParseDescriptor(item, $"{property}[{i++}]"));
        }
        return list;
    }

    /// <summary>Parses one descriptor object; <paramref name="where"/> names it in errors (e.g. <c>layers[2]</c>).</summary>
    /// <exception cref="RegistryException">MANIFEST_INVALID when a field is missing or malformed.</exception>
    public static Descriptor ParseDescriptor(JsonElement element, string where)
    {
        if (element.ValueKind != JsonValueKind.Object) throw Invalid($"{where} must be an object");
        var mediaType = OptionalString(element, "mediaType", where);
        if (string.IsNullOrEmpty(mediaType)) throw Invalid($"{where}.mediaType is required");
        var digestText = OptionalString(element, "digest", where);
        if (!Digest.TryParse(digestText, out var digest))
            throw new RegistryException(ErrorCode.ManifestInvalid, $"{where}.digest '{Digest.Truncate(digestText)}' is not a valid digest", new { field = where + ".digest" });
        if (!element.TryGetProperty("size", out var sizeElement) || sizeElement.ValueKind != JsonValueKind.Number || !sizeElement.TryGetInt64(out var size) || size < 0)
            throw Invalid($"{where}.size must be a non-negative integer");
        List<string>? urls = null;
        if (element.TryGetProperty("urls", out var urlsElement) && urlsElement.ValueKind == JsonValueKind.Array)
        {
            urls = [];
            foreach (var u in urlsElement.EnumerateArray())
            {
                if (u.ValueKind != JsonValueKind.String) throw Invalid($"{where}.urls must be strings");
                urls.Add(GetString(u, $"{where}.urls"));
            }
        }
        JsonElement? platform = element.TryGetProperty("platform", out var p) && p.ValueKind == JsonValueKind.Object ? p.Clone() : null;
        return new Descriptor(mediaType, digest, size)
        {
            ArtifactType = OptionalString(element, "artifactType", where),
            Annotations = ParseAnnotations(element, where + ".annotations"),
            Platform = platform,
            Urls = urls,
        };
    }

    private static Dictionary<string, string>? ParseAnnotations(JsonElement element, string where)
    {
        if (!element.TryGetProperty("annotations", out var a) || a.ValueKind == JsonValueKind.Null) return null;
        if (a.ValueKind != JsonValueKind.Object) throw Invalid($"{where} must be an object of strings");
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var prop in a.EnumerateObject())
        {
            string name;
            try { name = prop.Name; }
            catch (InvalidOperationException) { throw Invalid($"{where} has a key that is not a valid string"); }
            if (prop.Value.ValueKind != JsonValueKind.String) throw Invalid($"{where}['{name}'] must be a string");
            result[name] = GetString(prop.Value, $"{where}['{name}']");
        }
        return result;
    }

    private static string? OptionalString(JsonElement element, string property, string? where = null)
    {
        if (!element.TryGetProperty(property, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.String) throw Invalid($"{(where is null ? "" : where + ".")}{property} must be a string");
        return GetString(value, (where is null ? "" : where + ".") + property);
    }

    /// <summary>Reads a JSON string; a lone surrogate escape (<c>\ud800</c>) or invalid UTF-8 is MANIFEST_INVALID, not an <see cref="InvalidOperationException"/>.</summary>
    private static string GetString(JsonElement value, string what)
    {
        try { return value.GetString()!; }
        catch (InvalidOperationException) { throw Invalid($"{what} is not a valid string (invalid UTF-8 or a lone surrogate escape)"); }
    }

    private static RegistryException Invalid(string message) => new(ErrorCode.ManifestInvalid, message, new { reason = message });
}
