using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// A two-platform OCI image index (linux/amd64 + linux/arm64 images built by umoci, index written
/// by hand) goes to the registry with <c>skopeo copy --all</c> and comes back unchanged.
/// </summary>
[Collection(RegistryCollection.Name)]
public sealed class SkopeoMultiPlatformIndexTests(RegistryServerFixture server, ITestOutputHelper output) : IDisposable
{
    private readonly ContainerTools _tools = new(server, output);

    [Fact]
    public async Task Skopeo_copy_all_of_a_two_platform_index_preserves_index_and_child_digests()
    {
        var umoci = new Umoci(_tools);
        var layout = await umoci.InitAsync(Path.Combine(_tools.WorkDirectory, "layout"));
        await umoci.BuildSmallImageAsync(layout, "amd64", "built for linux/amd64\n", "amd64");
        await umoci.BuildSmallImageAsync(layout, "arm64", "built for linux/arm64\n", "arm64");
        await umoci.GcAsync(layout);
        var amd64 = layout.ResolveTag("amd64") with { Architecture = "amd64", Os = "linux" };
        var arm64 = layout.ResolveTag("arm64") with { Architecture = "arm64", Os = "linux" };
        Assert.NotEqual(amd64.Digest, arm64.Digest);
        var index = layout.AddIndex("multi", [amd64, arm64]);

        var reference = $"{server.Host}/{server.NewRepository("multi")}";
        await _tools.SkopeoAsync(
            ["copy", "--all", "--dest-tls-verify=false", .. _tools.Credentials("--dest-creds"), $"oci:{layout.Path}:multi", $"docker://{reference}:multi"],
            TimeSpan.FromMinutes(3));

        // The index is served as pushed.
        var raw = await _tools.SkopeoAsync(["inspect", "--raw", "--tls-verify=false", .. _tools.Credentials("--creds"), $"docker://{reference}:multi"]);
        Assert.Equal(layout.ReadBlob(index.Digest), raw.StandardOutputBytes);
        Assert.Equal(index.Digest, Digests.Sha256(raw.StandardOutputBytes));

        // Each child is reachable by digest and resolves by platform.
        foreach (var child in new[] { amd64, arm64 })
        {
            var childRaw = await _tools.SkopeoAsync(["inspect", "--raw", "--tls-verify=false", .. _tools.Credentials("--creds"), $"docker://{reference}@{child.Digest}"]);
            Assert.Equal(child.Digest, Digests.Sha256(childRaw.StandardOutputBytes));

            var resolved = await _tools.SkopeoAsync(
                ["--override-arch", child.Architecture!, "--override-os", "linux",
                 "inspect", "--tls-verify=false", .. _tools.Credentials("--creds"), "--format", "{{.Architecture}}", $"docker://{reference}:multi"]);
            Assert.Equal(child.Architecture, resolved.StandardOutput.Trim());
        }

        // Back into a fresh layout with --all: the same index and both children.
        var back = new OciLayout(Path.Combine(_tools.WorkDirectory, "back"));
        await _tools.SkopeoAsync(
            ["copy", "--all", "--src-tls-verify=false", .. _tools.Credentials("--src-creds"), $"docker://{reference}:multi", $"oci:{back.Path}:multi"],
            TimeSpan.FromMinutes(3));
        var returned = back.ResolveTag("multi");
        Assert.Equal(index.Digest, returned.Digest);
        Assert.Equal(OciMediaTypes.Index, returned.MediaType);
        var children = back.ReadIndex(returned.Digest);
        Assert.Equal(
            [(amd64.Digest, "amd64"), (arm64.Digest, "arm64")],
            children.Select(c => (c.Digest, c.Architecture!)));
        foreach (var child in children)
        {
            Assert.Equal(child.Digest, Digests.Sha256OfFile(back.BlobPath(child.Digest)));
            var (config, layers) = back.ReadManifest(child.Digest);
            foreach (var blob in layers.Append(config))
            {
                Assert.Equal(blob.Digest, Digests.Sha256OfFile(back.BlobPath(blob.Digest)));
            }
        }
    }

    public void Dispose() => _tools.Dispose();
}
