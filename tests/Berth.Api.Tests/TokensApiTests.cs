using Berth.Api.Tests.Infrastructure;
using Berth.Auth;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Berth.Api.Tests;

public sealed class TokensApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Theory]
    [InlineData("/api/v4/personal_access_tokens")]
    [InlineData("/api/v4/user/personal_access_tokens")]
    public async Task Create_own_token(string url)
    {
        var (client, userId, username) = await factory.NewUserClientAsync();
        var created = (await client.ApiPostAsync(url, new { name = "laptop", scopes = new[] { "read_registry", "write_registry" }, expires_at = "2099-06-30" })).Expect(201);
        var token = created.Str("token");
        Assert.StartsWith("bpat-", token);
        Assert.Equal("laptop", created.Str("name"));
        Assert.Equal(["read_registry", "write_registry"], created["scopes"]!.AsArray().Select(s => s!.GetValue<string>()).Order());
        Assert.Equal("2099-06-30", created.Str("expires_at"));
        Assert.True(created["active"]!.GetValue<bool>());
        Assert.False(created["revoked"]!.GetValue<bool>());
        Assert.Equal(userId, created["user_id"]!.GetValue<long>());

        var listed = (await client.ApiGetAsync("/api/v4/personal_access_tokens")).Expect(200).AsArray();
        var entry = listed.Single(t => t!.Id() == created.Id())!;
        Assert.Null(entry["token"]);
        // The registry accepts it as a password for the owner.
        var check = await factory.WithServicesAsync(sp => sp.GetRequiredService<CredentialValidator>().ValidateAsync(username, token, null, CancellationToken.None));
        Assert.True(check.Succeeded, check.Message);
    }

    [Fact]
    public async Task Token_validation()
    {
        var (client, _, _) = await factory.NewUserClientAsync();
        const string url = "/api/v4/personal_access_tokens";
        Assert.Equal("name is missing", (await client.ApiPostAsync(url, new { scopes = new[] { "api" } })).Expect(400).Str("error"));
        Assert.Contains("scopes is missing", (await client.ApiPostAsync(url, new { name = "x" })).Expect(400).Str("error"));
        Assert.NotNull((await client.ApiPostAsync(url, new { name = "x", scopes = new[] { "sudo" } })).Expect(400)["message"]!["scopes"]);
        Assert.NotNull((await client.ApiPostAsync(url, new { name = "x", scopes = new[] { "api" }, expires_at = "2001-01-01" })).Expect(400)["message"]!["expires_at"]);
        (await client.ApiPostAsync(url, new { name = "x", scopes = new[] { "api" }, expires_at = "someday" })).Expect(400);
    }

    [Fact]
    public async Task Users_see_only_their_tokens_and_admins_see_all()
    {
        var (alice, aliceId, _) = await factory.NewUserClientAsync("alice");
        var (bob, bobId, _) = await factory.NewUserClientAsync("bob");
        var bobs = (await bob.ApiPostAsync("/api/v4/personal_access_tokens", new { name = "bob-token", scopes = new[] { "read_api" } })).Expect(201);
        var aliceList = (await alice.ApiGetAsync("/api/v4/personal_access_tokens")).Expect(200).AsArray();
        Assert.All(aliceList, t => Assert.Equal(aliceId, t!["user_id"]!.GetValue<long>()));
        (await alice.ApiGetAsync($"/api/v4/personal_access_tokens/{bobs.Id()}")).Expect(404);
        (await alice.ApiDeleteAsync($"/api/v4/personal_access_tokens/{bobs.Id()}")).Expect(404);
        var root = await factory.RootClientAsync();
        var forBob = (await root.ApiGetAsync($"/api/v4/personal_access_tokens?user_id={bobId}")).Expect(200).AsArray();
        Assert.Contains(forBob, t => t!.Id() == bobs.Id());
        Assert.All(forBob, t => Assert.Equal(bobId, t!["user_id"]!.GetValue<long>()));
        Assert.Equal("bob-token", (await root.ApiGetAsync($"/api/v4/personal_access_tokens/{bobs.Id()}")).Expect(200).Str("name"));
    }

    [Fact]
    public async Task Revoke_a_token()
    {
        var (client, _, _) = await factory.NewUserClientAsync();
        var created = (await client.ApiPostAsync("/api/v4/personal_access_tokens", new { name = "temp", scopes = new[] { "api" } })).Expect(201);
        var other = factory.ClientWithToken(created.Str("token"));
        (await other.ApiGetAsync("/api/v4/user")).Expect(200);
        (await client.ApiDeleteAsync($"/api/v4/personal_access_tokens/{created.Id()}")).Expect(204);
        (await other.ApiGetAsync("/api/v4/user")).Expect(401);
        var state = (await client.ApiGetAsync($"/api/v4/personal_access_tokens/{created.Id()}")).Expect(200);
        Assert.True(state["revoked"]!.GetValue<bool>());
        Assert.False(state["active"]!.GetValue<bool>());
        var inactive = (await client.ApiGetAsync("/api/v4/personal_access_tokens?state=inactive")).Expect(200).AsArray();
        Assert.Equal([created.Id()], inactive.Select(t => t!.Id()));
    }

    [Fact]
    public async Task Self_token_endpoints()
    {
        var (client, _, _) = await factory.NewUserClientAsync();
        var created = (await client.ApiPostAsync("/api/v4/personal_access_tokens", new { name = "me", scopes = new[] { "read_api" } })).Expect(201);
        var me = factory.ClientWithToken(created.Str("token"));
        Assert.Equal(created.Id(), (await me.ApiGetAsync("/api/v4/personal_access_tokens/self")).Expect(200).Id());
        (await me.ApiDeleteAsync("/api/v4/personal_access_tokens/self")).Expect(204);
        (await me.ApiGetAsync("/api/v4/user")).Expect(401);
    }

    [Fact]
    public async Task Admin_creates_tokens_for_users()
    {
        var root = await factory.RootClientAsync();
        var (client, userId, _) = await factory.NewUserClientAsync();
        var created = (await root.ApiPostAsync($"/api/v4/users/{userId}/personal_access_tokens", new { name = "issued", scopes = new[] { "read_registry" } })).Expect(201);
        Assert.Equal(userId, created["user_id"]!.GetValue<long>());
        Assert.Contains((await client.ApiGetAsync("/api/v4/personal_access_tokens")).Expect(200).AsArray(), t => t!.Id() == created.Id());
        (await client.ApiPostAsync("/api/v4/users/1/personal_access_tokens", new { name = "steal", scopes = new[] { "api" } })).Expect(403);
        (await root.ApiPostAsync("/api/v4/users/999999/personal_access_tokens", new { name = "x", scopes = new[] { "api" } })).Expect(404);
    }

    [Fact]
    public async Task Scopes_limit_the_api()
    {
        var root = await factory.RootClientAsync();
        var readApi = factory.ClientWithToken(await factory.TokenAsync("root", "read_api"));
        var registryOnly = factory.ClientWithToken(await factory.TokenAsync("root", "read_registry", "write_registry"));
        (await readApi.ApiGetAsync("/api/v4/user")).Expect(200);
        (await readApi.ApiGetAsync("/api/v4/projects")).Expect(200);
        var refused = (await readApi.ApiPostAsync("/api/v4/groups", new { name = "x", path = ApiFactory.Unique("x") })).Expect(403);
        Assert.Equal("insufficient_scope", refused.Str("error"));
        Assert.Equal("api", refused.Str("scope"));
        var group = await Setup.GroupAsync(root);
        (await readApi.ApiDeleteAsync($"/api/v4/groups/{group.Id()}")).Expect(403);
        Assert.Equal("insufficient_scope", (await registryOnly.ApiGetAsync("/api/v4/user")).Expect(403).Str("error"));
        (await registryOnly.ApiGetAsync("/api/v4/projects")).Expect(403);
    }

    [Fact]
    public async Task Expired_tokens_are_refused()
    {
        var token = await factory.TokenAsync("root", "api");
        var client = factory.ClientWithToken(token);
        (await client.ApiGetAsync("/api/v4/user")).Expect(200);
        var hash = SecretTokens.Hash(token);
        await factory.WithDbAsync(db => db.PersonalAccessTokens.Where(t => t.TokenHash == hash).ExecuteUpdateAsync(s => s.SetProperty(t => t.ExpiresAt, DateTime.UtcNow.AddMinutes(-1))));
        (await client.ApiGetAsync("/api/v4/user")).Expect(401);
    }

    [Fact]
    public async Task Deploy_tokens()
    {
        var root = await factory.RootClientAsync();
        var project = await Setup.ProjectAsync(root, (await Setup.GroupAsync(root)).Id());
        var (dev, devId, _) = await factory.NewUserClientAsync("dev");
        var (maint, maintId, _) = await factory.NewUserClientAsync("maint");
        await Setup.MemberAsync(root, "projects", project.Id(), devId, 30);
        await Setup.MemberAsync(root, "projects", project.Id(), maintId, 40);
        var url = $"/api/v4/projects/{project.Id()}/deploy_tokens";

        (await dev.ApiPostAsync(url, new { name = "ci", scopes = new[] { "read_registry" } })).Expect(403);
        (await dev.ApiGetAsync(url)).Expect(403);
        var created = (await maint.ApiPostAsync(url, new { name = "ci", scopes = new[] { "read_registry", "write_registry" }, expires_at = "2099-01-01T00:00:00Z" })).Expect(201);
        Assert.StartsWith("bdt-", created.Str("token"));
        Assert.Equal($"berth+deploy-token-{created.Id()}", created.Str("username"));
        Assert.Equal("2099-01-01T00:00:00.000Z", created.Str("expires_at"));
        Assert.False(created["revoked"]!.GetValue<bool>());
        Assert.False(created["expired"]!.GetValue<bool>());

        var custom = (await maint.ApiPostAsync(url, new { name = "named", username = ApiFactory.Unique("deployer"), scopes = new[] { "read_registry" } })).Expect(201);
        (await maint.ApiPostAsync(url, new { name = "dup", username = custom.Str("username"), scopes = new[] { "read_registry" } })).Expect(409);
        (await maint.ApiPostAsync(url, new { name = "bad", scopes = new[] { "api" } })).Expect(400);
        (await maint.ApiPostAsync(url, new { scopes = new[] { "read_registry" } })).Expect(400);

        var list = (await maint.ApiGetAsync(url)).Expect(200).AsArray();
        Assert.Equal([created.Id(), custom.Id()], list.Select(t => t!.Id()));
        Assert.All(list, t => Assert.Null(t!["token"]));
        Assert.Equal("ci", (await maint.ApiGetAsync($"{url}/{created.Id()}")).Expect(200).Str("name"));

        var validator = () => factory.WithServicesAsync(sp => sp.GetRequiredService<CredentialValidator>().ValidateAsync(created.Str("username"), created.Str("token"), null, CancellationToken.None));
        var ok = await validator();
        Assert.True(ok.Succeeded, ok.Message);
        Assert.Equal(project.Id(), ok.Principal!.ProjectId);
        // A deploy token is not an API token.
        (await factory.ClientWithToken(created.Str("token")).ApiGetAsync("/api/v4/user")).Expect(401);

        (await dev.ApiDeleteAsync($"{url}/{created.Id()}")).Expect(403);
        (await maint.ApiDeleteAsync($"{url}/{created.Id()}")).Expect(204);
        Assert.False((await validator()).Succeeded);
        Assert.True((await maint.ApiGetAsync($"{url}/{created.Id()}")).Expect(200)["revoked"]!.GetValue<bool>());
        Assert.Equal([custom.Id()], (await maint.ApiGetAsync($"{url}?active=true")).Expect(200).AsArray().Select(t => t!.Id()));
        (await maint.ApiDeleteAsync($"{url}/999999")).Expect(404);
    }
}
