using Berth.Distribution;

namespace Berth.Storage;

/// <summary>
/// The storage layout, built in this one place. Blob bytes are stored once per digest, shared by every
/// repository (which repository may serve which blob is metadata, not storage):
/// <code>
/// blobs/&lt;algorithm&gt;/&lt;first two hex chars&gt;/&lt;encoded&gt;/data   committed blob bytes
/// uploads/&lt;session id, 32 hex&gt;/data                          bytes of an upload session so far
/// </code>
/// </summary>
public static class StorageLayout
{
    /// <summary>Root of all blobs.</summary>
    public const string BlobsRoot = "blobs";

    /// <summary>Root of all upload sessions.</summary>
    public const string UploadsRoot = "uploads";

    /// <summary>The path of a committed blob's bytes.</summary>
    public static string BlobData(Digest digest)
    {
        if (digest.IsEmpty) throw new ArgumentException("empty digest", nameof(digest));
        var encoded = digest.Encoded;
        return $"{BlobsRoot}/{digest.Algorithm}/{encoded[..2]}/{encoded}/data";
    }

    /// <summary>The directory of an upload session.</summary>
    public static string UploadDirectory(Guid sessionId) => $"{UploadsRoot}/{sessionId:N}";

    /// <summary>The bytes of an upload session so far.</summary>
    public static string UploadData(Guid sessionId) => $"{UploadDirectory(sessionId)}/data";
}
