using System.Text.Json;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary><c>skopeo inspect</c>, <c>skopeo list-tags</c> and <c>skopeo delete</c> against the registry.</summary>
[Collection(RegistryCollection.Name)]
public sealed class SkopeoInspectTagsDeleteTests(RegistryServerFixture server, ITestOutputHelper output) : IDisposable
{
    private readonly ContainerTools _tools = new(server, output);

    [Fact]
    public async Task Skopeo_inspect_reports_the_pushed_digest_and_architecture()
    {
        var (layout, repository) = await PushSmallImageAsync("inspect", "one image to inspect\n", ["v1"]);
        var pushed = layout.ResolveTag("v1");

        var inspected = await _tools.SkopeoAsync(
            ["inspect", "--tls-verify=false", .. _tools.Credentials("--creds"), "--format", "{{.Digest}} {{.Architecture}} {{.Os}}", $"docker://{repository}:v1"]);
        Assert.Equal($"{pushed.Digest} amd64 linux", inspected.StandardOutput.Trim());

        // The full JSON form agrees, by tag and by digest.
        foreach (var reference in new[] { $"{repository}:v1", $"{repository}@{pushed.Digest}" })
        {
            var json = await _tools.SkopeoAsync(["inspect", "--tls-verify=false", .. _tools.Credentials("--creds"), $"docker://{reference}"]);
            using var document = JsonDocument.Parse(json.StandardOutput);
            Assert.Equal(pushed.Digest, document.RootElement.GetProperty("Digest").GetString());
            Assert.Equal("amd64", document.RootElement.GetProperty("Architecture").GetString());
            Assert.Equal(1, document.RootElement.GetProperty("Layers").GetArrayLength());
        }
    }

    [Fact]
    public async Task Skopeo_list_tags_returns_the_three_pushed_tags()
    {
        string[] tags = ["1.0", "latest", "v2_rc-1"];
        var (_, repository) = await PushSmallImageAsync("tags", "tagged three times\n", tags);

        var listed = await _tools.SkopeoAsync(["list-tags", "--tls-verify=false", .. _tools.Credentials("--creds"), $"docker://{repository}"]);
        using var document = JsonDocument.Parse(listed.StandardOutput);
        var names = document.RootElement.GetProperty("Tags").EnumerateArray().Select(t => t.GetString()!).Order(StringComparer.Ordinal);
        Assert.Equal(tags.Order(StringComparer.Ordinal), names);
    }

    [Fact]
    public async Task Skopeo_delete_by_digest_removes_that_manifest_and_leaves_the_other_one()
    {
        var repository = $"{server.Host}/{server.NewRepository("delete")}";
        var umoci = new Umoci(_tools);
        var layout = await umoci.InitAsync(Path.Combine(_tools.WorkDirectory, "layout"));
        await umoci.BuildSmallImageAsync(layout, "doomed", "this one gets deleted\n");
        await umoci.BuildSmallImageAsync(layout, "kept", "this one stays\n");
        foreach (var tag in new[] { "doomed", "kept" })
        {
            await _tools.SkopeoAsync(["copy", "--dest-tls-verify=false", .. _tools.Credentials("--dest-creds"), $"oci:{layout.Path}:{tag}", $"docker://{repository}:{tag}"]);
        }
        var doomed = layout.ResolveTag("doomed").Digest;
        var kept = layout.ResolveTag("kept").Digest;

        await _tools.SkopeoAsync(["inspect", "--raw", "--tls-verify=false", .. _tools.Credentials("--creds"), $"docker://{repository}@{doomed}"]);
        await _tools.SkopeoAsync(["delete", "--tls-verify=false", .. _tools.Credentials("--creds"), $"docker://{repository}@{doomed}"]);

        var gone = await _tools.SkopeoUncheckedAsync(["inspect", "--raw", "--tls-verify=false", .. _tools.Credentials("--creds"), $"docker://{repository}@{doomed}"]);
        Assert.False(gone.Succeeded, "inspect of a deleted manifest should fail\n" + gone.Describe());
        Assert.Contains("manifest unknown", gone.StandardError, StringComparison.OrdinalIgnoreCase);

        var still = await _tools.SkopeoAsync(["inspect", "--tls-verify=false", .. _tools.Credentials("--creds"), "--format", "{{.Digest}}", $"docker://{repository}:kept"]);
        Assert.Equal(kept, still.StandardOutput.Trim());
    }

    private async Task<(OciLayout Layout, string Repository)> PushSmallImageAsync(string image, string content, IReadOnlyList<string> tags)
    {
        var repository = $"{server.Host}/{server.NewRepository(image)}";
        var umoci = new Umoci(_tools);
        var layout = await umoci.InitAsync(Path.Combine(_tools.WorkDirectory, "layout"));
        await umoci.BuildSmallImageAsync(layout, tags[0], content);
        foreach (var tag in tags)
        {
            await _tools.SkopeoAsync(["copy", "--dest-tls-verify=false", .. _tools.Credentials("--dest-creds"), $"oci:{layout.Path}:{tags[0]}", $"docker://{repository}:{tag}"]);
        }
        return (layout, repository);
    }

    public void Dispose() => _tools.Dispose();
}
