using System.Security.Cryptography;
using Amazon.S3.Model;
using Berth.Storage.S3;
using Berth.Tests.Shared;
using Segment = Berth.Storage.S3.S3StorageDriver.Segment;

namespace Berth.Storage.Tests;

/// <summary>What only the S3 driver has: how it lays out appended bytes, plans composed objects within S3's limits
/// (5 MiB minimum part, 5 GiB per copied range, 10,000 parts), grows its part size, and reports refusals.</summary>
[Collection(MotoCollection.Name)]
public sealed class S3DriverSpecificTests(MotoFixture moto)
{
    private const long MiB = 1024 * 1024;
    private const long GiB = 1024 * MiB;
    private static CancellationToken Ct => CancellationToken.None;

    private static List<Segment> Objects(params long[] sizes) =>
        sizes.Select((s, i) => new Segment($"k{i}", 0, s, s)).ToList();

    [Fact]
    public void A_50_GiB_blob_received_in_one_piece_composes_in_ten_copied_parts()
    {
        var plan = S3StorageDriver.PlanParts(Objects(50 * GiB));
        Assert.Equal(10, plan.Count);
        Assert.All(plan, p => Assert.True(p.IsCopy && p.Length == 5 * GiB));
    }

    [Fact]
    public void Small_chunks_are_gathered_into_parts_of_at_least_5_MiB()
    {
        var plan = S3StorageDriver.PlanParts(Objects(Enumerable.Repeat(1 * MiB, 12).ToArray()));
        Assert.Equal([5 * MiB, 5 * MiB, 2 * MiB], plan.Select(p => p.Length));
        Assert.All(plan, p => Assert.False(p.IsCopy));
    }

    [Fact]
    public void A_small_chunk_borrows_from_the_next_large_one_which_is_then_copied_by_range()
    {
        var plan = S3StorageDriver.PlanParts(Objects(1 * MiB, 100 * MiB, 3));
        Assert.Equal(3, plan.Count);
        Assert.False(plan[0].IsCopy);
        Assert.Equal(5 * MiB, plan[0].Length);
        Assert.Equal(new Segment("k1", 0, 4 * MiB, 100 * MiB), plan[0].Pieces[1]);
        Assert.True(plan[1].IsCopy);
        Assert.Equal(new Segment("k1", 4 * MiB, 96 * MiB, 100 * MiB), plan[1].Pieces[0]);
        Assert.Equal(3, plan[2].Length);
    }

    [Fact]
    public void Every_part_but_the_last_obeys_the_limits_and_the_bytes_are_covered_once()
    {
        var random = new Random(5);
        var sizes = Enumerable.Range(0, 400).Select(_ => (long)random.Next(1, 12_000_000)).Append(7 * GiB).Append(3).ToArray();
        var plan = S3StorageDriver.PlanParts(Objects(sizes));
        Assert.Equal(sizes.Sum(), plan.Sum(p => p.Length));
        foreach (var part in plan.SkipLast(1))
        {
            Assert.InRange(part.Length, S3StorageOptions.MinPartSize, S3StorageOptions.MaxSingleCopySize);
        }
        var pieces = plan.SelectMany(p => p.Pieces).ToList();
        long position = 0;
        foreach (var group in pieces.GroupBy(p => p.Key))
        {
            long covered = group.Sum(p => p.Length);
            Assert.Equal(group.First().ObjectSize, covered);
            position += covered;
        }
        Assert.Equal(sizes.Sum(), position);
    }

    [Fact]
    public void Part_sizes_grow_so_one_stream_can_exceed_50_GiB_within_10000_parts()
    {
        using var driver = moto.CreateDriver();
        Assert.Equal(5 * MiB, driver.PartSizeFor(1));
        Assert.Equal(5 * MiB, driver.PartSizeFor(1000));
        Assert.Equal(10 * MiB, driver.PartSizeFor(1001));
        long capacity = Enumerable.Range(1, S3StorageOptions.MaxParts).Sum(n => driver.PartSizeFor(n));
        Assert.True(capacity > 50 * GiB, $"{capacity / GiB} GiB");
        Assert.True(driver.PartSizeFor(S3StorageOptions.MaxParts) <= 64 * MiB);
    }

    [Fact]
    public async Task Appends_are_chunk_objects_any_replica_can_read_and_the_base_is_marked()
    {
        using var driver = moto.CreateDriver();
        using var other = moto.CreateDriver(prefix: driver.KeyPrefix.TrimEnd('/'));
        await using (var w = await driver.OpenWriterAsync("uploads/u/data", false, Ct)) await w.CommitAsync(Ct);
        var first = RandomNumberGenerator.GetBytes(6 * (int)MiB);
        await using (var w = await driver.OpenWriterAsync("uploads/u/data", true, Ct)) await w.WriteAsync(first, Ct);
        var second = RandomNumberGenerator.GetBytes(1000);
        await using (var w = await other.OpenWriterAsync("uploads/u/data", true, Ct))
        {
            Assert.Equal(first.Length, w.Size);
            await w.WriteAsync(second, Ct);
        }
        var keys = new List<string>();
        var listing = await moto.Server.CreateClient().ListObjectsV2Async(new ListObjectsV2Request { BucketName = MotoFixture.Bucket, Prefix = driver.KeyPrefix });
        keys.AddRange(listing.S3Objects.Select(o => o.Key[driver.KeyPrefix.Length..]));
        Assert.Equal(["uploads/u/data", "uploads/u/data.chunks/00000000000000000000", $"uploads/u/data.chunks/{first.Length:D20}"], keys.Order(StringComparer.Ordinal));
        await using var stream = await driver.OpenReadAsync("uploads/u/data", first.Length - 10, Ct);
        using var read = new MemoryStream();
        await stream.CopyToAsync(read);
        Assert.Equal(first[^10..].Concat(second).ToArray(), read.ToArray());
    }

    [Fact]
    public async Task An_access_denied_names_the_operation_and_the_permission_to_grant()
    {
        await using var server = await MotoServer.StartAsync(initialNoAuthActions: 4);
        var (accessKey, secretKey) = await server.CreateRestrictedUserAsync("denied", """
            {"Version":"2012-10-17","Statement":[
              {"Effect":"Allow","Action":"s3:*","Resource":"*"},
              {"Effect":"Deny","Action":"s3:GetObject","Resource":"*"}]}
            """);
        using var driver = new S3StorageDriver(new S3StorageOptions
        {
            Bucket = "denied", Endpoint = server.Endpoint, ForcePathStyle = true, AccessKey = accessKey, SecretKey = secretKey, RootDirectory = "registry",
        });
        await using (var w = await driver.OpenWriterAsync("blobs/x", false, Ct))
        {
            await w.WriteAsync(new byte[] { 1, 2, 3 }, Ct);
            await w.CommitAsync(Ct);
        }
        var ex = await Assert.ThrowsAsync<StorageBackendException>(() => driver.StatAsync("blobs/x", Ct));
        Assert.Equal("HeadObject", ex.Operation);
        Assert.True(ex.IsAccessDenied);
        Assert.Equal("s3:GetObject on arn:aws:s3:::denied/registry/*", ex.Grant);
        Assert.Contains("403", ex.Message);

        var checks = await driver.RunChecksAsync(StorageCheckDepth.Full, Ct);
        // moto (5.2) miscomputes SigV4 for query strings holding '/' once IAM is enforced (boto3 gets the same
        // SignatureDoesNotMatch on ListObjectsV2 with Prefix=a/b/): not a permission problem, left out here.
        var failed = checks.Where(c => !c.Ok && !c.Warning && c.Error?.Contains("SignatureDoesNotMatch") != true).Select(c => c.Operation).ToList();
        Assert.True(failed.SequenceEqual(["HeadObject", "GetObject"]), string.Join("\n", checks));
        Assert.Contains(checks, c => c.Operation == "PutObject" && c.Ok);
        Assert.Contains(checks, c => c.Operation == "CompleteMultipartUpload" && c.Ok);
    }

    [Fact]
    public void Bad_options_name_their_key()
    {
        var problems = new S3StorageOptions { Endpoint = "not a url", AccessKey = "only-half", ServerSideEncryption = "rot13", PartSize = 1 }.Validate();
        Assert.Contains(problems, p => p.Contains("Storage:S3:Bucket"));
        Assert.Contains(problems, p => p.Contains("Storage:S3:Endpoint"));
        Assert.Contains(problems, p => p.Contains("Storage:S3:SecretKey"));
        Assert.Contains(problems, p => p.Contains("Storage:S3:ServerSideEncryption"));
        Assert.Contains(problems, p => p.Contains("Storage:S3:PartSize"));
    }
}
