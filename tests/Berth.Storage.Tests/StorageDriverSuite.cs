using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using Berth.Distribution;

namespace Berth.Storage.Tests;

/// <summary>
/// The storage-driver suite every <see cref="IStorageDriver"/> passes (after CNCF Distribution's driver suite):
/// bad paths, offset reads, replacing and resumed (appended) writes, large streams, moves over existing files,
/// deletes of files and trees, listings, concurrent readers, redirects, the driver's own checks, and the blob store's
/// chunked uploads continued by a second blob store (another replica). A driver's test class gives a fresh, empty
/// driver per test in about ten lines.
/// </summary>
public abstract class StorageDriverSuite
{
    /// <summary>A fresh, empty driver for this test.</summary>
    protected abstract IStorageDriver Driver { get; }

    /// <summary>Whether <see cref="IStorageDriver.GetRedirectUrlAsync"/> gives URLs (then they must serve the bytes).</summary>
    protected virtual bool RedirectsEnabled => false;

    protected static CancellationToken Ct => CancellationToken.None;

    protected static byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        new Random(length).NextBytes(bytes);
        return bytes;
    }

    protected async Task WriteAsync(string path, byte[] content, int pieceSize = 64 * 1024)
    {
        await using var writer = await Driver.OpenWriterAsync(path, append: false, Ct);
        for (int i = 0; i < content.Length; i += pieceSize)
            await writer.WriteAsync(content.AsMemory(i, Math.Min(pieceSize, content.Length - i)), Ct);
        await writer.CommitAsync(Ct);
    }

    protected async Task AppendAsync(string path, byte[] content, bool commit = false)
    {
        await using var writer = await Driver.OpenWriterAsync(path, append: true, Ct);
        for (int i = 0; i < content.Length; i += 100_000)
            await writer.WriteAsync(content.AsMemory(i, Math.Min(100_000, content.Length - i)), Ct);
        if (commit) await writer.CommitAsync(Ct);
    }

    protected async Task<byte[]> ReadAsync(string path, long offset = 0)
    {
        await using var stream = await Driver.OpenReadAsync(path, offset, Ct);
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer, Ct);
        return buffer.ToArray();
    }

    protected async Task<List<string>> ListAsync(string path)
    {
        var entries = new List<string>();
        await foreach (var entry in Driver.ListAsync(path, Ct)) entries.Add(entry);
        entries.Sort(StringComparer.Ordinal);
        return entries;
    }

    // ---- paths ----

    [Theory]
    [InlineData("")]
    [InlineData("/absolute")]
    [InlineData("a//b")]
    [InlineData("a/../b")]
    [InlineData("../escape")]
    [InlineData("a/./b")]
    [InlineData("a\\b")]
    [InlineData("a/b\u0001")]
    [InlineData("trailing/")]
    public async Task Invalid_paths_are_refused_by_every_operation(string path)
    {
        await Assert.ThrowsAsync<InvalidStoragePathException>(() => Driver.OpenReadAsync(path, 0, Ct));
        await Assert.ThrowsAsync<InvalidStoragePathException>(() => Driver.StatAsync(path, Ct));
        await Assert.ThrowsAsync<InvalidStoragePathException>(() => Driver.OpenWriterAsync(path, false, Ct));
        await Assert.ThrowsAsync<InvalidStoragePathException>(() => Driver.DeleteAsync(path, Ct));
        await Assert.ThrowsAsync<InvalidStoragePathException>(() => Driver.MoveAsync("ok/file", path, Ct));
        await Assert.ThrowsAsync<InvalidStoragePathException>(async () => { await foreach (var _ in Driver.ListAsync(path, Ct)) { } });
    }

    // ---- reading ----

    [Fact]
    public async Task Written_bytes_read_back_unchanged()
    {
        var content = Encoding.UTF8.GetBytes("hello, storage");
        await WriteAsync("a/b/file", content);
        Assert.Equal(content, await ReadAsync("a/b/file"));
    }

    [Fact]
    public async Task An_empty_file_exists_with_size_zero()
    {
        await WriteAsync("empty", []);
        var stat = await Driver.StatAsync("empty", Ct);
        Assert.NotNull(stat);
        Assert.Equal(0, stat.Size);
        Assert.False(stat.IsDirectory);
        Assert.Empty(await ReadAsync("empty"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4095)]
    [InlineData(9999)]
    public async Task Reads_start_at_the_offset(int offset)
    {
        var content = RandomBytes(10_000);
        await WriteAsync("offsets", content);
        Assert.Equal(content[offset..], await ReadAsync("offsets", offset));
    }

    [Fact]
    public async Task Reading_at_the_end_gives_no_bytes()
    {
        await WriteAsync("end", RandomBytes(100));
        Assert.Empty(await ReadAsync("end", 100));
    }

    [Fact]
    public async Task Reading_past_the_end_or_before_the_start_is_refused()
    {
        await WriteAsync("short", RandomBytes(100));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Driver.OpenReadAsync("short", 101, Ct));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Driver.OpenReadAsync("short", -1, Ct));
    }

    [Fact]
    public async Task Missing_files_are_not_found()
    {
        var ex = await Assert.ThrowsAsync<StoragePathNotFoundException>(() => Driver.OpenReadAsync("no/such/file", 0, Ct));
        Assert.Equal("no/such/file", ex.Path);
        Assert.Null(await Driver.StatAsync("no/such/file", Ct));
    }

    [Fact]
    public async Task Stat_reports_size_time_and_directories()
    {
        var before = DateTimeOffset.UtcNow.AddMinutes(-5);
        await WriteAsync("dir/sub/file", RandomBytes(1234));
        var file = await Driver.StatAsync("dir/sub/file", Ct);
        Assert.NotNull(file);
        Assert.Equal(1234, file.Size);
        Assert.False(file.IsDirectory);
        Assert.InRange(file.ModifiedAt, before, DateTimeOffset.UtcNow.AddMinutes(5));
        var dir = await Driver.StatAsync("dir/sub", Ct);
        Assert.NotNull(dir);
        Assert.True(dir.IsDirectory);
        Assert.True((await Driver.StatAsync("dir", Ct))!.IsDirectory);
    }

    [Fact]
    public async Task Concurrent_readers_each_get_all_bytes()
    {
        var content = RandomBytes(3 * 1024 * 1024 + 17);
        await WriteAsync("shared", content);
        var reads = Enumerable.Range(0, 8).Select(i => ReadAsync("shared", i * 1000)).ToList();
        var results = await Task.WhenAll(reads);
        for (int i = 0; i < results.Length; i++) Assert.Equal(content.AsSpan(i * 1000).ToArray(), results[i]);
    }

    // ---- replacing writes ----

    [Fact]
    public async Task A_write_is_invisible_until_committed()
    {
        await using var writer = await Driver.OpenWriterAsync("pending", append: false, Ct);
        await writer.WriteAsync(RandomBytes(1000), Ct);
        Assert.Equal(1000, writer.Size);
        Assert.Null(await Driver.StatAsync("pending", Ct));
        await writer.CommitAsync(Ct);
        Assert.Equal(1000, (await Driver.StatAsync("pending", Ct))!.Size);
    }

    [Fact]
    public async Task A_replacing_write_disposed_without_commit_leaves_nothing()
    {
        await using (var writer = await Driver.OpenWriterAsync("abandoned", append: false, Ct))
        {
            await writer.WriteAsync(RandomBytes(1000), Ct);
        }
        Assert.Null(await Driver.StatAsync("abandoned", Ct));
    }

    [Fact]
    public async Task A_cancelled_replacing_write_leaves_the_old_file()
    {
        var old = RandomBytes(500);
        await WriteAsync("keep", old);
        await using (var writer = await Driver.OpenWriterAsync("keep", append: false, Ct))
        {
            await writer.WriteAsync(RandomBytes(700), Ct);
            await writer.CancelAsync(Ct);
        }
        Assert.Equal(old, await ReadAsync("keep"));
    }

    [Fact]
    public async Task Replacing_overwrites_and_readers_see_the_old_bytes_until_commit()
    {
        await WriteAsync("replace", RandomBytes(5000));
        var replacement = Encoding.UTF8.GetBytes("new content");
        await using (var writer = await Driver.OpenWriterAsync("replace", append: false, Ct))
        {
            await writer.WriteAsync(replacement, Ct);
            Assert.Equal(5000, (await Driver.StatAsync("replace", Ct))!.Size);
            await writer.CommitAsync(Ct);
        }
        Assert.Equal(replacement, await ReadAsync("replace"));
    }

    [Fact]
    public async Task A_large_stream_round_trips_in_odd_pieces()
    {
        var content = RandomBytes(23 * 1024 * 1024 + 333);
        await WriteAsync("large/blob", content, pieceSize: 777_777);
        Assert.Equal(content.Length, (await Driver.StatAsync("large/blob", Ct))!.Size);
        Assert.Equal(SHA256.HashData(content), SHA256.HashData(await ReadAsync("large/blob")));
        Assert.Equal(content[(20 * 1024 * 1024)..], await ReadAsync("large/blob", 20 * 1024 * 1024));
    }

    // ---- appending writes (resumable uploads) ----

    [Fact]
    public async Task Appending_to_a_missing_file_is_not_found()
    {
        await Assert.ThrowsAsync<StoragePathNotFoundException>(() => Driver.OpenWriterAsync("nothing/here", append: true, Ct));
    }

    [Fact]
    public async Task An_append_continues_the_file_and_the_writer_counts_all_bytes()
    {
        var first = RandomBytes(1000);
        var second = RandomBytes(2000);
        await WriteAsync("resume", first);
        await using (var writer = await Driver.OpenWriterAsync("resume", append: true, Ct))
        {
            Assert.Equal(1000, writer.Size);
            await writer.WriteAsync(second, Ct);
            Assert.Equal(3000, writer.Size);
            await writer.CommitAsync(Ct);
        }
        Assert.Equal(first.Concat(second).ToArray(), await ReadAsync("resume"));
        Assert.Equal(3000, (await Driver.StatAsync("resume", Ct))!.Size);
    }

    [Fact]
    public async Task A_sequence_of_buffers_is_written_in_order_also_when_appending()
    {
        // What a request body's pipe hands over: several segments, an empty one among them.
        var content = RandomBytes(300_000);
        await using (var writer = await Driver.OpenWriterAsync("gathered", append: false, Ct))
        {
            await writer.WriteAsync(Segments(content, 0, 65_536, 0, 65_536, 1, 18_927), Ct);
            Assert.Equal(150_000, writer.Size);
            await writer.CommitAsync(Ct);
        }
        await using (var writer = await Driver.OpenWriterAsync("gathered", append: true, Ct))
        {
            await writer.WriteAsync(Segments(content, 150_000, 100_000), Ct); // a single segment
            await writer.WriteAsync(Segments(content, 250_000, 7, 49_993), Ct);
            Assert.Equal(300_000, writer.Size);
            await writer.CommitAsync(Ct);
        }
        Assert.Equal(content, await ReadAsync("gathered"));
        Assert.Equal(300_000, (await Driver.StatAsync("gathered", Ct))!.Size);
    }

    /// <summary>Bytes of <paramref name="content"/> from <paramref name="start"/> as a sequence of segments of the given lengths.</summary>
    private static ReadOnlySequence<byte> Segments(byte[] content, int start, params int[] lengths)
    {
        BufferSegment? first = null, last = null;
        foreach (var length in lengths)
        {
            var segment = new BufferSegment(content.AsMemory(start, length), last);
            first ??= segment;
            last = segment;
            start += length;
        }
        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class BufferSegment : ReadOnlySequenceSegment<byte>
    {
        public BufferSegment(ReadOnlyMemory<byte> memory, BufferSegment? previous)
        {
            Memory = memory;
            if (previous is not null)
            {
                RunningIndex = previous.RunningIndex + previous.Memory.Length;
                previous.Next = this;
            }
        }
    }

    [Fact]
    public async Task Appends_disposed_without_commit_are_kept()
    {
        await WriteAsync("session", []);
        var chunk = RandomBytes(4096);
        await AppendAsync("session", chunk);
        Assert.Equal(4096, (await Driver.StatAsync("session", Ct))!.Size);
        Assert.Equal(chunk, await ReadAsync("session"));
    }

    [Fact]
    public async Task Many_appends_read_back_in_order_at_any_offset()
    {
        await WriteAsync("chunks", []);
        var all = new List<byte>();
        for (int i = 1; i <= 10; i++)
        {
            var chunk = RandomBytes(i * 997);
            await AppendAsync("chunks", chunk);
            all.AddRange(chunk);
            Assert.Equal(all.Count, (await Driver.StatAsync("chunks", Ct))!.Size);
        }
        var expected = all.ToArray();
        Assert.Equal(expected, await ReadAsync("chunks"));
        foreach (var offset in new[] { 1, 997, 998, 5000, expected.Length - 1, expected.Length })
            Assert.Equal(expected[offset..], await ReadAsync("chunks", offset));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Driver.OpenReadAsync("chunks", expected.Length + 1, Ct));
    }

    [Fact]
    public async Task An_empty_append_changes_nothing()
    {
        await WriteAsync("same", RandomBytes(10));
        await AppendAsync("same", []);
        await AppendAsync("same", [], commit: true);
        Assert.Equal(10, (await Driver.StatAsync("same", Ct))!.Size);
    }

    [Fact]
    public async Task Appending_to_a_file_with_content_keeps_that_content()
    {
        var first = Encoding.UTF8.GetBytes("abc");
        await WriteAsync("plain", first);
        await AppendAsync("plain", Encoding.UTF8.GetBytes("def"), commit: true);
        await AppendAsync("plain", Encoding.UTF8.GetBytes("ghi"));
        Assert.Equal("abcdefghi", Encoding.UTF8.GetString(await ReadAsync("plain")));
    }

    [Fact]
    public async Task Cancelling_an_append_discards_the_file()
    {
        await WriteAsync("doomed", RandomBytes(100));
        await using (var writer = await Driver.OpenWriterAsync("doomed", append: true, Ct))
        {
            await writer.WriteAsync(RandomBytes(100), Ct);
            await writer.CancelAsync(Ct);
        }
        Assert.Null(await Driver.StatAsync("doomed", Ct));
    }

    [Fact]
    public async Task Replacing_an_appended_file_drops_its_appended_bytes()
    {
        await WriteAsync("reset", []);
        await AppendAsync("reset", RandomBytes(1000));
        await WriteAsync("reset", []);
        Assert.Equal(0, (await Driver.StatAsync("reset", Ct))!.Size);
        await AppendAsync("reset", Encoding.UTF8.GetBytes("x"));
        Assert.Equal("x", Encoding.UTF8.GetString(await ReadAsync("reset")));
    }

    [Fact]
    public async Task Large_and_small_appends_mixed_read_and_move_intact()
    {
        // Chunk sizes around S3's 5 MiB part minimum: small ones must be merged, large ones copied by range.
        await WriteAsync("mixed/data", []);
        var sizes = new[] { 1_000_000, 6 * 1024 * 1024 + 5, 300, 5 * 1024 * 1024, 4 * 1024 * 1024 + 1, 10 };
        using var all = new MemoryStream();
        foreach (var size in sizes)
        {
            var chunk = RandomBytes(size);
            await AppendAsync("mixed/data", chunk);
            all.Write(chunk);
        }
        var expected = all.ToArray();
        Assert.Equal(expected.Length, (await Driver.StatAsync("mixed/data", Ct))!.Size);
        Assert.Equal(SHA256.HashData(expected), SHA256.HashData(await ReadAsync("mixed/data")));
        await Driver.MoveAsync("mixed/data", "final/data", Ct);
        Assert.Null(await Driver.StatAsync("mixed/data", Ct));
        Assert.Equal(expected.Length, (await Driver.StatAsync("final/data", Ct))!.Size);
        Assert.Equal(SHA256.HashData(expected), SHA256.HashData(await ReadAsync("final/data")));
        Assert.Equal(expected[7_000_000..], await ReadAsync("final/data", 7_000_000));
    }

    // ---- move ----

    [Fact]
    public async Task Move_renames_a_file()
    {
        var content = RandomBytes(2048);
        await WriteAsync("from/here", content);
        await Driver.MoveAsync("from/here", "to/there/now", Ct);
        Assert.Null(await Driver.StatAsync("from/here", Ct));
        Assert.Equal(content, await ReadAsync("to/there/now"));
    }

    [Fact]
    public async Task Move_replaces_an_existing_destination()
    {
        await WriteAsync("src", Encoding.UTF8.GetBytes("new"));
        await WriteAsync("dst", RandomBytes(10_000));
        await Driver.MoveAsync("src", "dst", Ct);
        Assert.Equal("new", Encoding.UTF8.GetString(await ReadAsync("dst")));
        Assert.Null(await Driver.StatAsync("src", Ct));
    }

    [Fact]
    public async Task Moving_a_missing_file_is_not_found()
    {
        await Assert.ThrowsAsync<StoragePathNotFoundException>(() => Driver.MoveAsync("ghost", "anywhere", Ct));
    }

    [Fact]
    public async Task Moving_an_appended_file_moves_all_its_bytes()
    {
        await WriteAsync("up/data", []);
        var a = RandomBytes(1500);
        var b = RandomBytes(2500);
        await AppendAsync("up/data", a);
        await AppendAsync("up/data", b);
        await Driver.MoveAsync("up/data", "blob/data", Ct);
        Assert.Equal(a.Concat(b).ToArray(), await ReadAsync("blob/data"));
        Assert.Empty(await ListAsync("up"));
    }

    // ---- delete ----

    [Fact]
    public async Task Delete_removes_a_file()
    {
        await WriteAsync("gone", RandomBytes(10));
        await Driver.DeleteAsync("gone", Ct);
        Assert.Null(await Driver.StatAsync("gone", Ct));
    }

    [Fact]
    public async Task Delete_removes_a_whole_tree()
    {
        await WriteAsync("tree/a", RandomBytes(10));
        await WriteAsync("tree/sub/b", RandomBytes(10));
        await WriteAsync("tree/sub/deeper/c", RandomBytes(10));
        await WriteAsync("treehouse", RandomBytes(10));
        await Driver.DeleteAsync("tree", Ct);
        Assert.Null(await Driver.StatAsync("tree", Ct));
        Assert.Null(await Driver.StatAsync("tree/sub/deeper/c", Ct));
        Assert.NotNull(await Driver.StatAsync("treehouse", Ct));
    }

    [Fact]
    public async Task Deleting_a_missing_path_is_not_an_error()
    {
        await Driver.DeleteAsync("never/was", Ct);
    }

    [Fact]
    public async Task Deleting_an_appended_file_removes_its_appended_bytes()
    {
        await WriteAsync("sessions/1/data", []);
        await AppendAsync("sessions/1/data", RandomBytes(100));
        await Driver.DeleteAsync("sessions/1", Ct);
        Assert.Null(await Driver.StatAsync("sessions/1/data", Ct));
        Assert.Empty(await ListAsync("sessions"));
        await WriteAsync("sessions/1/data", []);
        Assert.Equal(0, (await Driver.StatAsync("sessions/1/data", Ct))!.Size);
    }

    // ---- list ----

    [Fact]
    public async Task List_gives_direct_children_as_full_paths()
    {
        await WriteAsync("root/one", RandomBytes(1));
        await WriteAsync("root/two", RandomBytes(1));
        await WriteAsync("root/sub/three", RandomBytes(1));
        await WriteAsync("rootless", RandomBytes(1));
        Assert.Equal(["root/one", "root/sub", "root/two"], await ListAsync("root"));
        Assert.Equal(["root/sub/three"], await ListAsync("root/sub"));
    }

    [Fact]
    public async Task Listing_a_missing_directory_is_empty()
    {
        Assert.Empty(await ListAsync("nowhere"));
    }

    [Fact]
    public async Task Listing_shows_an_appended_file_once()
    {
        await WriteAsync("uploads/x/data", []);
        await AppendAsync("uploads/x/data", RandomBytes(10));
        await AppendAsync("uploads/x/data", RandomBytes(10));
        Assert.Equal(["uploads/x/data"], await ListAsync("uploads/x"));
    }

    [Fact]
    public async Task Listing_pages_through_many_entries()
    {
        // More entries than one listing page of the driver (the S3 tests use pages of 50).
        for (int i = 0; i < 120; i += 20)
            await Task.WhenAll(Enumerable.Range(i, 20).Select(n => WriteAsync($"many/f{n:D4}", [(byte)n])));
        await WriteAsync("many/sub/deeper", [1]);
        var listed = await ListAsync("many");
        Assert.Equal(121, listed.Count);
        Assert.Equal("many/f0000", listed[0]);
        Assert.Equal("many/f0119", listed[^2]);
        Assert.Equal("many/sub", listed[^1]);
    }

    // ---- redirects, local files, checks ----

    [Fact]
    public async Task Redirect_urls_serve_the_file_when_the_driver_gives_them()
    {
        var content = RandomBytes(4321);
        await WriteAsync("redirect/me", content);
        var url = await Driver.GetRedirectUrlAsync("redirect/me", TimeSpan.FromMinutes(5), Ct);
        if (!RedirectsEnabled)
        {
            Assert.Null(url);
            return;
        }
        Assert.NotNull(url);
        using var http = new HttpClient();
        Assert.Equal(content, await http.GetByteArrayAsync(url));
    }

    [Fact]
    public async Task A_local_file_path_when_given_holds_the_file()
    {
        var content = RandomBytes(64);
        await WriteAsync("local/file", content);
        var local = Driver.GetLocalFilePath("local/file");
        if (local is not null) Assert.Equal(content, await File.ReadAllBytesAsync(local));
    }

    [Fact]
    public async Task The_drivers_own_checks_all_pass()
    {
        var checks = Assert.IsAssignableFrom<IStorageChecks>(Driver);
        foreach (var depth in new[] { StorageCheckDepth.Short, StorageCheckDepth.Full })
        {
            var results = await checks.RunChecksAsync(depth, Ct);
            Assert.NotEmpty(results);
            Assert.All(results, r => Assert.True(r.Ok || r.Warning, r.ToString()));
        }
        Assert.Empty(await ListAsync("_doctor"));
    }

    // ---- the blob store on this driver ----

    [Fact]
    public async Task A_chunked_upload_continued_by_another_blob_store_verifies_its_digest()
    {
        // Two blob stores over the same storage: two replicas. Chunks alternate between them.
        var replicaA = new BlobStore(Driver);
        var replicaB = new BlobStore(Driver);
        var id = Guid.NewGuid();
        await replicaA.StartUploadAsync(id, Ct);
        var content = RandomBytes(3 * 1024 * 1024 + 12345);
        long offset = 0;
        int n = 0;
        foreach (var size in new[] { 700_000, 1_300_000, 5, 999_999 })
        {
            var store = n++ % 2 == 0 ? replicaA : replicaB;
            var size2 = await store.AppendAsync(id, offset, new MemoryStream(content, (int)offset, size), Ct);
            offset += size;
            Assert.Equal(offset, size2);
        }
        var wrongOffset = await Assert.ThrowsAsync<RegistryException>(() => replicaA.AppendAsync(id, 1, new MemoryStream([1]), Ct));
        Assert.Equal(ErrorCode.RangeInvalid, wrongOffset.Code);
        var digest = Digest.FromHash(Digest.Sha256, SHA256.HashData(content));
        var rest = new MemoryStream(content, (int)offset, content.Length - (int)offset);
        Assert.Equal(content.Length, await replicaB.CompleteUploadAsync(id, digest, offset, rest, Ct));
        Assert.Equal(content.Length, (await replicaA.StatAsync(digest, Ct))!.Size);
        await using var read = await replicaA.OpenReadAsync(digest, 0, Ct);
        Assert.Equal(SHA256.HashData(content), await SHA256.HashDataAsync(read, Ct));
        Assert.Null(await replicaA.GetUploadSizeAsync(id, Ct));
    }

    [Fact]
    public async Task A_body_that_breaks_off_mid_chunk_leaves_a_resumable_session_and_no_blob()
    {
        // A client that disconnects mid-PATCH: the body's read fails after some bytes. What was written stays in the
        // session; the client asks for the size and sends the rest from there; the digest covers exactly the file.
        var store = new BlobStore(Driver);
        var id = Guid.NewGuid();
        await store.StartUploadAsync(id, Ct);
        var content = RandomBytes(2 * 1024 * 1024 + 4321);
        var digest = Digest.FromHash(Digest.Sha256, SHA256.HashData(content));
        await store.AppendAsync(id, 0, new MemoryStream(content, 0, 100_000), Ct);
        await Assert.ThrowsAsync<IOException>(() => store.AppendAsync(id, 100_000, new BreakingStream(content, 100_000, 1_500_000), Ct));
        Assert.Null(await store.StatAsync(digest, Ct));
        long size = (await store.GetUploadSizeAsync(id, Ct))!.Value;
        Assert.InRange(size, 100_000, 1_600_000);
        var rest = new MemoryStream(content, (int)size, content.Length - (int)size);
        Assert.Equal(content.Length, await store.CompleteUploadAsync(id, digest, size, rest, Ct));
        await using var read = await store.OpenReadAsync(digest, 0, Ct);
        Assert.Equal(SHA256.HashData(content), await SHA256.HashDataAsync(read, Ct));
    }

    /// <summary>Gives <paramref name="count"/> bytes of <paramref name="content"/> from <paramref name="offset"/> in
    /// pieces of up to 64 KiB, then fails like a connection reset.</summary>
    private sealed class BreakingStream(byte[] content, int offset, int count) : Stream
    {
        private int _position = offset;
        private readonly int _end = offset + count;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_position >= _end) throw new IOException("connection reset by peer (test)");
            int n = Math.Min(Math.Min(buffer.Length, 65_536), _end - _position);
            content.AsSpan(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Read(buffer.Span));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            Task.FromResult(Read(buffer.AsSpan(offset, count)));
    }

    [Fact]
    public async Task An_upload_with_the_wrong_digest_stores_nothing()
    {
        var store = new BlobStore(Driver);
        var id = Guid.NewGuid();
        await store.StartUploadAsync(id, Ct);
        await store.AppendAsync(id, 0, new MemoryStream(RandomBytes(1000)), Ct);
        var claimed = Digest.FromHash(Digest.Sha256, SHA256.HashData(Encoding.UTF8.GetBytes("something else")));
        var ex = await Assert.ThrowsAsync<RegistryException>(() => new BlobStore(Driver).CompleteUploadAsync(id, claimed, null, (Stream?)null, Ct));
        Assert.Equal(ErrorCode.DigestInvalid, ex.Code);
        Assert.Null(await store.StatAsync(claimed, Ct));
        Assert.Null(await store.GetUploadSizeAsync(id, Ct));
    }
}
