using System.Text.Json;

namespace Berth.Distribution;

/// <summary>
/// A Docker schema 1 manifest (Docker "Image Manifest Version 2, Schema 1"), signed
/// (<c>application/vnd.docker.distribution.manifest.v1+prettyjws</c>) or unsigned
/// (<c>application/vnd.docker.distribution.manifest.v1+json</c>), parsed, validated and — when signed —
/// verified.
/// <para>
/// The digest rule: a schema 1 manifest is named by the digest of its <see cref="Payload"/>. For an
/// unsigned manifest that is the whole document; for a signed one it is the canonical payload, the document
/// with its signature block removed, rebuilt from the signatures' <c>formatLength</c> and
/// <c>formatTail</c> (see <see cref="Schema1Jws"/>) — what Docker clients, CNCF Distribution and skopeo
/// compute, so that re-signing a manifest never changes its digest.
/// </para>
/// </summary>
public sealed class Schema1Manifest
{
    private Schema1Manifest(string name, string tag, string architecture, IReadOnlyList<Digest> blobSums,
        IReadOnlyList<string> history, byte[] payload, IReadOnlyList<Schema1Signature> signatures)
    {
        Name = name;
        Tag = tag;
        Architecture = architecture;
        BlobSums = blobSums;
        History = history;
        Payload = payload;
        Signatures = signatures;
    }

    /// <summary>The repository name written in the manifest (<c>name</c>).</summary>
    public string Name { get; }

    /// <summary>The tag written in the manifest (<c>tag</c>); may be empty.</summary>
    public string Tag { get; }

    /// <summary>The image's architecture (<c>architecture</c>), e.g. <c>amd64</c>.</summary>
    public string Architecture { get; }

    /// <summary>The layers' blob digests (<c>fsLayers[].blobSum</c>), newest layer first, as in the manifest;
    /// may repeat (empty layers share one blob).</summary>
    public IReadOnlyList<Digest> BlobSums { get; }

    /// <summary>The <c>history[].v1Compatibility</c> strings, one per entry of <see cref="BlobSums"/>.</summary>
    public IReadOnlyList<string> History { get; }

    /// <summary>The bytes the manifest's digest is computed over (see the class remarks).</summary>
    public ReadOnlyMemory<byte> Payload { get; }

    /// <summary>The verified signatures; empty for an unsigned manifest.</summary>
    public IReadOnlyList<Schema1Signature> Signatures { get; }

    /// <summary>True when the manifest carries signatures.</summary>
    public bool IsSigned => Signatures.Count > 0;

    /// <summary>The media type it is served with: <see cref="MediaTypes.DockerSchema1Signed"/> when signed,
    /// else <see cref="MediaTypes.DockerSchema1"/>.</summary>
    public string MediaType => IsSigned ? MediaTypes.DockerSchema1Signed : MediaTypes.DockerSchema1;

    /// <summary>The digest of <see cref="Payload"/> with the given algorithm (the manifest's digest).</summary>
    public Digest ComputeDigest(string algorithm = Digest.Sha256) => Digest.Compute(algorithm, Payload.Span);

    /// <summary>
    /// Parses a schema 1 manifest: when it has a <c>signatures</c> member, rebuilds the canonical payload and
    /// verifies every signature; then validates the payload: <c>schemaVersion</c> 1, <c>name</c> a valid
    /// repository name, <c>tag</c> empty or a valid tag, <c>architecture</c> a non-empty string,
    /// <c>fsLayers</c> and <c>history</c> of the same length (at least one), each <c>blobSum</c> a digest and
    /// each <c>v1Compatibility</c> a JSON object with a 64-hex-digit <c>id</c>. In a signed manifest the
    /// signature block must be the only thing the document adds to the payload (no member may differ between
    /// what the signature covers and what other parsers of the whole document would read).
    /// </summary>
    /// <param name="content">The manifest bytes as pushed.</param>
    /// <exception cref="RegistryException">MANIFEST_INVALID for a malformed manifest; MANIFEST_UNVERIFIED for a
    /// malformed or failing signature.</exception>
    public static Schema1Manifest Parse(ReadOnlyMemory<byte> content)
    {
        if (!System.Text.Unicode.Utf8.IsValid(content.Span)) throw Invalid("manifest is not valid UTF-8");
        using var document = ParseJson(content, "manifest");
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw Invalid("manifest must be a JSON object");

        byte[] payload;
        IReadOnlyList<Schema1Signature> signatures = [];
        JsonDocument? payloadDocument = null;
        try
        {
            if (root.TryGetProperty(Schema1Jws.SignaturesMember, out var signatureBlock))
            {
                (payload, signatures) = Schema1Jws.Verify(content.Span, signatureBlock);
                if (!System.Text.Unicode.Utf8.IsValid(payload)) throw Invalid("the signed payload (formatLength/formatTail) is not valid UTF-8");
                payloadDocument = ParseJson(payload, "the signed payload (formatLength/formatTail)");
                CheckPayloadMatchesDocument(root, payloadDocument.RootElement);
            }
            else
            {
                payload = content.ToArray();
            }
            return FromPayload(payloadDocument?.RootElement ?? root, payload, signatures);
        }
        finally
        {
            payloadDocument?.Dispose();
        }
    }

    /// <summary>
    /// Checks that the manifest belongs where it is pushed: <see cref="Name"/> must be the URL's repository,
    /// and when pushing by tag, <see cref="Tag"/> must be the URL's tag.
    /// </summary>
    /// <param name="repository">The URL's repository.</param>
    /// <param name="tag">The URL's tag, or null when pushing by digest.</param>
    /// <exception cref="RegistryException">MANIFEST_INVALID for another name; TAG_INVALID for another tag.</exception>
    public void CheckTarget(RepositoryName repository, Tag? tag)
    {
        if (!string.Equals(Name, repository.Value, StringComparison.Ordinal))
            throw new RegistryException(ErrorCode.ManifestInvalid,
                $"the schema 1 manifest is for repository '{Digest.Truncate(Name)}' but was pushed to '{repository}'",
                new { manifestName = Name, repository = repository.Value });
        if (tag is { } t && !string.Equals(Tag, t.Value, StringComparison.Ordinal))
            throw new RegistryException(ErrorCode.TagInvalid,
                $"the schema 1 manifest is for tag '{Digest.Truncate(Tag)}' but was pushed as tag '{t}'",
                new { manifestTag = Tag, tag = t.Value });
    }

    private static Schema1Manifest FromPayload(JsonElement root, byte[] payload, IReadOnlyList<Schema1Signature> signatures)
    {
        if (root.ValueKind != JsonValueKind.Object) throw Invalid("manifest must be a JSON object");
        if (!root.TryGetProperty("schemaVersion", out var version) || version.ValueKind != JsonValueKind.Number || !version.TryGetInt32(out var v) || v != 1)
            throw Invalid("schemaVersion must be 1");
        if (root.TryGetProperty("mediaType", out var mediaType) && mediaType.ValueKind != JsonValueKind.Null
            && !(mediaType.ValueKind == JsonValueKind.String && mediaType.GetString() is MediaTypes.DockerSchema1 or MediaTypes.DockerSchema1Signed))
            throw Invalid($"mediaType '{Digest.Truncate(mediaType.ToString())}' is not a schema 1 media type");

        var name = RequiredString(root, "name");
        if (!RepositoryName.TryParse(name, out _, out var reason)) throw Invalid($"name '{Digest.Truncate(name)}' is not a valid repository name: {reason}");
        var tag = RequiredString(root, "tag");
        if (tag.Length > 0 && !Berth.Distribution.Tag.TryParse(tag, out _)) throw Invalid($"tag '{Digest.Truncate(tag)}' is not a valid tag");
        var architecture = RequiredString(root, "architecture");
        if (architecture.Length == 0) throw Invalid("architecture must not be empty");

        var fsLayers = RequiredArray(root, "fsLayers");
        var history = RequiredArray(root, "history");
        if (fsLayers.GetArrayLength() == 0) throw Invalid("fsLayers must list at least one layer");
        if (fsLayers.GetArrayLength() != history.GetArrayLength())
            throw Invalid($"fsLayers has {fsLayers.GetArrayLength()} entries but history has {history.GetArrayLength()}; they must match one to one");

        var blobSums = new List<Digest>(fsLayers.GetArrayLength());
        int i = 0;
        foreach (var layer in fsLayers.EnumerateArray())
        {
            if (layer.ValueKind != JsonValueKind.Object) throw Invalid($"fsLayers[{i}] must be an object");
            var text = RequiredString(layer, "blobSum", $"fsLayers[{i}].");
            if (!Digest.TryParse(text, out var digest)) throw Invalid($"fsLayers[{i}].blobSum '{Digest.Truncate(text)}' is not a valid digest");
            blobSums.Add(digest);
            i++;
        }

        var compat = new List<string>(history.GetArrayLength());
        i = 0;
        foreach (var entry in history.EnumerateArray())
        {
            if (entry.ValueKind != JsonValueKind.Object) throw Invalid($"history[{i}] must be an object");
            var text = RequiredString(entry, "v1Compatibility", $"history[{i}].");
            try
            {
                using var image = JsonDocument.Parse(text);
                if (image.RootElement.ValueKind != JsonValueKind.Object) throw Invalid($"history[{i}].v1Compatibility must hold a JSON object");
                var id = image.RootElement.TryGetProperty("id", out var idElement) && idElement.ValueKind == JsonValueKind.String ? idElement.GetString() : null;
                if (id is null || id.Length != 64 || !id.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f'))
                    throw Invalid($"history[{i}].v1Compatibility must have an 'id' of 64 lowercase hex digits");
            }
            catch (JsonException ex)
            {
                throw Invalid($"history[{i}].v1Compatibility is not valid JSON: {ex.Message}");
            }
            compat.Add(text);
            i++;
        }
        return new Schema1Manifest(name, tag, architecture, blobSums, compat, payload, signatures);
    }

    /// <summary>
    /// The whole document must be the payload plus the signature block: same members with the same values,
    /// no duplicates, so that what a signature covers is what every reader of the document sees.
    /// </summary>
    private static void CheckPayloadMatchesDocument(JsonElement document, JsonElement payload)
    {
        if (payload.ValueKind != JsonValueKind.Object) throw Invalid("the signed payload (formatLength/formatTail) is not a JSON object");
        var documentMembers = Members(document, "manifest");
        var payloadMembers = Members(payload, "signed payload");
        if (payloadMembers.ContainsKey(Schema1Jws.SignaturesMember))
            throw Invalid("the signed payload itself contains 'signatures'");
        documentMembers.Remove(Schema1Jws.SignaturesMember);
        if (documentMembers.Count != payloadMembers.Count
            || documentMembers.Any(m => !payloadMembers.TryGetValue(m.Key, out var signed) || !JsonElement.DeepEquals(signed, m.Value)))
            throw new RegistryException(ErrorCode.ManifestUnverified,
                "the manifest's content differs from what its signatures cover: the signature block must be the only addition to the signed payload",
                new { reason = "content outside the signed payload" });
    }

    private static Dictionary<string, JsonElement> Members(JsonElement element, string what)
    {
        var members = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var property in element.EnumerateObject())
        {
            string name;
            try { name = property.Name; }
            catch (InvalidOperationException) { throw Invalid($"the {what} has a member name that is not a valid string"); }
            if (!members.TryAdd(name, property.Value)) throw Invalid($"the {what} has the member '{Digest.Truncate(name)}' twice");
        }
        return members;
    }

    private static JsonDocument ParseJson(ReadOnlyMemory<byte> content, string what)
    {
        try
        {
            return JsonDocument.Parse(content, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException ex)
        {
            throw Invalid($"{what} is not valid JSON: {ex.Message}");
        }
    }

    private static string RequiredString(JsonElement element, string property, string prefix = "")
    {
        if (!element.TryGetProperty(property, out var value) || value.ValueKind != JsonValueKind.String)
            throw Invalid($"{prefix}{property} is required and must be a string");
        try { return value.GetString()!; }
        catch (InvalidOperationException) { throw Invalid($"{prefix}{property} is not a valid string"); }
    }

    private static JsonElement RequiredArray(JsonElement element, string property)
    {
        if (!element.TryGetProperty(property, out var value) || value.ValueKind != JsonValueKind.Array)
            throw Invalid($"{property} is required and must be an array");
        return value;
    }

    private static RegistryException Invalid(string message) =>
        new(ErrorCode.ManifestInvalid, "schema 1 manifest: " + message, new { reason = message });
}
