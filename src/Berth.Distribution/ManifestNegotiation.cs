namespace Berth.Distribution;

/// <summary>What a manifest GET or HEAD answers.</summary>
public enum ManifestDelivery
{
    /// <summary>The manifest as pushed: same bytes, media type and digest.</summary>
    AsStored,

    /// <summary>A schema 1 manifest converted from the stored Docker schema 2 image manifest.</summary>
    ConvertToSchema1,

    /// <summary>MANIFEST_UNKNOWN: the client reads only schema 1 and this manifest cannot be given to it.</summary>
    ClientTooOld,
}

/// <summary>
/// Content negotiation for manifest GET/HEAD (Docker Registry HTTP API v2, "Pulling an image manifest";
/// Docker Image Manifest V2 Schema 2, "Backward compatibility"). A client "knows only schema 1" when its
/// <c>Accept</c> names none of the schema 2 and OCI types: Docker before 1.10 sends no <c>Accept</c>, or only
/// <c>*/*</c>, or only the schema 1 types.
/// <list type="table">
/// <listheader><term>stored</term><description>answer to such a client</description></listheader>
/// <item><term>schema 1</term><description>as stored</description></item>
/// <item><term>Docker schema 2 image, by tag</term><description>converted to schema 1</description></item>
/// <item><term>Docker schema 2 image, by digest</term><description>as stored (a conversion cannot have the
/// requested digest); too old when the client named only schema 1 types</description></item>
/// <item><term>OCI manifest or index, Docker manifest list</term><description>too old when the client named
/// only schema 1 types; otherwise (no <c>Accept</c>, <c>*/*</c>: curl and scripts) as stored</description></item>
/// </list>
/// Every other client gets the manifest as stored; Berth never refuses a type a client did not list.
/// </summary>
public static class ManifestNegotiation
{
    /// <summary>Decides the answer.</summary>
    /// <param name="accept">The request's <c>Accept</c> header values (each may be a comma-separated list with
    /// <c>;q=</c> parameters; q-values are ignored).</param>
    /// <param name="storedMediaType">The stored manifest's media type.</param>
    /// <param name="byTag">True when the reference is a tag.</param>
    public static ManifestDelivery Choose(IEnumerable<string?> accept, string storedMediaType, bool byTag)
    {
        if (storedMediaType is MediaTypes.DockerSchema1 or MediaTypes.DockerSchema1Signed) return ManifestDelivery.AsStored;
        bool modern = false, schema1 = false;
        foreach (var type in AcceptedTypes(accept))
        {
            if (type is MediaTypes.DockerManifest or MediaTypes.DockerManifestList or MediaTypes.OciManifest or MediaTypes.OciIndex) modern = true;
            else if (type is MediaTypes.DockerSchema1 or MediaTypes.DockerSchema1Signed) schema1 = true;
        }
        if (modern) return ManifestDelivery.AsStored;
        if (storedMediaType == MediaTypes.DockerManifest && byTag) return ManifestDelivery.ConvertToSchema1;
        return schema1 ? ManifestDelivery.ClientTooOld : ManifestDelivery.AsStored;
    }

    /// <summary>The media types listed in <c>Accept</c> header values, lowercased, without parameters.</summary>
    public static IEnumerable<string> AcceptedTypes(IEnumerable<string?> accept)
    {
        ArgumentNullException.ThrowIfNull(accept);
        foreach (var value in accept)
        {
            if (string.IsNullOrEmpty(value)) continue;
            foreach (var item in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                int semicolon = item.IndexOf(';');
                var type = (semicolon >= 0 ? item[..semicolon] : item).Trim();
                if (type.Length > 0) yield return type.ToLowerInvariant();
            }
        }
    }

    /// <summary>The MANIFEST_UNKNOWN answer for <see cref="ManifestDelivery.ClientTooOld"/>.</summary>
    public static RegistryException TooOld(string storedMediaType, string reference)
    {
        var why = storedMediaType == MediaTypes.DockerManifest
            ? "it is a Docker schema 2 manifest, and a schema 1 conversion (served when pulling by tag) cannot have this digest"
            : $"it is a {Describe(storedMediaType)}, which has no schema 1 form";
        return new RegistryException(ErrorCode.ManifestUnknown,
            $"manifest {reference} cannot be served to this client, which is too old for this image: it accepts only Docker schema 1 manifests and {why}; use Docker 1.10 or later, or another client that accepts schema 2 or OCI manifests",
            new { reference, mediaType = storedMediaType, accepts = "schema 1 only" });
    }

    private static string Describe(string mediaType) => mediaType switch
    {
        MediaTypes.OciManifest => "OCI image manifest",
        MediaTypes.OciIndex => "OCI image index (multi-platform image)",
        MediaTypes.DockerManifestList => "Docker manifest list (multi-platform image)",
        _ => mediaType,
    };
}
