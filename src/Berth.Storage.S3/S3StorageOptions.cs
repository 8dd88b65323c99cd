namespace Berth.Storage.S3;

/// <summary>
/// Settings of the S3 storage driver (configuration section <c>Storage:S3</c>, e.g.
/// <c>BERTH_Storage__S3__Bucket=registry</c>). Works with AWS S3 and S3-compatible stores (MinIO, Ceph RGW, moto…)
/// through <see cref="Endpoint"/> and <see cref="ForcePathStyle"/>.
/// </summary>
public sealed class S3StorageOptions
{
    /// <summary>The smallest part S3 accepts in a multipart upload (all parts but the last), in bytes: 5 MiB.</summary>
    public const long MinPartSize = 5L * 1024 * 1024;

    /// <summary>The largest object a single PutObject or CopyObject (and a single UploadPartCopy range) handles: 5 GiB.</summary>
    public const long MaxSingleCopySize = 5L * 1024 * 1024 * 1024;

    /// <summary>The most parts one multipart upload may have.</summary>
    public const int MaxParts = 10_000;

    /// <summary>The bucket (required). It must exist; Berth never creates buckets.</summary>
    public string? Bucket { get; set; }

    /// <summary>The region, e.g. <c>eu-central-1</c>. Default: the SDK's default chain (AWS_REGION…), else <c>us-east-1</c>.</summary>
    public string? Region { get; set; }

    /// <summary>The endpoint URL of an S3-compatible store, e.g. <c>http://127.0.0.1:9000</c>; null for AWS.</summary>
    public string? Endpoint { get; set; }

    /// <summary>Path-style addressing (<c>endpoint/bucket/key</c>) instead of virtual-hosted style; most
    /// S3-compatible stores need it. Default false.</summary>
    public bool ForcePathStyle { get; set; }

    /// <summary>Access key id. With <see cref="SecretKey"/>; when both are empty the SDK's default credential chain is
    /// used (environment variables, shared profile, web identity, ECS/EC2 instance role).</summary>
    public string? AccessKey { get; set; }

    /// <summary>Secret access key (see <see cref="AccessKey"/>).</summary>
    public string? SecretKey { get; set; }

    /// <summary>Optional session token for temporary credentials given with <see cref="AccessKey"/>.</summary>
    public string? SessionToken { get; set; }

    /// <summary>A key prefix under which everything is stored, e.g. <c>berth</c> (no leading or trailing slash needed).</summary>
    public string? RootDirectory { get; set; }

    /// <summary>Answer blob GETs with a 307 redirect to a presigned URL, so clients download from the object
    /// store directly. Default false (Berth streams the bytes).</summary>
    public bool Redirect { get; set; }

    /// <summary>Server-side encryption of stored objects: empty (the bucket's default), <c>AES256</c> (SSE-S3) or
    /// <c>aws:kms</c> (SSE-KMS, with <see cref="KmsKeyId"/> or the account's default key).</summary>
    public string? ServerSideEncryption { get; set; }

    /// <summary>The KMS key id or ARN for <c>aws:kms</c>.</summary>
    public string? KmsKeyId { get; set; }

    /// <summary>Part size in bytes of streamed uploads (default 8 MiB, at least 5 MiB). Each open writer buffers up
    /// to three parts (two uploading, one filling). The part size grows with the part number, so one stream can reach hundreds of GiB within
    /// S3's 10,000-part limit.</summary>
    public long PartSize { get; set; } = 8L * 1024 * 1024;

    /// <summary>Checks the settings; returns the problems, each naming its key (empty when fine).</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(Bucket)) problems.Add("Storage:S3:Bucket is required when Storage:Type is S3");
        if (!string.IsNullOrEmpty(Endpoint) && !Uri.TryCreate(Endpoint, UriKind.Absolute, out _))
            problems.Add($"Storage:S3:Endpoint '{Endpoint}' is not an absolute URL (e.g. http://127.0.0.1:9000)");
        if (string.IsNullOrEmpty(AccessKey) != string.IsNullOrEmpty(SecretKey))
            problems.Add("Storage:S3:AccessKey and Storage:S3:SecretKey go together: set both, or neither to use the SDK's default credential chain");
        if (!string.IsNullOrEmpty(ServerSideEncryption) && ServerSideEncryption is not ("AES256" or "aws:kms"))
            problems.Add($"Storage:S3:ServerSideEncryption is '{ServerSideEncryption}'; allowed values: AES256, aws:kms (or empty)");
        if (PartSize < MinPartSize || PartSize > 512L * 1024 * 1024)
            problems.Add($"Storage:S3:PartSize is {PartSize}; allowed: {MinPartSize} (5 MiB) to {512L * 1024 * 1024} (512 MiB)");
        return problems;
    }
}
