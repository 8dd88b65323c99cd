namespace Berth.Distribution;

/// <summary>
/// One entry of the error-code registry: the code a client sees in <c>{"errors":[{"code":…}]}</c>, its
/// generic message, and the HTTP status it is answered with (OCI Distribution Spec v1.1, "Error Codes";
/// statuses as CNCF Distribution answers them).
/// </summary>
/// <param name="Code">The spec's code, e.g. <c>BLOB_UNKNOWN</c>.</param>
/// <param name="Message">Generic, human-readable message.</param>
/// <param name="Status">The HTTP status code.</param>
public sealed record ErrorCode(string Code, string Message, int Status)
{
    /// <summary>Blob unknown to registry (404).</summary>
    public static readonly ErrorCode BlobUnknown = new("BLOB_UNKNOWN", "blob unknown to registry", 404);
    /// <summary>Blob upload invalid (400).</summary>
    public static readonly ErrorCode BlobUploadInvalid = new("BLOB_UPLOAD_INVALID", "blob upload invalid", 400);
    /// <summary>Blob upload unknown to registry (404).</summary>
    public static readonly ErrorCode BlobUploadUnknown = new("BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", 404);
    /// <summary>Provided digest did not match uploaded content (400).</summary>
    public static readonly ErrorCode DigestInvalid = new("DIGEST_INVALID", "provided digest did not match uploaded content", 400);
    /// <summary>Manifest references a blob or manifest unknown to the repository (400).</summary>
    public static readonly ErrorCode ManifestBlobUnknown = new("MANIFEST_BLOB_UNKNOWN", "manifest references a manifest or blob unknown to registry", 400);
    /// <summary>Manifest invalid (400).</summary>
    public static readonly ErrorCode ManifestInvalid = new("MANIFEST_INVALID", "manifest invalid", 400);
    /// <summary>Manifest unknown to registry (404).</summary>
    public static readonly ErrorCode ManifestUnknown = new("MANIFEST_UNKNOWN", "manifest unknown to registry", 404);
    /// <summary>Manifest failed signature verification (400).</summary>
    public static readonly ErrorCode ManifestUnverified = new("MANIFEST_UNVERIFIED", "manifest failed signature verification", 400);
    /// <summary>Invalid repository name (400).</summary>
    public static readonly ErrorCode NameInvalid = new("NAME_INVALID", "invalid repository name", 400);
    /// <summary>Repository name not known to registry (404).</summary>
    public static readonly ErrorCode NameUnknown = new("NAME_UNKNOWN", "repository name not known to registry", 404);
    /// <summary>Provided length did not match content length (400).</summary>
    public static readonly ErrorCode SizeInvalid = new("SIZE_INVALID", "provided length did not match content length", 400);
    /// <summary>Manifest tag did not match URI / invalid tag (400).</summary>
    public static readonly ErrorCode TagInvalid = new("TAG_INVALID", "manifest tag did not match URI", 400);
    /// <summary>Authentication required (401).</summary>
    public static readonly ErrorCode Unauthorized = new("UNAUTHORIZED", "authentication required", 401);
    /// <summary>Requested access to the resource is denied (403).</summary>
    public static readonly ErrorCode Denied = new("DENIED", "requested access to the resource is denied", 403);
    /// <summary>The operation is unsupported (405; 404 for unknown routes).</summary>
    public static readonly ErrorCode Unsupported = new("UNSUPPORTED", "the operation is unsupported", 405);
    /// <summary>Too many requests (429).</summary>
    public static readonly ErrorCode TooManyRequests = new("TOOMANYREQUESTS", "too many requests", 429);
    /// <summary>Requested range not satisfiable / chunk out of order (416). Code as CNCF Distribution sends it.</summary>
    public static readonly ErrorCode RangeInvalid = new("RANGE_INVALID", "invalid content range", 416);
    /// <summary>Pagination parameter invalid (400).</summary>
    public static readonly ErrorCode PaginationNumberInvalid = new("PAGINATION_NUMBER_INVALID", "invalid number of results requested", 400);
    /// <summary>Unexpected server error (500).</summary>
    public static readonly ErrorCode Unknown = new("UNKNOWN", "unknown error", 500);
    /// <summary>The storage backend failed (503).</summary>
    public static readonly ErrorCode Unavailable = new("UNAVAILABLE", "service unavailable", 503);

    /// <summary>Every registered code, for documentation and tests.</summary>
    public static IReadOnlyList<ErrorCode> All { get; } =
    [
        BlobUnknown, BlobUploadInvalid, BlobUploadUnknown, DigestInvalid, ManifestBlobUnknown, ManifestInvalid,
        ManifestUnknown, ManifestUnverified, NameInvalid, NameUnknown, SizeInvalid, TagInvalid, Unauthorized,
        Denied, Unsupported, TooManyRequests, RangeInvalid, PaginationNumberInvalid, Unknown, Unavailable,
    ];
}

/// <summary>
/// A registry error raised anywhere below the <c>/v2</c> API and written once, by the API's error
/// handler, as the OCI error envelope. <see cref="Status"/> is the code's status unless overridden
/// (e.g. 413 for an oversized manifest).
/// </summary>
public sealed class RegistryException : Exception
{
    /// <summary>Creates an error with a specific message and optional detail object.</summary>
    public RegistryException(ErrorCode code, string? message = null, object? detail = null, int? status = null)
        : base(message ?? code.Message)
    {
        Code = code;
        Detail = detail;
        Status = status ?? code.Status;
    }

    /// <summary>The registered error code.</summary>
    public ErrorCode Code { get; }

    /// <summary>Structured detail, serialised as the error's <c>detail</c> member.</summary>
    public object? Detail { get; }

    /// <summary>The HTTP status to answer with.</summary>
    public int Status { get; }
}
