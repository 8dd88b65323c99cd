using System.Text.Json.Serialization;

namespace Berth.Distribution;

/// <summary>
/// A content descriptor (OCI image spec, "Content Descriptors"): what a manifest says about a blob or a
/// child manifest. <see cref="Size"/> is in bytes.
/// </summary>
/// <param name="MediaType">The referenced content's media type.</param>
/// <param name="Digest">The referenced content's digest.</param>
/// <param name="Size">The referenced content's size in bytes.</param>
public sealed record Descriptor(string MediaType, Digest Digest, long Size)
{
    /// <summary>The artifact type, for artifact manifests and referrers.</summary>
    public string? ArtifactType { get; init; }

    /// <summary>Annotations, when present.</summary>
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }

    /// <summary>The platform of an index entry, as raw JSON (serialised unchanged).</summary>
    public System.Text.Json.JsonElement? Platform { get; init; }

    /// <summary>URLs for foreign / non-distributable layers.</summary>
    public IReadOnlyList<string>? Urls { get; init; }
}
