using System.Text.Json;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// Protected tags and project renames with real clients: <c>skopeo copy</c> to a protected tag is denied to a
/// Developer and works for a Maintainer, <c>skopeo delete</c> likewise; after a rename through <c>/api/v4</c> the
/// image pulls (<c>skopeo copy</c> to a local layout) by its new name with the same digest, and the old name answers
/// "name unknown".
/// </summary>
[Collection(RegistryCollection.Name)]
public sealed class RegistryLifecycleTests(RegistryServerFixture server, ITestOutputHelper output) : IDisposable
{
    private const string Why = "projects, roles and protected tags are Berth's";
    private readonly ContainerTools _tools = new(server, output);
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..8];

    private string RootCredentials => $"{server.Username}:{server.Password}";

    [BerthOnlyFact(Why)]
    public async Task Developer_cannot_overwrite_or_delete_a_protected_tag_but_a_maintainer_can()
    {
        var project = await server.CreateProjectAsync("group", $"prot-{_suffix}");
        var developer = await server.CreateUserAsync($"pdev-{_suffix}", "pw-" + Guid.NewGuid().ToString("N"));
        var maintainer = await server.CreateUserAsync($"pmnt-{_suffix}", "pw-" + Guid.NewGuid().ToString("N"));
        await server.AddProjectMemberAsync(project, developer.Username, AccessLevels.Developer);
        await server.AddProjectMemberAsync(project, maintainer.Username, AccessLevels.Maintainer);
        var image = $"{server.Host}/{project}/app";
        var (_, original) = await TestImages.PushWithSkopeoAsync(_tools, $"{image}:v1", $"release {_suffix}\n", RootCredentials);
        await server.ApiRequestAsync(HttpMethod.Post, $"projects/{Uri.EscapeDataString(project)}/registry/protection/tag/rules", new
        {
            tag_name_pattern = "^v[0-9]+$",
            minimum_access_level_for_push = "maintainer",
            minimum_access_level_for_delete = "maintainer",
        });
        var candidate = await TestImages.BuildLayoutAsync(_tools, $"candidate {_suffix}\n");

        var push = await _tools.SkopeoUncheckedAsync(["copy", "--dest-tls-verify=false", "--dest-creds", $"{developer.Username}:{developer.Password}", $"oci:{candidate.Path}:v1", $"docker://{image}:v1"]);
        Assert.False(push.Succeeded, "a Developer overwrote a protected tag\n" + push.Describe());
        Assert.Contains("denied", push.StandardError, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(original, await DigestAsync($"{image}:v1"));
        // An unprotected tag is fine for the Developer.
        await _tools.SkopeoAsync(["copy", "--dest-tls-verify=false", "--dest-creds", $"{developer.Username}:{developer.Password}", $"oci:{candidate.Path}:v1", $"docker://{image}:dev"]);

        var delete = await _tools.SkopeoUncheckedAsync(["delete", "--tls-verify=false", "--creds", $"{developer.Username}:{developer.Password}", $"docker://{image}:v1"]);
        Assert.False(delete.Succeeded, "a Developer deleted a protected tag\n" + delete.Describe());
        Assert.Equal(original, await DigestAsync($"{image}:v1"));

        await _tools.SkopeoAsync(["copy", "--dest-tls-verify=false", "--dest-creds", $"{maintainer.Username}:{maintainer.Password}", $"oci:{candidate.Path}:v1", $"docker://{image}:v1"]);
        var overwritten = await DigestAsync($"{image}:v1");
        Assert.NotEqual(original, overwritten);
        // skopeo delete by tag deletes the manifest by digest: the Maintainer may (the dev tag points at it too).
        await _tools.SkopeoAsync(["delete", "--tls-verify=false", "--creds", $"{maintainer.Username}:{maintainer.Password}", $"docker://{image}:v1"]);
        var tags = await _tools.SkopeoUncheckedAsync(["list-tags", "--tls-verify=false", "--creds", RootCredentials, $"docker://{image}"]);
        Assert.DoesNotContain("\"v1\"", tags.StandardOutput, StringComparison.Ordinal);
    }

    [BerthOnlyFact(Why)]
    public async Task A_renamed_project_pulls_by_its_new_name_only()
    {
        var project = await server.CreateProjectAsync("group", $"old-{_suffix}");
        var (_, digest) = await TestImages.PushWithSkopeoAsync(_tools, $"{server.Host}/{project}/app:v1", $"rename {_suffix}\n", RootCredentials);
        var renamed = await server.ApiRequestAsync(HttpMethod.Put, $"projects/{Uri.EscapeDataString(project)}", new { path = $"new-{_suffix}" });
        var newProject = renamed["path_with_namespace"]!.GetValue<string>();
        Assert.Equal($"group/new-{_suffix}", newProject);

        var target = Path.Combine(_tools.WorkDirectory, "pulled");
        await _tools.SkopeoAsync(["copy", "--src-tls-verify=false", "--src-creds", RootCredentials, $"docker://{server.Host}/{newProject}/app:v1", $"oci:{target}:v1"]);
        Assert.Equal(digest, new OciLayout(target).ResolveTag("v1").Digest);

        var old = await _tools.SkopeoUncheckedAsync(["inspect", "--raw", "--tls-verify=false", "--creds", RootCredentials, $"docker://{server.Host}/{project}/app:v1"]);
        Assert.False(old.Succeeded, old.Describe());
        Assert.Contains("name unknown", old.StandardError, StringComparison.OrdinalIgnoreCase);
    }

    private async Task<string> DigestAsync(string reference)
    {
        var inspect = await _tools.SkopeoAsync(["inspect", "--tls-verify=false", "--creds", RootCredentials, $"docker://{reference}"]);
        return JsonDocument.Parse(inspect.StandardOutput).RootElement.GetProperty("Digest").GetString()!;
    }

    public void Dispose() => _tools.Dispose();
}
