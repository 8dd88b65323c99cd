using System.Buffers;
using Amazon.S3.Model;

namespace Berth.Storage.S3;

public sealed partial class S3StorageDriver
{
    /// <summary>
    /// Streams bytes into one object: the first part is buffered, and the object is put with one PutObject when the
    /// stream ends before a part is full; otherwise a multipart upload starts and full parts are uploaded (two at a
    /// time) while the next one fills (at most three part buffers per writer). Part sizes grow with the part number
    /// (<see cref="PartSizeFor"/>), so the 10,000-part limit is reached only past hundreds of GiB.
    /// </summary>
    internal sealed class ObjectUpload(S3StorageDriver driver, string path, string key)
    {
        /// <summary>Parts uploading at once while the next one fills (so at most three part buffers per writer).</summary>
        private const int MaxPartsInFlight = 2;

        private readonly List<PartETag> _parts = [];
        private byte[]? _buffer;
        private int _filled;
        private int _partNumber = 1;
        private string? _uploadId;
        private readonly Queue<Task> _pending = new();
        private long _written;

        public long Written => _written;

        public string Key => key;

        public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            while (data.Length > 0)
            {
                int capacity = (int)driver.PartSizeFor(_partNumber);
                _buffer ??= ArrayPool<byte>.Shared.Rent(capacity);
                int n = Math.Min(capacity - _filled, data.Length);
                data.Span[..n].CopyTo(_buffer.AsSpan(_filled));
                _filled += n;
                _written += n;
                data = data[n..];
                if (_filled == capacity) await FlushPartAsync(cancellationToken);
            }
        }

        private async Task FlushPartAsync(CancellationToken cancellationToken)
        {
            _uploadId ??= await driver.CreateMultipartUploadAsync(path, key, appendable: false, cancellationToken);
            while (_pending.Count >= MaxPartsInFlight) await _pending.Dequeue();
            var buffer = _buffer!;
            int count = _filled;
            int number = _partNumber++;
            _buffer = null;
            _filled = 0;
            _pending.Enqueue(UploadPartAsync(number, buffer, count, cancellationToken));
        }

        private async Task UploadPartAsync(int number, byte[] buffer, int count, CancellationToken cancellationToken)
        {
            try
            {
                var etag = await driver.UploadPartAsync(path, key, _uploadId!, number, buffer, count, cancellationToken);
                lock (_parts) _parts.Add(new PartETag(number, etag));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        /// <summary>Makes the object visible: one PutObject, or the last part and CompleteMultipartUpload.</summary>
        public async Task CompleteAsync(bool appendable, CancellationToken cancellationToken)
        {
            if (_uploadId is null)
            {
                try
                {
                    await driver.PutObjectAsync(path, key, _buffer ?? [], _filled, appendable, cancellationToken);
                }
                finally
                {
                    ReturnBuffer();
                }
                return;
            }
            if (_filled > 0) await FlushPartAsync(cancellationToken);
            while (_pending.Count > 0) await _pending.Dequeue();
            List<PartETag> parts;
            lock (_parts) parts = _parts.OrderBy(p => p.PartNumber).ToList();
            await driver.CompleteMultipartUploadAsync(path, key, _uploadId, parts, cancellationToken);
            _uploadId = null;
        }

        /// <summary>Completes a plain (non-appendable) object; on failure aborts the upload and rethrows.</summary>
        public async Task CompleteOrAbortAsync(CancellationToken cancellationToken)
        {
            try
            {
                await CompleteAsync(appendable: false, cancellationToken);
            }
            catch
            {
                await AbortAsync();
                throw;
            }
        }

        /// <summary>Drops everything written (aborts the multipart upload). Never throws.</summary>
        public async Task AbortAsync()
        {
            while (_pending.Count > 0)
            {
                try { await _pending.Dequeue(); } catch (Exception) { /* aborting anyway */ }
            }
            ReturnBuffer();
            if (_uploadId is { } id)
            {
                _uploadId = null;
                await driver.AbortMultipartUploadQuietlyAsync(key, id);
            }
        }

        private void ReturnBuffer()
        {
            if (_buffer is { } buffer)
            {
                _buffer = null;
                _filled = 0;
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>A replacing writer: the object appears at commit; an uncommitted writer leaves nothing behind.</summary>
    private sealed class ReplaceWriter(S3StorageDriver driver, string path, string key) : IStorageWriter
    {
        private readonly ObjectUpload _upload = new(driver, path, key);
        private bool _done;

        public long Size => _upload.Written;

        public ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(_done, this);
            return _upload.WriteAsync(buffer, cancellationToken);
        }

        public async Task CommitAsync(CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(_done, this);
            _done = true;
            // A plain object: chunks left by an earlier appendable file at this path are ignored from now on
            // (and deleted when the file next becomes appendable).
            await _upload.CompleteOrAbortAsync(cancellationToken);
        }

        public async Task CancelAsync(CancellationToken cancellationToken)
        {
            _done = true;
            await _upload.AbortAsync();
        }

        public async ValueTask DisposeAsync()
        {
            if (_done) return;
            _done = true;
            await _upload.AbortAsync();
        }
    }

    /// <summary>An appending writer: its bytes become one chunk object <c>&lt;key&gt;.chunks/&lt;offset&gt;</c>, completed on
    /// commit and also on dispose (what was received is kept for a later append, as resumable uploads need).</summary>
    private sealed class AppendWriter(S3StorageDriver driver, string path, string chunksPrefix, long baseSize) : IStorageWriter
    {
        private readonly ObjectUpload _upload = new(driver, path, chunksPrefix + baseSize.ToString("D20", System.Globalization.CultureInfo.InvariantCulture));
        private bool _done;

        public long Size => baseSize + _upload.Written;

        public ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(_done, this);
            return _upload.WriteAsync(buffer, cancellationToken);
        }

        public Task CommitAsync(CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(_done, this);
            return FinishAsync(cancellationToken);
        }

        private async Task FinishAsync(CancellationToken cancellationToken)
        {
            _done = true;
            if (_upload.Written == 0)
            {
                await _upload.AbortAsync();
                return;
            }
            await _upload.CompleteOrAbortAsync(cancellationToken);
        }

        public async Task CancelAsync(CancellationToken cancellationToken)
        {
            _done = true;
            await _upload.AbortAsync();
            await driver.DeleteAsync(path, cancellationToken);
        }

        public async ValueTask DisposeAsync()
        {
            if (_done) return;
            // Keep what arrived, even when the request was cut short (the client resumes from the stored size).
            await FinishAsync(CancellationToken.None);
        }
    }

    // ---- raw multipart operations ----

    internal async Task<string> CreateMultipartUploadAsync(string path, string key, bool appendable, CancellationToken cancellationToken)
    {
        try
        {
            var request = new InitiateMultipartUploadRequest { BucketName = _bucket, Key = key, ContentType = "application/octet-stream" };
            if (EncryptionMethod is { } method) request.ServerSideEncryptionMethod = method;
            if (KmsKeyId is { } kms) request.ServerSideEncryptionKeyManagementServiceKeyId = kms;
            if (appendable) request.Metadata.Add(AppendMetadataKey, "1");
            var response = await _s3.InitiateMultipartUploadAsync(request, cancellationToken);
            return response.UploadId;
        }
        catch (Exception ex) when (IsBackendFailure(ex, cancellationToken))
        {
            throw Fail("CreateMultipartUpload", path, ex);
        }
    }

    internal async Task<string> UploadPartAsync(string path, string key, string uploadId, int number, byte[] buffer, int count, CancellationToken cancellationToken)
    {
        try
        {
            var response = await _s3.UploadPartAsync(new UploadPartRequest
            {
                BucketName = _bucket,
                Key = key,
                UploadId = uploadId,
                PartNumber = number,
                PartSize = count,
                InputStream = new MemoryStream(buffer, 0, count, writable: false),
            }, cancellationToken);
            return response.ETag;
        }
        catch (Exception ex) when (IsBackendFailure(ex, cancellationToken))
        {
            throw Fail("UploadPart", path, ex);
        }
    }

    internal async Task CompleteMultipartUploadAsync(string path, string key, string uploadId, List<PartETag> parts, CancellationToken cancellationToken)
    {
        try
        {
            await _s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = _bucket,
                Key = key,
                UploadId = uploadId,
                PartETags = parts,
            }, cancellationToken);
        }
        catch (Exception ex) when (IsBackendFailure(ex, cancellationToken))
        {
            throw Fail("CompleteMultipartUpload", path, ex);
        }
    }

    internal async Task AbortMultipartUploadQuietlyAsync(string key, string uploadId)
    {
        try
        {
            await _s3.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = _bucket, Key = key, UploadId = uploadId });
        }
        catch (Exception ex) when (IsBackendFailure(ex, CancellationToken.None))
        {
            // the bucket's lifecycle rule (AbortIncompleteMultipartUpload) collects what is left
        }
    }

    internal async Task DeleteChunksAsync(string path, CancellationToken cancellationToken)
    {
        var chunks = await ListChunksAsync(path, cancellationToken);
        if (chunks.Count > 0) await DeleteKeysAsync(path, chunks.Select(c => c.Key).ToList(), cancellationToken);
    }
}
