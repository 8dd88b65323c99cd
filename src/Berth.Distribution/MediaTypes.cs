namespace Berth.Distribution;

/// <summary>
/// Media types of the OCI image spec v1.1 and the Docker Image Manifest V2 (schema 2 and schema 1) formats.
/// </summary>
public static class MediaTypes
{
    /// <summary>OCI image manifest.</summary>
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    /// <summary>OCI image index.</summary>
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";
    /// <summary>OCI image config.</summary>
    public const string OciConfig = "application/vnd.oci.image.config.v1+json";
    /// <summary>The OCI empty descriptor's media type (artifacts without config).</summary>
    public const string OciEmpty = "application/vnd.oci.empty.v1+json";
    /// <summary>OCI non-distributable layer (deprecated; may carry <c>urls</c>).</summary>
    public const string OciNondistributableLayerPrefix = "application/vnd.oci.image.layer.nondistributable.";
    /// <summary>Docker schema 2 image manifest.</summary>
    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
    /// <summary>Docker manifest list (the Docker name of an index).</summary>
    public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
    /// <summary>Docker schema 1 manifest, signed (JWS).</summary>
    public const string DockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";
    /// <summary>Docker schema 1 manifest, unsigned.</summary>
    public const string DockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
    /// <summary>Docker image config.</summary>
    public const string DockerConfig = "application/vnd.docker.container.image.v1+json";
    /// <summary>Docker foreign layer (may be skipped by registries; carries <c>urls</c>).</summary>
    public const string DockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

    /// <summary>True for the media types of image manifests (not indexes).</summary>
    public static bool IsImageManifest(string? mediaType) => mediaType is OciManifest or DockerManifest;

    /// <summary>True for the media types of indexes / manifest lists.</summary>
    public static bool IsIndex(string? mediaType) => mediaType is OciIndex or DockerManifestList;

    /// <summary>True for every manifest media type Berth stores (schema 2, OCI, and schema 1).</summary>
    public static bool IsManifest(string? mediaType) => IsImageManifest(mediaType) || IsIndex(mediaType) || mediaType is DockerSchema1 or DockerSchema1Signed;

    /// <summary>True for layers a registry need not hold because clients fetch them from their <c>urls</c>.</summary>
    public static bool IsForeignLayer(string? mediaType) =>
        mediaType is not null && (mediaType == DockerForeignLayer || mediaType.StartsWith(OciNondistributableLayerPrefix, StringComparison.Ordinal));
}
