using System.Net;
using System.Net.Http.Headers;
using Berth.Metadata;

namespace Berth.Auth.Tests;

/// <summary>The seeded world of the permission matrix: a group with one project per visibility (plus one with
/// its registry switched off), a user per access level (members of the group, so levels are inherited),
/// an outsider, an admin, a 2FA user, personal access tokens of every scope and deploy tokens.</summary>
public sealed class MatrixWorld : IAsyncLifetime
{
    public const string Password = "correct horse battery";
    public AuthFactory Factory { get; } = new();
    public Dictionary<string, UserEntity> Users { get; } = new();
    public Dictionary<string, ProjectEntity> Projects { get; } = new();
    public Dictionary<(string User, string Scopes), string> Pats { get; } = new();
    public Dictionary<(string Project, string Scopes), (string Username, string Secret)> DeployTokens { get; } = new();

    public static readonly string[] Levels = ["outsider", "guest", "reporter", "developer", "maintainer", "owner", "admin"];
    public static readonly string[] Visibilities = ["private", "internal", "public"];
    public static readonly string[] PatScopes = ["read_registry", "write_registry", "api", "read_api"];

    public async Task InitializeAsync()
    {
        var group = await Factory.AddGroupAsync("matrix");
        foreach (var v in Visibilities) Projects[v] = await Factory.AddProjectAsync(group, v, v);
        Projects["off"] = await Factory.AddProjectAsync(group, "off", "public", registryEnabled: false);
        foreach (var name in Levels)
        {
            Users[name] = await Factory.AddUserAsync("m-" + name, Password, admin: name == "admin");
            if (Enum.TryParse<AccessLevel>(name, ignoreCase: true, out var level))
                await Factory.AddMemberAsync(Users[name], level, group: group);
            foreach (var scope in PatScopes) Pats[(name, scope)] = await Factory.AddPersonalAccessTokenAsync(Users[name], scope);
        }
        Users["2fa"] = await Factory.AddUserAsync("m-2fa", Password, twoFactor: true);
        await Factory.AddMemberAsync(Users["2fa"], AccessLevel.Developer, group: group);
        Pats[("2fa", "write_registry")] = await Factory.AddPersonalAccessTokenAsync(Users["2fa"], "write_registry");
        foreach (var v in Visibilities)
        {
            DeployTokens[(v, "read_registry")] = await Factory.AddDeployTokenAsync(Projects[v], "read_registry");
            DeployTokens[(v, "write_registry")] = await Factory.AddDeployTokenAsync(Projects[v], "read_registry write_registry");
        }
    }

    public Task DisposeAsync()
    {
        Factory.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>
/// The full permission matrix of DESIGN.md's access rules, asked of the token service exactly as clients ask:
/// <c>GET /jwt/auth?scope=repository:&lt;project&gt;/app:pull,push,delete</c> with each credential, and the
/// grant read back from the issued JWT.
/// </summary>
public sealed class PermissionMatrixTests(MatrixWorld world) : IClassFixture<MatrixWorld>
{
    private static string[] Expected(string level, string visibility, string? scope)
    {
        bool admin = level == "admin";
        int rank = Array.IndexOf(MatrixWorld.Levels, level); // outsider 0, guest 1, reporter 2, developer 3 …
        bool pull = admin || visibility == "public" || (visibility == "internal" && level != "anonymous") || rank >= 2;
        bool push = admin || rank >= 3;
        if (level == "anonymous") { pull = visibility == "public"; push = false; }
        if (scope == "read_registry") push = false;
        if (scope == "read_api") pull = push = false;
        var actions = new List<string>();
        if (pull) actions.Add("pull");
        if (push) { actions.Add("push"); actions.Add("delete"); }
        return actions.ToArray();
    }

    public static TheoryData<string, string, string?> UserCases()
    {
        var data = new TheoryData<string, string, string?>();
        foreach (var level in MatrixWorld.Levels)
        foreach (var visibility in MatrixWorld.Visibilities)
        {
            data.Add(level, visibility, null); // password
            foreach (var scope in MatrixWorld.PatScopes) data.Add(level, visibility, scope);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(UserCases))]
    public async Task User_grant_follows_access_level_visibility_and_token_scope(string level, string visibility, string? scope)
    {
        var user = world.Users[level];
        var secret = scope is null ? MatrixWorld.Password : world.Pats[(level, scope)];
        var repository = $"matrix/{visibility}/app";
        var (status, _, granted, body) = await world.Factory.RequestTokenAsync(user.Username, secret, $"repository:{repository}:pull,push,delete");
        Assert.True(status == 200, body);
        Assert.Equal(Expected(level, visibility, scope), granted["repository:" + repository]);
    }

    [Theory]
    [InlineData("private")]
    [InlineData("internal")]
    [InlineData("public")]
    public async Task Anonymous_may_pull_only_public_projects(string visibility)
    {
        var repository = $"matrix/{visibility}";
        var (status, _, granted, body) = await world.Factory.RequestTokenAsync(null, null, $"repository:{repository}:pull,push,delete");
        Assert.True(status == 200, body);
        Assert.Equal(Expected("anonymous", visibility, null), granted["repository:" + repository]);
    }

    public static TheoryData<string, string, string> DeployCases()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var owner in MatrixWorld.Visibilities)
        foreach (var target in MatrixWorld.Visibilities)
        foreach (var scopes in new[] { "read_registry", "write_registry" })
            data.Add(owner, target, scopes);
        return data;
    }

    [Theory]
    [MemberData(nameof(DeployCases))]
    public async Task Deploy_tokens_work_only_in_their_project_per_scope(string ownerProject, string targetProject, string scopes)
    {
        var (username, secret) = world.DeployTokens[(ownerProject, scopes)];
        var repository = $"matrix/{targetProject}/image";
        var (status, _, granted, body) = await world.Factory.RequestTokenAsync(username, secret, $"repository:{repository}:pull,push,delete");
        Assert.True(status == 200, body);
        string[] expected = ownerProject != targetProject
            ? []
            : scopes == "write_registry" ? ["pull", "push"] : ["pull"];
        Assert.Equal(expected, granted["repository:" + repository]);
    }

    [Theory]
    [InlineData("admin")]
    [InlineData("owner")]
    [InlineData("developer")]
    public async Task Registry_switched_off_for_the_project_grants_nothing(string level)
    {
        var (status, _, granted, body) = await world.Factory.RequestTokenAsync(world.Users[level].Username, MatrixWorld.Password, "repository:matrix/off:pull,push,delete");
        Assert.True(status == 200, body);
        Assert.Empty(granted["repository:matrix/off"]);
    }

    [Fact]
    public async Task Two_factor_user_password_is_refused_with_a_hint_and_a_pat_works()
    {
        var (status, _, _, body) = await world.Factory.RequestTokenAsync("m-2fa", MatrixWorld.Password, "repository:matrix/private:pull");
        Assert.Equal(401, status);
        Assert.Contains("personal access token", body);
        Assert.Contains("read_registry", body);

        var (ok, _, granted, body2) = await world.Factory.RequestTokenAsync("m-2fa", world.Pats[("2fa", "write_registry")], "repository:matrix/private:pull,push");
        Assert.True(ok == 200, body2);
        Assert.Equal(["pull", "push"], granted["repository:matrix/private"]);

        // The same rule applies to HTTP Basic straight at /v2.
        var client = world.Factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v2/matrix/private/tags/list");
        request.Headers.Authorization = AuthFactory.Basic("m-2fa", MatrixWorld.Password);
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("personal access token", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Wrong_password_unknown_user_and_revoked_or_expired_tokens_are_refused()
    {
        Assert.Equal(401, (await world.Factory.RequestTokenAsync("m-developer", "wrong password", "repository:matrix/public:pull")).Status);
        Assert.Equal(401, (await world.Factory.RequestTokenAsync("nobody-here", "whatever-password", "repository:matrix/public:pull")).Status);
        var revoked = await world.Factory.AddPersonalAccessTokenAsync(world.Users["developer"], "api", revoked: true);
        var (s1, _, _, b1) = await world.Factory.RequestTokenAsync("m-developer", revoked, "repository:matrix/public:pull");
        Assert.Equal(401, s1);
        Assert.Contains("revoked", b1);
        var expired = await world.Factory.AddPersonalAccessTokenAsync(world.Users["developer"], "api", expiresAt: DateTime.UtcNow.AddDays(-1));
        var (s2, _, _, b2) = await world.Factory.RequestTokenAsync("m-developer", expired, "repository:matrix/public:pull");
        Assert.Equal(401, s2);
        Assert.Contains("expired", b2);
        // A PAT belongs to its owner: another username with it is refused.
        Assert.Equal(401, (await world.Factory.RequestTokenAsync("m-reporter", world.Pats[("developer", "api")], "repository:matrix/public:pull")).Status);
    }

    [Fact]
    public async Task Blocked_users_cannot_sign_in()
    {
        var blocked = await world.Factory.AddUserAsync("m-blocked", MatrixWorld.Password, blocked: true);
        var (status, _, _, body) = await world.Factory.RequestTokenAsync(blocked.Username, MatrixWorld.Password, "repository:matrix/public:pull");
        Assert.Equal(401, status);
        Assert.Contains("blocked", body);
    }

    [Fact]
    public async Task Catalog_scope_is_granted_to_signed_in_users_only()
    {
        var (_, _, anonymous, _) = await world.Factory.RequestTokenAsync(null, null, "registry:catalog:*");
        Assert.Empty(anonymous["registry:catalog"]);
        var (_, _, user, _) = await world.Factory.RequestTokenAsync("m-reporter", MatrixWorld.Password, "registry:catalog:*");
        Assert.Equal(["*"], user["registry:catalog"]);
    }

    [Fact]
    public async Task Repositories_under_no_project_grant_nothing_even_to_admins()
    {
        var (_, _, granted, _) = await world.Factory.RequestTokenAsync("m-admin", MatrixWorld.Password, "repository:nogroup/noproject:pull,push", "repository:matrix/private/a/b/c/d:pull");
        Assert.Empty(granted["repository:nogroup/noproject"]);
        Assert.Empty(granted["repository:matrix/private/a/b/c/d"]); // four segments below the project: too deep
        var (_, _, deep, _) = await world.Factory.RequestTokenAsync("m-admin", MatrixWorld.Password, "repository:matrix/private/a/b/c:pull");
        Assert.Equal(["pull"], deep["repository:matrix/private/a/b/c"]);
    }

    [Fact]
    public async Task Several_scopes_in_one_request_get_partial_grants()
    {
        var (status, _, granted, _) = await world.Factory.RequestTokenAsync("m-reporter", MatrixWorld.Password,
            "repository:matrix/private/app:pull,push", "repository:matrix/public/app:pull", "repository:other/thing:pull");
        Assert.Equal(200, status);
        Assert.Equal(["pull"], granted["repository:matrix/private/app"]);
        Assert.Equal(["pull"], granted["repository:matrix/public/app"]);
        Assert.Empty(granted["repository:other/thing"]);
    }
}
