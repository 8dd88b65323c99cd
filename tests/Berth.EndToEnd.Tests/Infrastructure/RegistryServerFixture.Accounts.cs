using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Berth.EndToEnd.Tests.Infrastructure;

/// <summary>A user made by <see cref="RegistryServerFixture.CreateUserAsync"/>.</summary>
public sealed record TestUser(long Id, string Username, string Password);

/// <summary>A deploy token made by <see cref="RegistryServerFixture.CreateDeployTokenAsync"/>: its username and secret.</summary>
public sealed record TestDeployToken(string Username, string Token)
{
    /// <summary><c>username:token</c>, for skopeo's <c>--creds</c>/<c>--dest-creds</c>.</summary>
    public string Credentials => $"{Username}:{Token}";
}

/// <summary>GitLab access levels, as <c>/api/v4</c> takes them.</summary>
public static class AccessLevels
{
    /// <summary>Guest (10).</summary>
    public const int Guest = 10;
    /// <summary>Reporter (20): pulls private projects.</summary>
    public const int Reporter = 20;
    /// <summary>Developer (30): pushes and deletes.</summary>
    public const int Developer = 30;
    /// <summary>Maintainer (40).</summary>
    public const int Maintainer = 40;
    /// <summary>Owner (50).</summary>
    public const int Owner = 50;
}

/// <summary>
/// The account side of the fixture (Berth only): signs in as <c>root</c> with the password handed to the server
/// in <c>BERTH_ROOT_PASSWORD</c> (<c>POST /oauth/token</c>, password grant), creates the group and project of
/// <see cref="RepositoryPrefix"/>, and gives tests users, groups, projects, members, personal access tokens,
/// deploy tokens (all through the real <c>/api/v4</c>) and 2FA (through the <c>berth user 2fa enable</c> CLI verb,
/// run against the same data directory while the server runs).
/// </summary>
public sealed partial class RegistryServerFixture
{
    /// <summary>The administrator Berth creates on first start.</summary>
    public const string RootUsername = "root";

    private readonly SemaphoreSlim _apiLock = new(1, 1);
    private HttpClient? _api;
    private bool _provisioned;

    /// <summary>The password of <c>root</c> (Berth only; given to the server as <c>BERTH_ROOT_PASSWORD</c>).</summary>
    public string RootPassword { get; } = "";

    /// <summary>
    /// Signs in as root (once; the API token is stored in the database, so it survives restarts) and, on the
    /// first start, creates the groups and project of <see cref="RepositoryPrefix"/>: private, registry on.
    /// </summary>
    private async Task ProvisionAsync(CancellationToken cancellationToken)
    {
        await ApiAsync(cancellationToken);
        if (_provisioned)
        {
            return;
        }
        var segments = RepositoryPrefix.Split('/');
        string? parent = null;
        foreach (var segment in segments[..^1])
        {
            await CreateGroupAsync(segment, "private", parent, cancellationToken);
            parent = parent is null ? segment : $"{parent}/{segment}";
        }
        var project = await CreateProjectAsync(parent, segments[^1], "private", cancellationToken);
        if (project != RepositoryPrefix)
        {
            throw new InvalidOperationException($"BERTH_E2E_REPOSITORY_PREFIX '{RepositoryPrefix}' must be <group>[/<subgroup>…]/<project>; got project {project}");
        }
        _provisioned = true;
        AppendLog($"=== provisioned {RepositoryPrefix} (private, registry on) as {RootUsername}");
    }

    /// <summary>An <c>/api/v4</c> client signed in as root (Bearer token from <c>POST /oauth/token</c>).</summary>
    private async Task<HttpClient> ApiAsync(CancellationToken cancellationToken)
    {
        RequireBerth();
        if (_api is not null)
        {
            return _api;
        }
        await _apiLock.WaitAsync(cancellationToken);
        try
        {
            if (_api is not null)
            {
                return _api;
            }
            var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromMinutes(1) };
            using var form = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "password",
                ["username"] = RootUsername,
                ["password"] = RootPassword,
            });
            using var response = await client.PostAsync("oauth/token", form, cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                client.Dispose();
                throw new InvalidOperationException($"POST /oauth/token as {RootUsername} -> {(int)response.StatusCode}: {body}\n{ServerLogTail()}");
            }
            var token = JsonNode.Parse(body)?["access_token"]?.GetValue<string>()
                ?? throw new InvalidOperationException($"POST /oauth/token answered without access_token: {body}");
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            _api = client;
            return client;
        }
        finally
        {
            _apiLock.Release();
        }
    }

    /// <summary>Sends one <c>/api/v4</c> request as root with a JSON body; throws with the answer unless it succeeds.</summary>
    public async Task<JsonNode> ApiRequestAsync(HttpMethod method, string path, object? body = null, CancellationToken cancellationToken = default)
    {
        var api = await ApiAsync(cancellationToken);
        using var request = new HttpRequestMessage(method, "api/v4/" + path.TrimStart('/'));
        if (body is not null)
        {
            request.Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        }
        using var response = await api.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{method} /api/v4/{path.TrimStart('/')} -> {(int)response.StatusCode}: {text}\n{ServerLogTail(40)}");
        }
        return JsonNode.Parse(text.Length == 0 ? "null" : text) ?? new JsonObject();
    }

    /// <summary>Creates a user (<c>POST /api/v4/users</c>) with a password; admins when <paramref name="admin"/>.</summary>
    public async Task<TestUser> CreateUserAsync(string username, string password, bool admin = false, CancellationToken cancellationToken = default)
    {
        var user = await ApiRequestAsync(HttpMethod.Post, "users", new
        {
            username,
            email = $"{username}@e2e.example",
            name = username,
            password,
            admin,
            skip_confirmation = true,
        }, cancellationToken);
        return new TestUser(user["id"]!.GetValue<long>(), username, password);
    }

    /// <summary>The id of a user, by username (<c>GET /api/v4/users?username=</c>).</summary>
    public async Task<long> GetUserIdAsync(string username, CancellationToken cancellationToken = default)
    {
        var users = await ApiRequestAsync(HttpMethod.Get, $"users?username={Uri.EscapeDataString(username)}", cancellationToken: cancellationToken);
        return users.AsArray().SingleOrDefault()?["id"]?.GetValue<long>()
            ?? throw new InvalidOperationException($"no user {username}");
    }

    /// <summary>Creates a group (or a subgroup of <paramref name="parentPath"/>); returns its full path.</summary>
    public async Task<string> CreateGroupAsync(string path, string visibility = "private", string? parentPath = null, CancellationToken cancellationToken = default)
    {
        long? parentId = null;
        if (parentPath is not null)
        {
            var parent = await ApiRequestAsync(HttpMethod.Get, $"groups/{Uri.EscapeDataString(parentPath)}", cancellationToken: cancellationToken);
            parentId = parent["id"]!.GetValue<long>();
        }
        var group = await ApiRequestAsync(HttpMethod.Post, "groups", new { name = path, path, visibility, parent_id = parentId }, cancellationToken);
        return group["full_path"]!.GetValue<string>();
    }

    /// <summary>
    /// Creates a project in <paramref name="namespacePath"/> (a group's full path; null: root's personal
    /// namespace) with its Container Registry on; returns its full path (<c>namespace/name</c>).
    /// </summary>
    public async Task<string> CreateProjectAsync(string? namespacePath, string name, string visibility = "private", CancellationToken cancellationToken = default)
    {
        var project = await ApiRequestAsync(HttpMethod.Post, "projects", new
        {
            name,
            path = name,
            namespace_id = namespacePath,
            visibility,
            container_registry_enabled = true,
        }, cancellationToken);
        return project["path_with_namespace"]!.GetValue<string>();
    }

    /// <summary>Makes <paramref name="username"/> a direct member of a project (see <see cref="AccessLevels"/>).</summary>
    public async Task AddProjectMemberAsync(string projectPath, string username, int accessLevel, CancellationToken cancellationToken = default)
    {
        var userId = await GetUserIdAsync(username, cancellationToken);
        await ApiRequestAsync(HttpMethod.Post, $"projects/{Uri.EscapeDataString(projectPath)}/members",
            new { user_id = userId, access_level = accessLevel }, cancellationToken);
    }

    /// <summary>Creates a personal access token for a user (admin route <c>POST /api/v4/users/:id/personal_access_tokens</c>); returns its secret.</summary>
    public async Task<string> CreatePersonalAccessTokenAsync(string username, IReadOnlyList<string> scopes, CancellationToken cancellationToken = default)
    {
        var userId = await GetUserIdAsync(username, cancellationToken);
        var token = await ApiRequestAsync(HttpMethod.Post, $"users/{userId.ToString(CultureInfo.InvariantCulture)}/personal_access_tokens",
            new { name = "e2e-" + string.Join('-', scopes), scopes }, cancellationToken);
        return token["token"]!.GetValue<string>();
    }

    /// <summary>Creates a deploy token of a project (<c>POST /api/v4/projects/:id/deploy_tokens</c>).</summary>
    public async Task<TestDeployToken> CreateDeployTokenAsync(string projectPath, IReadOnlyList<string> scopes, CancellationToken cancellationToken = default)
    {
        var token = await ApiRequestAsync(HttpMethod.Post, $"projects/{Uri.EscapeDataString(projectPath)}/deploy_tokens",
            new { name = "e2e-" + string.Join('-', scopes), scopes }, cancellationToken);
        return new TestDeployToken(token["username"]!.GetValue<string>(), token["token"]!.GetValue<string>());
    }

    /// <summary>
    /// Turns on two-factor authentication for a user with the admin CLI verb
    /// (<c>dotnet berth.dll user 2fa enable &lt;user&gt; --data-dir …</c>) against the running server's data;
    /// returns what it printed (the TOTP secret and recovery codes).
    /// </summary>
    public async Task<string> EnableTwoFactorAsync(string username, CancellationToken cancellationToken = default)
    {
        RequireBerth();
        var environment = new Dictionary<string, string> { ["DOTNET_NOLOGO"] = "1" };
        var result = await ProcessRunner.RunCheckedAsync(
            "dotnet", [ServerDll, "user", "2fa", "enable", username, "--data-dir", DataDirectory],
            _root.Path, environment, TimeSpan.FromMinutes(2), AppendLog, () => ServerLogTail(), cancellationToken);
        if (!result.StandardOutput.Contains("secret:", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"berth user 2fa enable printed no secret\n{result.Describe()}");
        }
        return result.StandardOutput;
    }

    private void RequireBerth()
    {
        if (Target != RegistryTarget.Berth)
        {
            throw new InvalidOperationException("accounts exist only on Berth; mark the test [BerthOnlyFact]");
        }
    }
}
