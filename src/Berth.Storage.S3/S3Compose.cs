using System.Buffers;
using Amazon.S3;
using Amazon.S3.Model;

namespace Berth.Storage.S3;

public sealed partial class S3StorageDriver
{
    private const int ComposeParallelism = 4;

    /// <summary>One part of a composed object: a server-side copy of one range (at least 5 MiB unless last, at most
    /// 5 GiB), or small pieces downloaded and uploaded together.</summary>
    internal sealed record PlannedPart(bool IsCopy, List<Segment> Pieces)
    {
        public long Length => Pieces.Sum(p => p.Length);
    }

    /// <summary>
    /// Plans the parts of an object made of <paramref name="segments"/>: ranges of at least 5 MiB are copied
    /// server-side in pieces of at most 5 GiB; shorter runs are gathered (across segment boundaries) into
    /// downloaded parts of exactly 5 MiB, except the last part, which may be shorter.
    /// </summary>
    internal static List<PlannedPart> PlanParts(IReadOnlyList<Segment> segments, long minPart = S3StorageOptions.MinPartSize, long maxCopy = S3StorageOptions.MaxSingleCopySize)
    {
        var parts = new List<PlannedPart>();
        var pending = new List<Segment>();
        long pendingLength = 0;
        foreach (var segment in segments)
        {
            long position = segment.Start;
            long end = segment.Start + segment.Length;
            while (position < end)
            {
                long remaining = end - position;
                if (pendingLength > 0)
                {
                    long take = Math.Min(remaining, minPart - pendingLength);
                    pending.Add(segment with { Start = position, Length = take });
                    pendingLength += take;
                    position += take;
                    if (pendingLength >= minPart)
                    {
                        parts.Add(new PlannedPart(false, pending));
                        pending = [];
                        pendingLength = 0;
                    }
                }
                else if (remaining >= minPart)
                {
                    long take = Math.Min(remaining, maxCopy);
                    parts.Add(new PlannedPart(true, [segment with { Start = position, Length = take }]));
                    position += take;
                }
                else
                {
                    pending.Add(segment with { Start = position, Length = remaining });
                    pendingLength += remaining;
                    position = end;
                }
            }
        }
        if (pendingLength > 0) parts.Add(new PlannedPart(false, pending));
        return parts;
    }

    /// <summary>Writes the concatenation of <paramref name="segments"/> (<paramref name="total"/> bytes) to
    /// <paramref name="destinationKey"/>, server-side where S3 allows it.</summary>
    internal async Task CopySegmentsAsync(string path, IReadOnlyList<Segment> segments, string destinationKey, long total, bool appendable, CancellationToken cancellationToken)
    {
        if (total == 0)
        {
            await PutObjectAsync(path, destinationKey, [], 0, appendable, cancellationToken);
            return;
        }
        if (segments.Count == 1 && segments[0].IsWholeObject && total <= S3StorageOptions.MaxSingleCopySize)
        {
            await CopyObjectAsync(path, segments[0].Key, destinationKey, appendable, cancellationToken);
            return;
        }
        if (total < S3StorageOptions.MinPartSize)
        {
            var buffer = ArrayPool<byte>.Shared.Rent((int)total);
            try
            {
                int filled = await ReadPiecesAsync(path, segments, buffer, cancellationToken);
                await PutObjectAsync(path, destinationKey, buffer, filled, appendable, cancellationToken);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
            return;
        }
        var plan = PlanParts(segments);
        if (plan.Count > S3StorageOptions.MaxParts)
        {
            // Too many parts for one multipart upload: compose each half into a temporary object, then the two halves.
            int half = segments.Count / 2;
            var stage = destinationKey + ChunksSuffix + "/compose-" + Guid.NewGuid().ToString("N");
            var first = segments.Take(half).ToList();
            var second = segments.Skip(half).ToList();
            long firstLength = first.Sum(s => s.Length), secondLength = second.Sum(s => s.Length);
            await CopySegmentsAsync(path, first, stage + "-a", firstLength, false, cancellationToken);
            await CopySegmentsAsync(path, second, stage + "-b", secondLength, false, cancellationToken);
            await CopySegmentsAsync(path, [new Segment(stage + "-a", 0, firstLength, firstLength), new Segment(stage + "-b", 0, secondLength, secondLength)],
                destinationKey, total, appendable, cancellationToken);
            await DeleteKeysAsync(path, [stage + "-a", stage + "-b"], cancellationToken);
            return;
        }

        var uploadId = await CreateMultipartUploadAsync(path, destinationKey, appendable, cancellationToken);
        try
        {
            var etags = new PartETag[plan.Count];
            using var gate = new SemaphoreSlim(ComposeParallelism);
            var tasks = plan.Select(async (part, index) =>
            {
                await gate.WaitAsync(cancellationToken);
                try
                {
                    int number = index + 1;
                    string etag = part.IsCopy
                        ? await CopyPartAsync(path, part.Pieces[0], destinationKey, uploadId, number, cancellationToken)
                        : await UploadGatheredPartAsync(path, part, destinationKey, uploadId, number, cancellationToken);
                    etags[index] = new PartETag(number, etag);
                }
                finally
                {
                    gate.Release();
                }
            }).ToList();
            await Task.WhenAll(tasks);
            await CompleteMultipartUploadAsync(path, destinationKey, uploadId, etags.ToList(), cancellationToken);
        }
        catch
        {
            await AbortMultipartUploadQuietlyAsync(destinationKey, uploadId);
            throw;
        }
    }

    private async Task<string> UploadGatheredPartAsync(string path, PlannedPart part, string destinationKey, string uploadId, int number, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent((int)part.Length);
        try
        {
            int filled = await ReadPiecesAsync(path, part.Pieces, buffer, cancellationToken);
            return await UploadPartAsync(path, destinationKey, uploadId, number, buffer, filled, cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task<int> ReadPiecesAsync(string path, IReadOnlyList<Segment> pieces, byte[] buffer, CancellationToken cancellationToken)
    {
        int filled = 0;
        foreach (var piece in pieces)
        {
            await using var stream = await OpenRangeAsync(path, piece.Key, piece.Start, piece.Length, cancellationToken);
            await stream.ReadExactlyAsync(buffer.AsMemory(filled, (int)piece.Length), cancellationToken);
            filled += (int)piece.Length;
        }
        return filled;
    }

    private async Task<string> CopyPartAsync(string path, Segment source, string destinationKey, string uploadId, int number, CancellationToken cancellationToken)
    {
        try
        {
            var response = await _s3.CopyPartAsync(new CopyPartRequest
            {
                SourceBucket = _bucket,
                SourceKey = source.Key,
                DestinationBucket = _bucket,
                DestinationKey = destinationKey,
                UploadId = uploadId,
                PartNumber = number,
                FirstByte = source.Start,
                LastByte = source.Start + source.Length - 1,
            }, cancellationToken);
            return response.ETag;
        }
        catch (Exception ex) when (IsBackendFailure(ex, cancellationToken))
        {
            throw Fail("UploadPartCopy", path, ex);
        }
    }

    internal async Task CopyObjectAsync(string path, string sourceKey, string destinationKey, bool appendable, CancellationToken cancellationToken)
    {
        try
        {
            var request = new CopyObjectRequest
            {
                SourceBucket = _bucket,
                SourceKey = sourceKey,
                DestinationBucket = _bucket,
                DestinationKey = destinationKey,
                MetadataDirective = S3MetadataDirective.REPLACE,
                ContentType = "application/octet-stream",
            };
            if (EncryptionMethod is { } method) request.ServerSideEncryptionMethod = method;
            if (KmsKeyId is { } kms) request.ServerSideEncryptionKeyManagementServiceKeyId = kms;
            if (appendable) request.Metadata.Add(AppendMetadataKey, "1");
            await _s3.CopyObjectAsync(request, cancellationToken);
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            throw new StoragePathNotFoundException(path);
        }
        catch (Exception ex) when (IsBackendFailure(ex, cancellationToken))
        {
            throw Fail("CopyObject", path, ex);
        }
    }
}
