using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// podman (the stand-in for docker here) builds a <c>FROM scratch</c> + <c>COPY</c> image, pushes
/// it, forgets it and pulls it back. podman runs fully sandboxed: its own root/runroot/tmpdir, vfs
/// storage, cgroupfs, file events, chroot isolation, and a private policy/registries/auth config.
/// </summary>
[Collection(RegistryCollection.Name)]
public sealed class PodmanBuildPushPullTests(RegistryServerFixture server, ITestOutputHelper output) : IDisposable
{
    private readonly ContainerTools _tools = new(server, output);

    [Fact]
    public async Task Podman_build_push_rmi_pull_returns_the_same_image_id()
    {
        var context = _tools.CreateDirectory("context");
        await File.WriteAllTextAsync(Path.Combine(context, "hello.txt"), $"hello from podman {Guid.NewGuid()}\n");
        File.Copy("/etc/os-release", Path.Combine(context, "os-release"));
        await File.WriteAllTextAsync(Path.Combine(context, "Containerfile"), """
            FROM scratch
            COPY hello.txt /hello.txt
            COPY os-release /etc/os-release
            LABEL org.opencontainers.image.title="berth e2e"
            """);

        var image = $"{server.Host}/{server.NewRepository("podman")}:v1";
        var policy = new[] { "--signature-policy", _tools.PolicyPath };
        await _tools.PodmanAsync(["build", "--isolation", "chroot", .. policy, "-f", Path.Combine(context, "Containerfile"), "-t", image, context], TimeSpan.FromMinutes(3));
        var builtId = await ImageIdAsync(image);

        var digestFile = Path.Combine(_tools.WorkDirectory, "pushed.digest");
        await _tools.PodmanAsync(["push", "--tls-verify=false", .. policy, .. _tools.Credentials("--creds"), "--digestfile", digestFile, image], TimeSpan.FromMinutes(3));
        var pushedDigest = (await File.ReadAllTextAsync(digestFile)).Trim();
        Assert.StartsWith("sha256:", pushedDigest, StringComparison.Ordinal);

        // The registry serves the manifest podman pushed.
        var inspected = await _tools.SkopeoAsync(["inspect", "--tls-verify=false", .. _tools.Credentials("--creds"), "--format", "{{.Digest}}", $"docker://{image}"]);
        Assert.Equal(pushedDigest, inspected.StandardOutput.Trim());

        await _tools.PodmanAsync(["rmi", image]);
        var exists = await _tools.PodmanUncheckedAsync(["image", "exists", image]);
        Assert.Equal(1, exists.ExitCode);

        await _tools.PodmanAsync(["pull", "--tls-verify=false", .. policy, .. _tools.Credentials("--creds"), image], TimeSpan.FromMinutes(3));
        Assert.Equal(builtId, await ImageIdAsync(image));
        var pulledDigest = (await _tools.PodmanAsync(["image", "inspect", "--format", "{{.Digest}}", image])).StandardOutput.Trim();
        Assert.Equal(pushedDigest, pulledDigest);
    }

    private async Task<string> ImageIdAsync(string image)
    {
        var id = (await _tools.PodmanAsync(["image", "inspect", "--format", "{{.Id}}", image])).StandardOutput.Trim();
        Assert.Matches("^[0-9a-f]{64}$", id);
        return id;
    }

    public void Dispose() => _tools.Dispose();
}
