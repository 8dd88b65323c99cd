using System.Text.Json;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// Accounts and Docker token authentication with real clients: <c>podman login</c> into the sandbox's auth file,
/// then push/pull with the rights of the user's role; 2FA users need a personal access token; deploy tokens with
/// <c>skopeo --creds</c>; anonymous pulls of public projects. Each test makes its own users and projects
/// (random names) through <c>/api/v4</c> as root, so tests sharing the server do not see each other.
/// </summary>
[Collection(RegistryCollection.Name)]
public sealed class RegistryAccessTests(RegistryServerFixture server, ITestOutputHelper output) : IDisposable
{
    private const string Why = "accounts, projects and tokens are Berth's";
    private static readonly TimeSpan PodmanTimeout = TimeSpan.FromMinutes(3);
    private readonly ContainerTools _tools = new(server, output);
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..8];

    [BerthOnlyFact(Why)]
    public async Task Developer_logs_in_with_podman_then_pushes_and_pulls()
    {
        var project = await server.CreateProjectAsync("group", $"dev-{_suffix}");
        var developer = await server.CreateUserAsync($"dev-{_suffix}", RandomPassword());
        await server.AddProjectMemberAsync(project, developer.Username, AccessLevels.Developer);

        await LoginAsync(developer.Username, developer.Password);
        var authFile = await File.ReadAllTextAsync(_tools.AuthFilePath);
        Assert.Contains(server.Host, authFile, StringComparison.Ordinal);

        var image = $"{server.Host}/{project}/app:v1";
        await TestImages.BuildWithPodmanAsync(_tools, image, $"developer {_suffix}\n");
        var digestFile = Path.Combine(_tools.WorkDirectory, "pushed.digest");
        // No --creds: podman uses what `podman login` stored.
        await _tools.PodmanAsync(["push", "--tls-verify=false", "--signature-policy", _tools.PolicyPath, "--digestfile", digestFile, image], PodmanTimeout);
        var pushed = (await File.ReadAllTextAsync(digestFile)).Trim();

        await _tools.PodmanAsync(["rmi", image]);
        await _tools.PodmanAsync(["pull", "--tls-verify=false", "--signature-policy", _tools.PolicyPath, image], PodmanTimeout);
        var pulled = (await _tools.PodmanAsync(["image", "inspect", "--format", "{{.Digest}}", image])).StandardOutput.Trim();
        Assert.Equal(pushed, pulled);
    }

    [BerthOnlyFact(Why)]
    public async Task Reporter_of_a_private_project_pulls_but_podman_push_is_denied()
    {
        var project = await server.CreateProjectAsync("group", $"rep-{_suffix}");
        var reporter = await server.CreateUserAsync($"rep-{_suffix}", RandomPassword());
        await server.AddProjectMemberAsync(project, reporter.Username, AccessLevels.Reporter);
        var image = $"{server.Host}/{project}/app:v1";
        var (_, digest) = await TestImages.PushWithSkopeoAsync(_tools, image, $"pushed by root {_suffix}\n", RootCredentials);

        await LoginAsync(reporter.Username, reporter.Password);
        await _tools.PodmanAsync(["pull", "--tls-verify=false", "--signature-policy", _tools.PolicyPath, image], PodmanTimeout);
        var pulled = (await _tools.PodmanAsync(["image", "inspect", "--format", "{{.Digest}}", image])).StandardOutput.Trim();
        Assert.Equal(digest, pulled);

        var retagged = $"{server.Host}/{project}/app:reporter";
        await _tools.PodmanAsync(["tag", image, retagged]);
        var push = await _tools.PodmanUncheckedAsync(["push", "--tls-verify=false", "--signature-policy", _tools.PolicyPath, retagged], PodmanTimeout);
        Assert.False(push.Succeeded, "a Reporter's push should fail\n" + push.Describe());
        Assert.Contains("requested access to the resource is denied", push.StandardError, StringComparison.OrdinalIgnoreCase);

        // Nothing was written: the tag does not exist.
        var inspect = await _tools.SkopeoUncheckedAsync(["inspect", "--raw", "--tls-verify=false", "--creds", RootCredentials, $"docker://{retagged}"]);
        Assert.False(inspect.Succeeded, inspect.Describe());
        Assert.Contains("manifest unknown", inspect.StandardError, StringComparison.OrdinalIgnoreCase);
    }

    [BerthOnlyFact(Why)]
    public async Task Guest_and_outsider_cannot_pull_a_private_project()
    {
        var project = await server.CreateProjectAsync("group", $"guest-{_suffix}");
        var guest = await server.CreateUserAsync($"guest-{_suffix}", RandomPassword());
        await server.AddProjectMemberAsync(project, guest.Username, AccessLevels.Guest);
        var outsider = await server.CreateUserAsync($"out-{_suffix}", RandomPassword());
        var image = $"{server.Host}/{project}/app:v1";
        await TestImages.PushWithSkopeoAsync(_tools, image, $"private {_suffix}\n", RootCredentials);

        foreach (var user in new[] { guest, outsider })
        {
            await LoginAsync(user.Username, user.Password);
            var pull = await _tools.PodmanUncheckedAsync(["pull", "--tls-verify=false", "--signature-policy", _tools.PolicyPath, image], PodmanTimeout);
            Assert.False(pull.Succeeded, $"{user.Username} should not pull {image}\n{pull.Describe()}");
            Assert.Contains("requested access to the resource is denied", pull.StandardError, StringComparison.OrdinalIgnoreCase);
            Assert.Contains($"{user.Username} may not pull", pull.StandardError, StringComparison.Ordinal);
            var exists = await _tools.PodmanUncheckedAsync(["image", "exists", image]);
            Assert.Equal(1, exists.ExitCode);
        }
    }

    [BerthOnlyFact(Why)]
    public async Task Two_factor_user_password_is_refused_with_the_token_hint_and_a_personal_access_token_works()
    {
        var project = await server.CreateProjectAsync("group", $"tfa-{_suffix}");
        var user = await server.CreateUserAsync($"tfa-{_suffix}", RandomPassword());
        await server.AddProjectMemberAsync(project, user.Username, AccessLevels.Developer);
        await server.EnableTwoFactorAsync(user.Username);

        // podman login prints only "invalid username/password" for a 401 (containers/common hides the
        // registry's message); its debug log carries the message, and skopeo shows it as is.
        var login = await LoginUncheckedAsync(user.Username, user.Password, "--log-level=debug");
        Assert.False(login.Succeeded, "login with the password of a 2FA user should fail\n" + login.Describe());
        Assert.Contains("invalid username/password", login.StandardError, StringComparison.Ordinal);
        Assert.Contains("personal access token", login.StandardError, StringComparison.Ordinal);
        Assert.Contains("write_registry", login.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain(server.Host, await File.ReadAllTextAsync(_tools.AuthFilePath), StringComparison.Ordinal);

        var inspect = await _tools.SkopeoUncheckedAsync(["inspect", "--tls-verify=false", "--creds", $"{user.Username}:{user.Password}", $"docker://{server.Host}/{project}/app:v1"]);
        Assert.False(inspect.Succeeded, inspect.Describe());
        Assert.Contains("two-factor authentication is enabled", inspect.StandardError, StringComparison.Ordinal);
        Assert.Contains("personal access token", inspect.StandardError, StringComparison.Ordinal);

        var pat = await server.CreatePersonalAccessTokenAsync(user.Username, ["write_registry"]);
        Assert.StartsWith("bpat-", pat, StringComparison.Ordinal);
        await LoginAsync(user.Username, pat);
        var image = $"{server.Host}/{project}/app:v1";
        await TestImages.BuildWithPodmanAsync(_tools, image, $"2fa {_suffix}\n");
        await _tools.PodmanAsync(["push", "--tls-verify=false", "--signature-policy", _tools.PolicyPath, image], PodmanTimeout);
        await _tools.SkopeoAsync(["inspect", "--raw", "--tls-verify=false", "--creds", RootCredentials, $"docker://{image}"]);
    }

    [BerthOnlyFact(Why)]
    public async Task Skopeo_copy_with_a_write_registry_deploy_token_pushes()
    {
        var project = await server.CreateProjectAsync("group", $"deploy-{_suffix}");
        var token = await server.CreateDeployTokenAsync(project, ["write_registry"]);
        Assert.StartsWith("bdt-", token.Token, StringComparison.Ordinal);

        var image = $"{server.Host}/{project}/app:v1";
        var (_, digest) = await TestImages.PushWithSkopeoAsync(_tools, image, $"deployed {_suffix}\n", token.Credentials);

        var inspected = await _tools.SkopeoAsync(["inspect", "--tls-verify=false", "--creds", RootCredentials, "--format", "{{.Digest}}", $"docker://{image}"]);
        Assert.Equal(digest, inspected.StandardOutput.Trim());
    }

    [BerthOnlyFact(Why)]
    public async Task Read_registry_deploy_token_inspects_but_cannot_push()
    {
        var project = await server.CreateProjectAsync("group", $"readdt-{_suffix}");
        var token = await server.CreateDeployTokenAsync(project, ["read_registry"]);
        var image = $"{server.Host}/{project}/app:v1";
        var (layout, digest) = await TestImages.PushWithSkopeoAsync(_tools, image, $"read only {_suffix}\n", RootCredentials);

        var inspected = await _tools.SkopeoAsync(["inspect", "--tls-verify=false", "--creds", token.Credentials, "--format", "{{.Digest}}", $"docker://{image}"]);
        Assert.Equal(digest, inspected.StandardOutput.Trim());

        var push = await _tools.SkopeoUncheckedAsync(
            ["copy", "--dest-tls-verify=false", "--dest-creds", token.Credentials, $"oci:{layout.Path}:v1", $"docker://{server.Host}/{project}/app:v2"]);
        Assert.False(push.Succeeded, "a read_registry deploy token should not push\n" + push.Describe());
        Assert.Contains("requested access to the resource is denied", push.StandardError, StringComparison.OrdinalIgnoreCase);
    }

    [BerthOnlyFact(Why)]
    public async Task Anonymous_skopeo_inspect_works_for_a_public_project_and_gets_401_for_a_private_one()
    {
        var publicGroup = await server.CreateGroupAsync($"pub-{_suffix}", "public");
        var publicProject = await server.CreateProjectAsync(publicGroup, "app", "public");
        var privateProject = await server.CreateProjectAsync("group", $"priv-{_suffix}");
        var publicImage = $"{server.Host}/{publicProject}/img:v1";
        var privateImage = $"{server.Host}/{privateProject}/img:v1";
        var (_, publicDigest) = await TestImages.PushWithSkopeoAsync(_tools, publicImage, $"public {_suffix}\n", RootCredentials);
        await TestImages.PushWithSkopeoAsync(_tools, privateImage, $"private {_suffix}\n", RootCredentials);

        // No --creds, and the sandbox's auth file is empty: anonymous.
        var inspected = await _tools.SkopeoAsync(["inspect", "--tls-verify=false", "--format", "{{.Digest}}", $"docker://{publicImage}"]);
        Assert.Equal(publicDigest, inspected.StandardOutput.Trim());
        var tags = await _tools.SkopeoAsync(["list-tags", "--tls-verify=false", $"docker://{server.Host}/{publicProject}/img"]);
        Assert.Equal(["v1"], JsonDocument.Parse(tags.StandardOutput).RootElement.GetProperty("Tags").EnumerateArray().Select(t => t.GetString()));

        var refused = await _tools.SkopeoUncheckedAsync(["inspect", "--tls-verify=false", $"docker://{privateImage}"]);
        Assert.False(refused.Succeeded, "anonymous inspect of a private project should fail\n" + refused.Describe());
        Assert.Matches("(?i)unauthorized|401", refused.StandardError);
        Assert.DoesNotContain("manifest unknown", refused.StandardError, StringComparison.OrdinalIgnoreCase);

        // An anonymous push to the public project is refused too.
        var layout = await TestImages.BuildLayoutAsync(_tools, $"anonymous {_suffix}\n");
        var push = await _tools.SkopeoUncheckedAsync(["copy", "--dest-tls-verify=false", $"oci:{layout.Path}:v1", $"docker://{server.Host}/{publicProject}/img:anon"]);
        Assert.False(push.Succeeded, "an anonymous push should fail\n" + push.Describe());
        Assert.Matches("(?i)unauthorized|401|denied", push.StandardError);
    }

    private string RootCredentials => $"{server.Username}:{server.Password}";

    private static string RandomPassword() => "pw-" + Guid.NewGuid().ToString("N");

    private Task<ProcessResult> LoginUncheckedAsync(string username, string password, params string[] extra) =>
        _tools.PodmanUncheckedAsync(["login", "--tls-verify=false", .. extra, "--username", username, "--password", password, server.Host]);

    private async Task LoginAsync(string username, string password)
    {
        var login = await LoginUncheckedAsync(username, password);
        Assert.True(login.Succeeded, $"podman login as {username} failed\n{login.Describe()}\n{server.ServerLogTail(40)}");
        Assert.Contains("Login Succeeded", login.StandardOutput, StringComparison.Ordinal);
    }

    public void Dispose() => _tools.Dispose();
}
