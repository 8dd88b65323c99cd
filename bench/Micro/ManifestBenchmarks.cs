using System.Text;
using BenchmarkDotNet.Attributes;
using Berth.Distribution;

namespace Berth.Bench.Micro;

/// <summary>Parsing and validating manifests as a PUT does (<see cref="ManifestParser.Parse"/>): an OCI image
/// manifest with 10 layers and an OCI image index with 8 platforms.</summary>
[MemoryDiagnoser]
public class ManifestBenchmarks
{
    private byte[] _manifest = [];
    private byte[] _index = [];

    private static string Hex(int seed) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(BitConverter.GetBytes(seed)));

    [GlobalSetup]
    public void Setup()
    {
        var layers = string.Join(",", Enumerable.Range(0, 10).Select(i =>
            $$"""{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:{{Hex(i)}}","size":{{1000 + i}}}"""));
        _manifest = Encoding.UTF8.GetBytes(
            """{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",""" +
            $$"""
            "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{{Hex(100)}}","size":1234},"layers":[{{layers}}],
            """ +
            "\"annotations\":{\"org.opencontainers.image.created\":\"2026-11-30T00:00:00Z\"}}");
        var platforms = string.Join(",", Enumerable.Range(0, 8).Select(i =>
            $$"""{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{{Hex(200 + i)}}","size":{{500 + i}},"platform":{"architecture":"arch{{i}}","os":"linux"} }"""));
        _index = Encoding.UTF8.GetBytes($$"""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{platforms}}]}""");
    }

    [Benchmark(Description = "parse + validate OCI image manifest (10 layers)")]
    public object ImageManifest() => ManifestParser.Parse(_manifest, MediaTypes.OciManifest);

    [Benchmark(Description = "parse + validate OCI image index (8 platforms)")]
    public object ImageIndex() => ManifestParser.Parse(_index, MediaTypes.OciIndex);
}
