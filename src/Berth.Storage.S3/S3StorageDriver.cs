using System.Net;
using System.Runtime.CompilerServices;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Berth.Storage.S3;

/// <summary>
/// Stores files as objects in an S3 bucket (AWS or S3-compatible), under an optional key prefix.
/// <para>
/// A file written by a replacing writer is one object, uploaded with one PutObject when small and as a
/// multipart upload (parts of <see cref="S3StorageOptions.PartSize"/> bytes and up) when large; it becomes
/// visible only when the upload completes. An appendable file (an upload session) is a base object marked with
/// the metadata <c>x-amz-meta-berth-append: 1</c> (the first append marks it with a CopyObject onto itself),
/// followed by chunk objects <c>&lt;key&gt;.chunks/&lt;offset, 20 digits&gt;</c>, one per append (one per PATCH of
/// a chunked blob upload); unmarked objects are read with one request and never listed. Chunks are ordinary objects, so any
/// replica can read them back (to rebuild the running digest of an upload it did not see) and continue the
/// upload; nothing lives in one process's memory. Moving an appendable file (finishing an upload) composes base
/// and chunks into the destination object server-side: CopyObject for a single source up to 5 GiB, otherwise a
/// multipart upload of UploadPartCopy ranges (at most 5 GiB each) with chunks smaller than 5 MiB downloaded and
/// merged into parts of at least 5 MiB; past 10,000 parts the sources are composed in stages. A 50 GiB blob
/// therefore takes 10 parts when it arrived in one piece.
/// </para>
/// Every backend failure is a <see cref="StorageBackendException"/> naming the S3 operation (e.g. HeadObject)
/// and, when S3 answered 403, the permission to grant.
/// </summary>
public sealed partial class S3StorageDriver : IStorageDriver, IStorageChecks, IDisposable
{
    internal const string AppendMetadataKey = "berth-append";
    internal const string ChunksSuffix = ".chunks";
    private const string BackendName = "s3";

    private readonly IAmazonS3 _s3;
    private readonly S3StorageOptions _options;
    private readonly string _bucket;
    private readonly string _prefix;
    private readonly bool _ownsClient;

    /// <summary>Creates a driver from options; the S3 client is built from them (endpoint, region, credentials).</summary>
    /// <exception cref="ArgumentException">The options are invalid (see <see cref="S3StorageOptions.Validate"/>).</exception>
    public S3StorageDriver(S3StorageOptions options) : this(options, CreateClient(options), ownsClient: true)
    {
    }

    /// <summary>Creates a driver over an existing client (tests).</summary>
    public S3StorageDriver(S3StorageOptions options, IAmazonS3 client, bool ownsClient = false)
    {
        var problems = options.Validate();
        if (problems.Count > 0) throw new ArgumentException(string.Join("; ", problems), nameof(options));
        _options = options;
        _s3 = client;
        _ownsClient = ownsClient;
        _bucket = options.Bucket!;
        var root = (options.RootDirectory ?? "").Trim('/');
        _prefix = root.Length == 0 ? "" : root + "/";
    }

    /// <inheritdoc/>
    public string Name => BackendName;

    /// <summary>The bucket.</summary>
    public string Bucket => _bucket;

    /// <summary>The key prefix (empty or ending with <c>/</c>).</summary>
    public string KeyPrefix => _prefix;

    /// <summary>Keys per ListObjectsV2 page (S3's maximum, 1000; smaller in tests to exercise paging).</summary>
    internal int ListPageSize { get; init; } = 1000;

    /// <summary>The underlying client.</summary>
    public IAmazonS3 Client => _s3;

    /// <summary>The ARN pattern of Berth's objects, e.g. <c>arn:aws:s3:::bucket/prefix/*</c>, for permission hints.</summary>
    public string ObjectsArn => $"arn:aws:s3:::{_bucket}/{_prefix}*";

    /// <summary>The ARN of the bucket, for permission hints of bucket-level operations (listing).</summary>
    public string BucketArn => $"arn:aws:s3:::{_bucket}";

    /// <summary>Builds an S3 client: <see cref="S3StorageOptions.Endpoint"/> and path style for S3-compatible stores,
    /// explicit keys or the SDK's default credential chain. Checksums are computed only where S3 requires them, which
    /// S3-compatible stores understand.</summary>
    public static AmazonS3Client CreateClient(S3StorageOptions options)
    {
        var config = new AmazonS3Config
        {
            ForcePathStyle = options.ForcePathStyle,
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            Timeout = TimeSpan.FromMinutes(5),
            MaxErrorRetry = 3,
        };
        if (!string.IsNullOrEmpty(options.Endpoint))
        {
            config.ServiceURL = options.Endpoint;
            config.AuthenticationRegion = string.IsNullOrEmpty(options.Region) ? "us-east-1" : options.Region;
        }
        else if (!string.IsNullOrEmpty(options.Region))
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(options.Region);
        }
        if (!string.IsNullOrEmpty(options.AccessKey))
        {
            AWSCredentials credentials = string.IsNullOrEmpty(options.SessionToken)
                ? new BasicAWSCredentials(options.AccessKey, options.SecretKey)
                : new SessionAWSCredentials(options.AccessKey, options.SecretKey, options.SessionToken);
            return new AmazonS3Client(credentials, config);
        }
        return new AmazonS3Client(config);
    }

    internal string Key(string path) => _prefix + StoragePath.Validate(path);

    private string ChunksPrefix(string path) => Key(path) + ChunksSuffix + "/";

    // ---- reading ----

    /// <inheritdoc/>
    public async Task<Stream> OpenReadAsync(string path, long offset, CancellationToken cancellationToken)
    {
        var key = Key(path);
        if (offset < 0) throw new ArgumentOutOfRangeException(nameof(offset), offset, "negative offset");
        GetObjectResponse response;
        try
        {
            var request = new GetObjectRequest { BucketName = _bucket, Key = key };
            if (offset > 0) request.ByteRange = new ByteRange($"bytes={offset}-");
            response = await _s3.GetObjectAsync(request, cancellationToken);
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            throw new StoragePathNotFoundException(path);
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            // Past the base object: the end of the file, or inside the chunks of an appendable file.
            var state = await GetFileStateAsync(path, cancellationToken) ?? throw new StoragePathNotFoundException(path);
            if (offset > state.Size) throw new ArgumentOutOfRangeException(nameof(offset), offset, $"offset outside file of {state.Size} bytes");
            if (offset == state.Size) return new MemoryStream([], writable: false);
            return new SegmentedReadStream(this, path, state.Segments(offset));
        }
        catch (Exception ex) when (IsBackendFailure(ex, cancellationToken))
        {
            throw Fail("GetObject", path, ex);
        }
        if (IsAppendable(response.Metadata))
        {
            response.Dispose();
            var state = await GetFileStateAsync(path, cancellationToken) ?? throw new StoragePathNotFoundException(path);
            if (offset > state.Size) throw new ArgumentOutOfRangeException(nameof(offset), offset, $"offset outside file of {state.Size} bytes");
            return new SegmentedReadStream(this, path, state.Segments(offset));
        }
        return new ResponseReadStream(response, path, this);
    }

    /// <inheritdoc/>
    public async Task<StorageStat?> StatAsync(string path, CancellationToken cancellationToken)
    {
        var state = await GetFileStateAsync(path, cancellationToken);
        if (state is not null) return new StorageStat(path, state.Size, state.ModifiedAt, false);
        // Not an object: a directory when something lies below it.
        var listing = await ListPageAsync(Key(path) + "/", null, delimiter: null, maxKeys: 1, path, cancellationToken);
        if (listing.Objects.Count > 0) return new StorageStat(path, 0, listing.Objects[0].ModifiedAt, true);
        return null;
    }

    /// <summary>HEAD of the base object, plus the chunk listing when it is appendable; null when there is no object.</summary>
    internal async Task<FileState?> GetFileStateAsync(string path, CancellationToken cancellationToken)
    {
        var key = Key(path);
        GetObjectMetadataResponse head;
        try
        {
            head = await _s3.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = _bucket, Key = key }, cancellationToken);
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        catch (Exception ex) when (IsBackendFailure(ex, cancellationToken))
        {
            throw Fail("HeadObject", path, ex);
        }
        var modified = head.LastModified is { } lm ? new DateTimeOffset(DateTime.SpecifyKind(lm.ToUniversalTime(), DateTimeKind.Utc)) : DateTimeOffset.UtcNow;
        long baseSize = head.ContentLength;
        if (!IsAppendable(head.Metadata)) return new FileState(key, baseSize, false, [], modified);
        var chunks = await ListChunksAsync(path, cancellationToken);
        long expected = baseSize;
        foreach (var chunk in chunks)
        {
            if (chunk.Offset != expected)
            {
                throw new StorageBackendException(BackendName, "read the chunk list of", path,
                    new InvalidDataException($"chunk {chunk.Key} starts at byte {chunk.Offset}, expected {expected}: the file was appended to concurrently"));
            }
            expected += chunk.Size;
            if (chunk.ModifiedAt > modified) modified = chunk.ModifiedAt;
        }
        return new FileState(key, baseSize, true, chunks, modified);
    }

    private async Task<List<Chunk>> ListChunksAsync(string path, CancellationToken cancellationToken)
    {
        var prefix = ChunksPrefix(path);
        var chunks = new List<Chunk>();
        string? token = null;
        do
        {
            var page = await ListPageAsync(prefix, token, delimiter: null, maxKeys: ListPageSize, path, cancellationToken);
            foreach (var o in page.Objects)
            {
                if (long.TryParse(o.Key.AsSpan(prefix.Length), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var offset))
                    chunks.Add(new Chunk(o.Key, offset, o.Size, o.ModifiedAt));
            }
            token = page.NextToken;
        } while (token is not null);
        chunks.Sort((a, b) => a.Offset.CompareTo(b.Offset));
        return chunks;
    }

    internal async Task<Stream> OpenRangeAsync(string path, string key, long start, long length, CancellationToken cancellationToken)
    {
        try
        {
            var response = await _s3.GetObjectAsync(new GetObjectRequest
            {
                BucketName = _bucket,
                Key = key,
                ByteRange = new ByteRange(start, start + length - 1),
            }, cancellationToken);
            return new ResponseReadStream(response, path, this);
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            throw new StoragePathNotFoundException(path);
        }
        catch (Exception ex) when (IsBackendFailure(ex, cancellationToken))
        {
            throw Fail("GetObject", path, ex);
        }
    }

    // ---- writing ----

    /// <inheritdoc/>
    public async Task<IStorageWriter> OpenWriterAsync(string path, bool append, CancellationToken cancellationToken)
    {
        var key = Key(path);
        if (!append) return new ReplaceWriter(this, path, key);
        var state = await GetFileStateAsync(path, cancellationToken) ?? throw new StoragePathNotFoundException(path);
        if (!state.Appendable)
        {
            // A plain object becomes the base of an appendable file: mark it (a copy onto itself with new metadata),
            // and drop chunks an earlier appendable file at this path may have left (they were ignored until now).
            var segments = state.Segments(0);
            await CopySegmentsAsync(path, segments, key, state.Size, appendable: true, cancellationToken);
            await DeleteChunksAsync(path, cancellationToken);
        }
        return new AppendWriter(this, path, ChunksPrefix(path), state.Size);
    }

    /// <summary>Puts a small object in one request.</summary>
    internal async Task PutObjectAsync(string path, string key, byte[] buffer, int count, bool appendable, CancellationToken cancellationToken)
    {
        try
        {
            var request = new PutObjectRequest
            {
                BucketName = _bucket,
                Key = key,
                InputStream = new MemoryStream(buffer, 0, count, writable: false),
                ContentType = "application/octet-stream",
            };
            request.Headers.ContentLength = count;
            ApplyEncryption(request);
            if (appendable) request.Metadata.Add(AppendMetadataKey, "1");
            await _s3.PutObjectAsync(request, cancellationToken);
        }
        catch (Exception ex) when (IsBackendFailure(ex, cancellationToken))
        {
            throw Fail("PutObject", path, ex);
        }
    }

    private void ApplyEncryption(PutObjectRequest request)
    {
        if (EncryptionMethod is { } method) request.ServerSideEncryptionMethod = method;
        if (!string.IsNullOrEmpty(_options.KmsKeyId)) request.ServerSideEncryptionKeyManagementServiceKeyId = _options.KmsKeyId;
    }

    internal ServerSideEncryptionMethod? EncryptionMethod => _options.ServerSideEncryption switch
    {
        "AES256" => ServerSideEncryptionMethod.AES256,
        "aws:kms" => ServerSideEncryptionMethod.AWSKMS,
        _ => null,
    };

    internal string? KmsKeyId => string.IsNullOrEmpty(_options.KmsKeyId) ? null : _options.KmsKeyId;

    internal long PartSizeFor(int partNumber) => _options.PartSize * (1 + (partNumber - 1) / 1000);

    // ---- move, delete, list ----

    /// <inheritdoc/>
    public async Task MoveAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken)
    {
        var destinationKey = Key(destinationPath);
        var state = await GetFileStateAsync(sourcePath, cancellationToken) ?? throw new StoragePathNotFoundException(sourcePath);
        if (state.Key == destinationKey) return;
        await CopySegmentsAsync(sourcePath, state.Segments(0), destinationKey, state.Size, appendable: false, cancellationToken);
        await DeleteFileAsync(sourcePath, state, cancellationToken);
    }

    private async Task DeleteFileAsync(string path, FileState state, CancellationToken cancellationToken)
    {
        var keys = state.Chunks.Select(c => c.Key).Append(state.Key).ToList();
        await DeleteKeysAsync(path, keys, cancellationToken);
    }

    /// <inheritdoc/>
    public async Task DeleteAsync(string path, CancellationToken cancellationToken)
    {
        var key = Key(path);
        var keys = new List<string> { key };
        foreach (var prefix in new[] { key + ChunksSuffix + "/", key + "/" })
        {
            string? token = null;
            do
            {
                var page = await ListPageAsync(prefix, token, delimiter: null, maxKeys: ListPageSize, path, cancellationToken);
                keys.AddRange(page.Objects.Select(o => o.Key));
                token = page.NextToken;
            } while (token is not null);
        }
        await DeleteKeysAsync(path, keys, cancellationToken);
        await AbortUploadsBelowAsync(key, cancellationToken);
    }

    private async Task DeleteKeysAsync(string path, List<string> keys, CancellationToken cancellationToken)
    {
        foreach (var batch in keys.Chunk(1000))
        {
            try
            {
                if (batch.Length == 1)
                {
                    await _s3.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _bucket, Key = batch[0] }, cancellationToken);
                    continue;
                }
                var response = await _s3.DeleteObjectsAsync(new DeleteObjectsRequest
                {
                    BucketName = _bucket,
                    Quiet = true,
                    Objects = batch.Select(k => new KeyVersion { Key = k }).ToList(),
                }, cancellationToken);
                if (response.DeleteErrors is { Count: > 0 } errors)
                {
                    var first = errors[0];
                    throw new StorageBackendException(BackendName, "DeleteObjects", path, new AmazonS3Exception($"{first.Code}: {first.Message} ({first.Key})"))
                    {
                        IsAccessDenied = first.Code == "AccessDenied",
                        Grant = first.Code == "AccessDenied" ? GrantFor("DeleteObjects") : null,
                    };
                }
            }
            catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
            {
            }
            catch (Exception ex) when (IsBackendFailure(ex, cancellationToken))
            {
                throw Fail(batch.Length == 1 ? "DeleteObject" : "DeleteObjects", path, ex);
            }
        }
    }

    /// <summary>Aborts unfinished multipart uploads of the key and below it (a writer whose process died mid-upload).
    /// Best effort: without s3:ListBucketMultipartUploads the bucket's lifecycle rule cleans them.</summary>
    private async Task AbortUploadsBelowAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            var response = await _s3.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = _bucket, Prefix = key }, cancellationToken);
            foreach (var upload in response.MultipartUploads ?? [])
            {
                if (upload.Key != key && !upload.Key.StartsWith(key + "/", StringComparison.Ordinal) && !upload.Key.StartsWith(key + ChunksSuffix + "/", StringComparison.Ordinal))
                    continue;
                await _s3.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = _bucket, Key = upload.Key, UploadId = upload.UploadId }, cancellationToken);
            }
        }
        catch (Exception ex) when (IsBackendFailure(ex, cancellationToken))
        {
            // best effort
        }
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<string> ListAsync(string path, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var prefix = Key(path) + "/";
        string? token = null;
        do
        {
            var page = await ListPageAsync(prefix, token, delimiter: "/", maxKeys: ListPageSize, path, cancellationToken);
            foreach (var directory in page.Directories)
            {
                var name = directory[prefix.Length..].TrimEnd('/');
                if (name.Length == 0 || name.EndsWith(ChunksSuffix, StringComparison.Ordinal)) continue;
                yield return path + "/" + name;
            }
            foreach (var o in page.Objects)
            {
                var name = o.Key[prefix.Length..];
                if (name.Length == 0) continue;
                yield return path + "/" + name;
            }
            token = page.NextToken;
        } while (token is not null);
    }

    internal sealed record ListedObject(string Key, long Size, DateTimeOffset ModifiedAt);

    private sealed record ListPage(List<ListedObject> Objects, List<string> Directories, string? NextToken);

    private async Task<ListPage> ListPageAsync(string prefix, string? token, string? delimiter, int maxKeys, string path, CancellationToken cancellationToken)
    {
        ListObjectsV2Response response;
        try
        {
            response = await _s3.ListObjectsV2Async(new ListObjectsV2Request
            {
                BucketName = _bucket,
                Prefix = prefix,
                Delimiter = delimiter,
                MaxKeys = maxKeys,
                ContinuationToken = token,
            }, cancellationToken);
        }
        catch (Exception ex) when (IsBackendFailure(ex, cancellationToken))
        {
            throw Fail("ListObjectsV2", path, ex);
        }
        var objects = (response.S3Objects ?? []).Select(o => new ListedObject(o.Key, o.Size ?? 0,
            o.LastModified is { } lm ? new DateTimeOffset(DateTime.SpecifyKind(lm.ToUniversalTime(), DateTimeKind.Utc)) : DateTimeOffset.UtcNow)).ToList();
        var directories = response.CommonPrefixes ?? [];
        var next = response.IsTruncated == true ? response.NextContinuationToken : null;
        return new ListPage(objects, directories, next);
    }

    /// <inheritdoc/>
    public async Task<Uri?> GetRedirectUrlAsync(string path, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        if (!_options.Redirect) return null;
        return await PresignAsync(path, lifetime, cancellationToken);
    }

    internal async Task<Uri> PresignAsync(string path, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        var key = Key(path);
        try
        {
            var request = new GetPreSignedUrlRequest
            {
                BucketName = _bucket,
                Key = key,
                Verb = HttpVerb.GET,
                Expires = DateTime.UtcNow + lifetime,
            };
            if (_options.Endpoint is { } endpoint && endpoint.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) request.Protocol = Protocol.HTTP;
            return new Uri(await _s3.GetPreSignedURLAsync(request));
        }
        catch (Exception ex) when (IsBackendFailure(ex, cancellationToken))
        {
            throw Fail("presign GetObject", path, ex);
        }
    }

    /// <inheritdoc/>
    public string? GetLocalFilePath(string path)
    {
        StoragePath.Validate(path);
        return null;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_ownsClient) _s3.Dispose();
    }

    // ---- errors ----

    internal static bool IsAppendable(MetadataCollection metadata) =>
        metadata["x-amz-meta-" + AppendMetadataKey] == "1";

    internal static bool IsBackendFailure(Exception ex, CancellationToken cancellationToken) =>
        ex is AmazonServiceException or AmazonClientException or HttpRequestException or IOException
        || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested);

    /// <summary>The permission an S3 operation needs, with its resource.</summary>
    internal string GrantFor(string operation) => operation switch
    {
        "HeadObject" or "GetObject" or "presign GetObject" => $"s3:GetObject on {ObjectsArn}",
        "PutObject" or "CreateMultipartUpload" or "UploadPart" or "CompleteMultipartUpload" => $"s3:PutObject on {ObjectsArn}",
        "CopyObject" or "UploadPartCopy" => $"s3:GetObject and s3:PutObject on {ObjectsArn}",
        "DeleteObject" or "DeleteObjects" => $"s3:DeleteObject on {ObjectsArn}",
        "AbortMultipartUpload" => $"s3:AbortMultipartUpload on {ObjectsArn}",
        "ListObjectsV2" => $"s3:ListBucket on {BucketArn}",
        "ListMultipartUploads" => $"s3:ListBucketMultipartUploads on {BucketArn}",
        _ => $"the S3 permission for {operation} on {ObjectsArn}",
    };

    internal StorageBackendException Fail(string operation, string path, Exception ex)
    {
        bool denied = ex is AmazonServiceException { StatusCode: HttpStatusCode.Forbidden };
        var inner = ex is AmazonServiceException service
            ? new AmazonS3Exception($"{(int)service.StatusCode} {service.ErrorCode ?? service.StatusCode.ToString()}: {(string.IsNullOrEmpty(service.Message) ? "(no message)" : service.Message)}", ex)
            : ex;
        return new StorageBackendException(BackendName, operation, path, inner)
        {
            IsAccessDenied = denied,
            Grant = denied ? GrantFor(operation) : null,
        };
    }

    // ---- state ----

    internal sealed record Chunk(string Key, long Offset, long Size, DateTimeOffset ModifiedAt);

    /// <summary>A source range for reads and composes: <paramref name="Length"/> bytes of the object <paramref name="Key"/>
    /// (of <paramref name="ObjectSize"/> bytes) from byte <paramref name="Start"/>.</summary>
    internal sealed record Segment(string Key, long Start, long Length, long ObjectSize)
    {
        public bool IsWholeObject => Start == 0 && Length == ObjectSize;
    }

    /// <summary>A file: its base object and, when appendable, its chunks (contiguous, in order).</summary>
    internal sealed record FileState(string Key, long BaseSize, bool Appendable, IReadOnlyList<Chunk> Chunks, DateTimeOffset ModifiedAt)
    {
        public long Size => BaseSize + Chunks.Sum(c => c.Size);

        /// <summary>The non-empty segments holding bytes from <paramref name="offset"/> to the end.</summary>
        public List<Segment> Segments(long offset)
        {
            var segments = new List<Segment>();
            long position = 0;
            void Add(string key, long size)
            {
                long end = position + size;
                if (size > 0 && end > offset)
                {
                    long start = Math.Max(0, offset - position);
                    segments.Add(new Segment(key, start, size - start, size));
                }
                position = end;
            }
            Add(Key, BaseSize);
            foreach (var chunk in Chunks) Add(chunk.Key, chunk.Size);
            return segments;
        }
    }
}
