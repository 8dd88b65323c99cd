using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// An OCI image layout built by umoci from real files (one layer of at least 50 MiB plus a small
/// one) goes to the registry with <c>skopeo copy</c> and comes back byte-identical.
/// </summary>
[Collection(RegistryCollection.Name)]
public sealed class SkopeoOciLayoutRoundTripTests(RegistryServerFixture server, ITestOutputHelper output) : IDisposable
{
    private const long FiftyMiB = 50L * 1024 * 1024;
    private readonly ContainerTools _tools = new(server, output);

    [Fact]
    public async Task Skopeo_copy_of_a_50_MiB_umoci_image_round_trips_with_identical_manifest_and_layer_digests()
    {
        var umoci = new Umoci(_tools);
        var layout = await umoci.InitAsync(Path.Combine(_tools.WorkDirectory, "layout"));
        await umoci.NewImageAsync(layout, "v1");

        var bigFiles = _tools.CreateDirectory("big-layer");
        var (bytes, files) = RealFiles.CopyAtLeast(bigFiles, FiftyMiB);
        _tools.Log($"big layer: {files} real files, {bytes} bytes");
        Assert.True(bytes >= FiftyMiB);
        await umoci.InsertAsync(layout, "v1", bigFiles, "/opt/real-files");

        var small = Path.Combine(_tools.CreateDirectory("small-layer"), "hello.txt");
        await File.WriteAllTextAsync(small, "hello from the second layer\n");
        await umoci.InsertAsync(layout, "v1", small, "/etc/hello.txt");
        await umoci.GcAsync(layout);

        var original = layout.ResolveTag("v1");
        var (originalConfig, originalLayers) = layout.ReadManifest(original.Digest);
        Assert.Equal(2, originalLayers.Count);
        Assert.True(originalLayers.Sum(l => l.Size) > 1024 * 1024, "the big layer should stay big once compressed");

        var reference = $"{server.Host}/{server.NewRepository("app")}";
        await _tools.SkopeoAsync(
            ["copy", "--dest-tls-verify=false", .. _tools.Credentials("--dest-creds"), $"oci:{layout.Path}:v1", $"docker://{reference}:v1"],
            TimeSpan.FromMinutes(4));

        // What the registry serves: the manifest bytes as pushed, and the same digest.
        var raw = await _tools.SkopeoAsync(["inspect", "--raw", "--tls-verify=false", .. _tools.Credentials("--creds"), $"docker://{reference}:v1"]);
        var rawBytes = raw.StandardOutputBytes;
        Assert.Equal(layout.ReadBlob(original.Digest), rawBytes);
        Assert.Equal(original.Digest, Digests.Sha256(rawBytes));
        var (servedConfig, servedLayers) = OciLayout.ParseManifest(rawBytes);
        Assert.Equal(originalConfig.Digest, servedConfig.Digest);
        Assert.Equal(originalLayers.Select(l => (l.Digest, l.Size)), servedLayers.Select(l => (l.Digest, l.Size)));

        var inspected = await _tools.SkopeoAsync(["inspect", "--tls-verify=false", .. _tools.Credentials("--creds"), "--format", "{{.Digest}}", $"docker://{reference}:v1"]);
        Assert.Equal(original.Digest, inspected.StandardOutput.Trim());

        // Pull it back into a fresh layout: same manifest digest, every blob present with its digest.
        var back = new OciLayout(Path.Combine(_tools.WorkDirectory, "back"));
        await _tools.SkopeoAsync(
            ["copy", "--src-tls-verify=false", .. _tools.Credentials("--src-creds"), $"docker://{reference}:v1", $"oci:{back.Path}:v1"],
            TimeSpan.FromMinutes(4));
        var returned = back.ResolveTag("v1");
        Assert.Equal(original.Digest, returned.Digest);
        var (backConfig, backLayers) = back.ReadManifest(returned.Digest);
        Assert.Equal(originalConfig.Digest, backConfig.Digest);
        Assert.Equal(originalLayers.Select(l => l.Digest), backLayers.Select(l => l.Digest));
        foreach (var blob in backLayers.Append(backConfig))
        {
            Assert.Equal(blob.Digest, Digests.Sha256OfFile(back.BlobPath(blob.Digest)));
            Assert.Equal(blob.Size, new FileInfo(back.BlobPath(blob.Digest)).Length);
        }
    }

    public void Dispose() => _tools.Dispose();
}
