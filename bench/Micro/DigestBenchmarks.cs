using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using Berth.Distribution;
using Berth.Storage;

namespace Berth.Bench.Micro;

/// <summary>
/// Digest verification while streaming: a 64 MiB blob uploaded into a <see cref="BlobStore"/> session on the
/// filesystem driver (hash while writing, 256 KiB buffers) and completed with its digest, against SHA-256 of
/// the same bytes alone (the ceiling). Throughput = 64 MiB / mean time.
/// </summary>
[MemoryDiagnoser]
public class DigestBenchmarks
{
    private const int Size = 64 * 1024 * 1024;
    private byte[] _data = [];
    private Digest _digest;
    private string _root = "";
    private BlobStore _store = null!;

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[Size];
        Random.Shared.NextBytes(_data);
        _digest = Digest.Parse("sha256:" + Convert.ToHexStringLower(SHA256.HashData(_data)));
        _root = Directory.CreateTempSubdirectory("berth-micro-").FullName;
        _store = new BlobStore(new FileSystemStorageDriver(_root));
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_root, recursive: true);

    [Benchmark(Baseline = true, Description = "SHA-256 only, 64 MiB")]
    public byte[] HashOnly() => SHA256.HashData(_data);

    [Benchmark(Description = "upload + verify digest while writing, 64 MiB")]
    public async Task<long> UploadAndVerify()
    {
        var id = Guid.NewGuid();
        await _store.StartUploadAsync(id, CancellationToken.None);
        using var body = new MemoryStream(_data, writable: false);
        long size = await _store.CompleteUploadAsync(id, _digest, null, body, CancellationToken.None);
        await _store.DeleteAsync(_digest, CancellationToken.None);
        return size;
    }
}
