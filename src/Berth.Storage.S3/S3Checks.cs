using System.Text;
using Amazon.S3.Model;

namespace Berth.Storage.S3;

public sealed partial class S3StorageDriver
{
    /// <summary>
    /// Tries each S3 operation Berth uses on scratch keys under <c>&lt;prefix&gt;_doctor/</c>: PutObject, HeadObject,
    /// GetObject, ListObjectsV2 (short: PutObject, HeadObject, DeleteObject); full adds CreateMultipartUpload,
    /// UploadPart, CompleteMultipartUpload, AbortMultipartUpload, ListMultipartUploads, CopyObject, UploadPartCopy
    /// and a presigned GET fetched over HTTP. A refused operation reports S3's error and the permission to grant.
    /// </summary>
    public async Task<IReadOnlyList<StorageCheckResult>> RunChecksAsync(StorageCheckDepth depth, CancellationToken cancellationToken)
    {
        var results = new List<StorageCheckResult>();
        var id = Guid.NewGuid().ToString("N");
        var path = "_doctor/" + id;
        var key = Key(path);
        var keys = new List<string> { key };
        var payload = Encoding.UTF8.GetBytes("berth storage check " + id + "\n");

        async Task<bool> Try(string operation, Func<Task> action, bool warning = false, string? note = null)
        {
            try
            {
                await action();
                results.Add(new StorageCheckResult(operation, true, note));
                return true;
            }
            catch (Exception ex) when (ex is StorageBackendException or InvalidOperationException || IsBackendFailure(ex, cancellationToken))
            {
                var backend = ex as StorageBackendException ?? Fail(operation, path, ex);
                var message = backend.InnerException?.Message ?? backend.Message;
                results.Add(new StorageCheckResult(operation, false, message, backend.Grant, warning));
                return false;
            }
        }
        void Skip(string operation, string because) => results.Add(new StorageCheckResult(operation, false, "not tried: " + because, null, Warning: true));

        bool put = await Try("PutObject", () => PutObjectAsync(path, key, payload, payload.Length, false, cancellationToken));
        if (put)
        {
            await Try("HeadObject", async () =>
            {
                var state = await GetFileStateAsync(path, cancellationToken) ?? throw new InvalidOperationException("HeadObject found nothing just after PutObject");
                if (state.Size != payload.Length) throw new InvalidOperationException($"HeadObject reported {state.Size} bytes instead of {payload.Length}");
            });
        }
        else
        {
            Skip("HeadObject", "PutObject failed");
        }
        if (depth == StorageCheckDepth.Full)
        {
            if (put)
            {
                await Try("GetObject", async () =>
                {
                    await using var stream = await OpenRangeAsync(path, key, 0, payload.Length, cancellationToken);
                    var read = new byte[payload.Length];
                    await stream.ReadExactlyAsync(read, cancellationToken);
                    if (!read.AsSpan().SequenceEqual(payload)) throw new InvalidOperationException("GetObject returned different bytes");
                });
            }
            else
            {
                Skip("GetObject", "PutObject failed");
            }
            await Try("ListObjectsV2", async () =>
            {
                var found = new List<string>();
                await foreach (var entry in ListAsync("_doctor", cancellationToken)) found.Add(entry);
                if (put && !found.Contains(path)) throw new InvalidOperationException($"ListObjectsV2 did not list {key}");
            });

            // Multipart: create, one part, complete; then create and abort.
            var multipartKey = key + "-multipart";
            keys.Add(multipartKey);
            string? uploadId = null;
            if (await Try("CreateMultipartUpload", async () => uploadId = await CreateMultipartUploadAsync(path, multipartKey, false, cancellationToken)))
            {
                string? etag = null;
                if (await Try("UploadPart", async () => etag = await UploadPartAsync(path, multipartKey, uploadId!, 1, payload, payload.Length, cancellationToken)))
                {
                    await Try("CompleteMultipartUpload", () => CompleteMultipartUploadAsync(path, multipartKey, uploadId!, [new PartETag(1, etag)], cancellationToken));
                }
                else
                {
                    Skip("CompleteMultipartUpload", "UploadPart failed");
                    await AbortMultipartUploadQuietlyAsync(multipartKey, uploadId!);
                }
                await Try("AbortMultipartUpload", async () =>
                {
                    var abortId = await CreateMultipartUploadAsync(path, multipartKey + "-aborted", false, cancellationToken);
                    try
                    {
                        await _s3.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = _bucket, Key = multipartKey + "-aborted", UploadId = abortId }, cancellationToken);
                    }
                    catch (Exception ex) when (IsBackendFailure(ex, cancellationToken))
                    {
                        throw Fail("AbortMultipartUpload", path, ex);
                    }
                });
            }
            else
            {
                Skip("UploadPart", "CreateMultipartUpload failed");
                Skip("CompleteMultipartUpload", "CreateMultipartUpload failed");
                Skip("AbortMultipartUpload", "CreateMultipartUpload failed");
            }
            await Try("ListMultipartUploads", async () =>
            {
                try
                {
                    await _s3.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = _bucket, Prefix = Key("_doctor") }, cancellationToken);
                }
                catch (Exception ex) when (IsBackendFailure(ex, cancellationToken))
                {
                    throw Fail("ListMultipartUploads", path, ex);
                }
            }, warning: true, note: null);

            if (put)
            {
                var copyKey = key + "-copy";
                keys.Add(copyKey);
                await Try("CopyObject", () => CopyObjectAsync(path, key, copyKey, false, cancellationToken));
                var partCopyKey = key + "-partcopy";
                keys.Add(partCopyKey);
                await Try("UploadPartCopy", async () =>
                {
                    var partCopyId = await CreateMultipartUploadAsync(path, partCopyKey, false, cancellationToken);
                    try
                    {
                        var etag = await CopyPartAsync(path, new Segment(key, 0, payload.Length, payload.Length), partCopyKey, partCopyId, 1, cancellationToken);
                        await CompleteMultipartUploadAsync(path, partCopyKey, partCopyId, [new PartETag(1, etag)], cancellationToken);
                    }
                    catch
                    {
                        await AbortMultipartUploadQuietlyAsync(partCopyKey, partCopyId);
                        throw;
                    }
                });
                await Try("presigned GET", async () =>
                {
                    var url = await PresignAsync(path, TimeSpan.FromMinutes(5), cancellationToken);
                    using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
                    using var response = await http.GetAsync(url, cancellationToken);
                    if (!response.IsSuccessStatusCode)
                        throw new InvalidOperationException($"fetching the presigned URL answered {(int)response.StatusCode} {response.ReasonPhrase}");
                    var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
                    if (!body.AsSpan().SequenceEqual(payload)) throw new InvalidOperationException("the presigned URL returned different bytes");
                }, warning: !_options.Redirect, note: _options.Redirect ? null : "Storage:S3:Redirect is off; clients never get these URLs");
            }
            else
            {
                Skip("CopyObject", "PutObject failed");
                Skip("UploadPartCopy", "PutObject failed");
                Skip("presigned GET", "PutObject failed");
            }
        }
        await Try(keys.Count == 1 ? "DeleteObject" : "DeleteObjects", () => DeleteKeysAsync(path, keys, cancellationToken));
        return results;
    }

    /// <summary>The object store's clock: the Last-Modified S3 gives a scratch object written now.</summary>
    public async Task<DateTimeOffset?> GetServerTimeAsync(CancellationToken cancellationToken)
    {
        var path = "_doctor/clock-" + Guid.NewGuid().ToString("N");
        var key = Key(path);
        await PutObjectAsync(path, key, [], 0, false, cancellationToken);
        try
        {
            var state = await GetFileStateAsync(path, cancellationToken);
            return state?.ModifiedAt;
        }
        finally
        {
            await DeleteKeysAsync(path, [key], cancellationToken);
        }
    }
}
