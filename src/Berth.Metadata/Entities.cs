namespace Berth.Metadata;

/// <summary>A repository (the spec's <c>&lt;name&gt;</c>). Created on its first upload or push.</summary>
public sealed class RepositoryEntity
{
    /// <summary>Surrogate key.</summary>
    public long Id { get; set; }
    /// <summary>The repository name, unique.</summary>
    public required string Name { get; set; }
    /// <summary>When it was created (UTC).</summary>
    public DateTime CreatedAt { get; set; }
}

/// <summary>A stored blob: bytes that exist once in storage, whatever the number of repositories using them.</summary>
public sealed class BlobEntity
{
    /// <summary>The blob's digest (<c>algorithm:hex</c>), primary key.</summary>
    public required string Digest { get; set; }
    /// <summary>Size in bytes.</summary>
    public long Size { get; set; }
    /// <summary>When the bytes were first stored (UTC).</summary>
    public DateTime CreatedAt { get; set; }
}

/// <summary>A repository's link to a blob: the repository may serve that blob. Created by a push or a mount.</summary>
public sealed class RepositoryBlobEntity
{
    /// <summary>The repository.</summary>
    public long RepositoryId { get; set; }
    /// <summary>The blob's digest.</summary>
    public required string Digest { get; set; }
    /// <summary>When the link was made (UTC).</summary>
    public DateTime CreatedAt { get; set; }
}

/// <summary>A manifest in a repository, its bytes exactly as pushed.</summary>
public sealed class ManifestEntity
{
    /// <summary>Surrogate key.</summary>
    public long Id { get; set; }
    /// <summary>The repository.</summary>
    public long RepositoryId { get; set; }
    /// <summary>Digest of <see cref="Content"/>.</summary>
    public required string Digest { get; set; }
    /// <summary>The media type it is served with.</summary>
    public required string MediaType { get; set; }
    /// <summary>Artifact type for the referrers API (artifactType, else config media type).</summary>
    public string? ArtifactType { get; set; }
    /// <summary>Digest of the <c>subject</c> manifest, for referrers.</summary>
    public string? SubjectDigest { get; set; }
    /// <summary>Size of <see cref="Content"/> in bytes.</summary>
    public long Size { get; set; }
    /// <summary>The manifest bytes as pushed (at most 4 MiB).</summary>
    public required byte[] Content { get; set; }
    /// <summary>The manifest's annotations as a JSON object, for referrers; null when none.</summary>
    public string? AnnotationsJson { get; set; }
    /// <summary>When it was pushed (UTC).</summary>
    public DateTime CreatedAt { get; set; }
}

/// <summary>Something a manifest references: a blob (config, layer) or a child manifest (index entry).</summary>
public sealed class ManifestReferenceEntity
{
    /// <summary>The referencing manifest.</summary>
    public long ManifestId { get; set; }
    /// <summary>The referenced digest.</summary>
    public required string Digest { get; set; }
    /// <summary>True when the reference is a child manifest, false for a blob.</summary>
    public bool IsManifest { get; set; }
}

/// <summary>A tag: a mutable name in a repository pointing at one manifest.</summary>
public sealed class TagEntity
{
    /// <summary>The repository.</summary>
    public long RepositoryId { get; set; }
    /// <summary>The tag.</summary>
    public required string Name { get; set; }
    /// <summary>The manifest it points at.</summary>
    public long ManifestId { get; set; }
    /// <summary>When it last moved (UTC).</summary>
    public DateTime UpdatedAt { get; set; }
}

/// <summary>An upload session (<c>/v2/&lt;name&gt;/blobs/uploads/&lt;id&gt;</c>); its bytes live in storage.</summary>
public sealed class UploadSessionEntity
{
    /// <summary>The session id.</summary>
    public Guid Id { get; set; }
    /// <summary>The repository it uploads into.</summary>
    public long RepositoryId { get; set; }
    /// <summary>When it started (UTC).</summary>
    public DateTime StartedAt { get; set; }
}
