namespace Berth.EndToEnd.Tests.Infrastructure;

/// <summary>Builds OCI image layouts with <c>umoci</c> (init, new, config, insert, gc).</summary>
public sealed class Umoci(ContainerTools tools)
{
    /// <summary>Creates an empty OCI image layout at <paramref name="layoutPath"/>.</summary>
    public async Task<OciLayout> InitAsync(string layoutPath)
    {
        await tools.UmociAsync(["init", "--layout", layoutPath]);
        return new OciLayout(layoutPath);
    }

    /// <summary>Creates an empty image tagged <paramref name="tag"/>, optionally for another architecture (linux).</summary>
    public async Task NewImageAsync(OciLayout layout, string tag, string? architecture = null)
    {
        await tools.UmociAsync(["new", "--image", $"{layout.Path}:{tag}"]);
        if (architecture is not null)
        {
            await tools.UmociAsync(["config", "--image", $"{layout.Path}:{tag}", "--architecture", architecture, "--os", "linux"]);
        }
    }

    /// <summary>Adds one layer holding <paramref name="source"/> (file or folder) at <paramref name="target"/> in the image.</summary>
    public Task InsertAsync(OciLayout layout, string tag, string source, string target) =>
        tools.UmociAsync(["insert", "--image", $"{layout.Path}:{tag}", source, target], TimeSpan.FromMinutes(3));

    /// <summary>Removes blobs no tag reaches (the intermediate manifests and configs of each step).</summary>
    public Task GcAsync(OciLayout layout) => tools.UmociAsync(["gc", "--layout", layout.Path]);

    /// <summary>
    /// Builds a small single-layer image tagged <paramref name="tag"/> whose one file holds
    /// <paramref name="content"/> (so different contents give different digests).
    /// </summary>
    public async Task BuildSmallImageAsync(OciLayout layout, string tag, string content, string? architecture = null)
    {
        await NewImageAsync(layout, tag, architecture);
        var file = Path.Combine(tools.CreateDirectory("small-files"), $"{tag}-{Guid.NewGuid():N}.txt");
        await File.WriteAllTextAsync(file, content);
        await InsertAsync(layout, tag, file, "/etc/berth-e2e.txt");
    }
}
