namespace Berth.EndToEnd.Tests.Infrastructure;

/// <summary>Small images for the access tests: built by podman (into its sandboxed storage) or by umoci (an OCI layout).</summary>
public static class TestImages
{
    /// <summary>Builds a <c>FROM scratch</c> + <c>COPY</c> image tagged <paramref name="image"/> in podman's sandboxed storage.</summary>
    public static async Task BuildWithPodmanAsync(ContainerTools tools, string image, string content)
    {
        var context = tools.CreateDirectory($"context-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(Path.Combine(context, "hello.txt"), content);
        await File.WriteAllTextAsync(Path.Combine(context, "Containerfile"), """
            FROM scratch
            COPY hello.txt /hello.txt
            """);
        await tools.PodmanAsync(
            ["build", "--isolation", "chroot", "--signature-policy", tools.PolicyPath, "-f", Path.Combine(context, "Containerfile"), "-t", image, context],
            TimeSpan.FromMinutes(3));
    }

    /// <summary>
    /// Builds a one-layer OCI layout with umoci and copies it to <c>docker://<paramref name="reference"/></c> with
    /// <paramref name="destinationCredentials"/> (<c>user:password</c>); returns the layout and the manifest digest.
    /// </summary>
    public static async Task<(OciLayout Layout, string Digest)> PushWithSkopeoAsync(ContainerTools tools, string reference, string content, string destinationCredentials)
    {
        var umoci = new Umoci(tools);
        var layout = await umoci.InitAsync(Path.Combine(tools.WorkDirectory, $"layout-{Guid.NewGuid():N}"));
        await umoci.BuildSmallImageAsync(layout, "v1", content);
        await tools.SkopeoAsync(["copy", "--dest-tls-verify=false", "--dest-creds", destinationCredentials, $"oci:{layout.Path}:v1", $"docker://{reference}"]);
        return (layout, layout.ResolveTag("v1").Digest);
    }

    /// <summary>Builds a one-layer OCI layout (tag <c>v1</c>) without pushing it.</summary>
    public static async Task<OciLayout> BuildLayoutAsync(ContainerTools tools, string content)
    {
        var umoci = new Umoci(tools);
        var layout = await umoci.InitAsync(Path.Combine(tools.WorkDirectory, $"layout-{Guid.NewGuid():N}"));
        await umoci.BuildSmallImageAsync(layout, "v1", content);
        return layout;
    }
}
