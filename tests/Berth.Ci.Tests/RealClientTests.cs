using System.Text.Json.Nodes;
using Berth.Ci.Tests.Infrastructure;

namespace Berth.Ci.Tests;

/// <summary>
/// Job tokens with real clients against the real server process: <c>podman login -u gitlab-ci-token</c> with the
/// job token and a push to the job's project; the job's <c>DOCKER_AUTH_CONFIG</c> written to a file is what
/// <c>skopeo --authfile</c> needs to read a private image of an allowlisted project.
/// </summary>
public sealed class RealClientTests(BerthServerFixture server, ITestOutputHelper output) : IClassFixture<BerthServerFixture>, IDisposable
{
    private readonly ToolSandbox _tools = new(output);
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..8];

    private string RootCreds => $"root:{server.RootPassword}";

    private async Task<(long Id, string Path)> ProjectAsync(string group, string name)
    {
        var project = await server.ApiAsync(HttpMethod.Post, "projects", new { name, path = name, namespace_id = group, visibility = "private", container_registry_enabled = true });
        return (project["id"]!.GetValue<long>(), project["path_with_namespace"]!.GetValue<string>());
    }

    private async Task<(long Id, string Username)> UserAsync(string name)
    {
        var user = await server.ApiAsync(HttpMethod.Post, "users", new { username = name, email = $"{name}@ci.example", name, password = "pw-" + Guid.NewGuid().ToString("N"), skip_confirmation = true });
        return (user["id"]!.GetValue<long>(), name);
    }

    private Task MemberAsync(long projectId, long userId, int level) =>
        server.ApiAsync(HttpMethod.Post, $"projects/{projectId}/members", new { user_id = userId, access_level = level });

    private async Task<JsonNode> JobAsync(long projectId, string username)
    {
        var runner = await server.ApiAsync(HttpMethod.Post, $"projects/{projectId}/runners", new { description = "e2e" });
        var runnerToken = runner["token"]!.GetValue<string>();
        var job = await server.ApiAsync(HttpMethod.Post, "ci/jobs", new { project = projectId, user = username, name = "build" },
            new Dictionary<string, string> { ["RUNNER-TOKEN"] = runnerToken }, asRoot: false);
        job["runner_token"] = runnerToken;
        return job;
    }

    [Fact]
    public async Task Podman_login_as_gitlab_ci_token_pushes_to_the_jobs_project_only()
    {
        var group = (await server.ApiAsync(HttpMethod.Post, "groups", new { name = $"ci-{_suffix}", path = $"ci-{_suffix}", visibility = "private" }))["full_path"]!.GetValue<string>();
        var app = await ProjectAsync(group, "app");
        var other = await ProjectAsync(group, "other");
        var developer = await UserAsync($"dev-{_suffix}");
        await MemberAsync(app.Id, developer.Id, 30);
        await MemberAsync(other.Id, developer.Id, 30);
        var job = await JobAsync(app.Id, developer.Username);
        var variables = job["variables"]!;
        var registry = variables["CI_REGISTRY"]!.GetValue<string>();
        Assert.Equal(server.Host, registry);

        // What a GitLab CI script does: docker login -u $CI_REGISTRY_USER -p $CI_REGISTRY_PASSWORD $CI_REGISTRY.
        var login = await _tools.PodmanAsync("login", "--tls-verify=false", "-u", variables["CI_REGISTRY_USER"]!.GetValue<string>(), "-p", variables["CI_REGISTRY_PASSWORD"]!.GetValue<string>(), registry);
        Assert.True(login.Succeeded, login.Describe() + "\n" + server.ServerLog);

        var image = variables["CI_REGISTRY_IMAGE"]!.GetValue<string>() + "/web:v1";
        await _tools.BuildAsync(image, $"built by job {job["id"]} {_suffix}\n");
        var digestFile = Path.Combine(_tools.Work, "digest");
        var push = await _tools.PodmanAsync("push", "--tls-verify=false", "--signature-policy", _tools.PolicyPath, "--digestfile", digestFile, image);
        Assert.True(push.Succeeded, push.Describe() + "\n" + server.ServerLog);
        var digest = (await File.ReadAllTextAsync(digestFile)).Trim();
        var inspected = await _tools.SkopeoAsync("inspect", "--tls-verify=false", "--creds", RootCreds, "--format", "{{.Digest}}", $"docker://{image}");
        Assert.True(inspected.Succeeded, inspected.Describe());
        Assert.Equal(digest, inspected.StandardOutput.Trim());

        // Another project: denied, although the user who started the job may push there.
        var elsewhere = $"{registry}/{other.Path}/web:v1";
        await _tools.PodmanAsync("tag", image, elsewhere);
        var denied = await _tools.PodmanAsync("push", "--tls-verify=false", "--signature-policy", _tools.PolicyPath, elsewhere);
        Assert.False(denied.Succeeded, denied.Describe());
        Assert.True(denied.StandardError.Contains("denied", StringComparison.OrdinalIgnoreCase) || denied.StandardError.Contains("403 (Forbidden)", StringComparison.Ordinal), denied.Describe());

        // After the job finishes, the stored login no longer works.
        await server.ApiAsync(HttpMethod.Post, $"ci/jobs/{job["id"]}/finish", null,
            new Dictionary<string, string> { ["RUNNER-TOKEN"] = job["runner_token"]!.GetValue<string>() }, asRoot: false);
        var lateTag = image.Replace(":v1", ":late", StringComparison.Ordinal);
        await _tools.PodmanAsync("tag", image, lateTag);
        var late = await _tools.PodmanAsync("push", "--tls-verify=false", "--signature-policy", _tools.PolicyPath, lateTag);
        Assert.False(late.Succeeded, late.Describe());
        Assert.Contains("finished", late.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Docker_auth_config_of_a_job_lets_skopeo_read_a_private_image_of_an_allowlisted_project()
    {
        var group = (await server.ApiAsync(HttpMethod.Post, "groups", new { name = $"base-{_suffix}", path = $"base-{_suffix}", visibility = "private" }))["full_path"]!.GetValue<string>();
        var images = await ProjectAsync(group, "images");
        var closed = await ProjectAsync(group, "closed");
        var app = await ProjectAsync(group, "app");
        var developer = await UserAsync($"ci-{_suffix}");
        await MemberAsync(app.Id, developer.Id, 30);
        await MemberAsync(images.Id, developer.Id, 20);
        await MemberAsync(closed.Id, developer.Id, 20);
        await server.ApiAsync(HttpMethod.Post, $"projects/{images.Id}/job_token_scope/allowlist", new { target_project_id = app.Id });

        // Root pushes the private base images.
        var baseImage = $"{server.Host}/{images.Path}/base:v1";
        var closedImage = $"{server.Host}/{closed.Path}/base:v1";
        await _tools.BuildAsync(baseImage, $"base {_suffix}\n");
        await _tools.PodmanAsync("tag", baseImage, closedImage);
        foreach (var image in new[] { baseImage, closedImage })
        {
            var pushed = await _tools.PodmanAsync("push", "--tls-verify=false", "--signature-policy", _tools.PolicyPath, "--creds", RootCreds, image);
            Assert.True(pushed.Succeeded, pushed.Describe() + "\n" + server.ServerLog);
        }

        var job = await JobAsync(app.Id, developer.Username);
        var authFile = Path.Combine(_tools.Work, "docker-auth-config.json");
        await File.WriteAllTextAsync(authFile, job["variables"]!["DOCKER_AUTH_CONFIG"]!.GetValue<string>());

        var inspected = await _tools.SkopeoAsync("inspect", "--authfile", authFile, "--tls-verify=false", "--format", "{{.Digest}}", $"docker://{baseImage}");
        Assert.True(inspected.Succeeded, inspected.Describe() + "\n" + server.ServerLog);
        Assert.StartsWith("sha256:", inspected.StandardOutput.Trim(), StringComparison.Ordinal);

        var refused = await _tools.SkopeoAsync("inspect", "--authfile", authFile, "--tls-verify=false", $"docker://{closedImage}");
        Assert.False(refused.Succeeded, refused.Describe());
    }

    public void Dispose() => _tools.Dispose();
}
