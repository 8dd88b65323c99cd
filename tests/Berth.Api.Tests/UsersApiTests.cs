using System.Net.Http.Headers;
using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

public sealed class UsersApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task No_token_is_401_with_GitLabs_body()
    {
        var body = (await factory.CreateClient().ApiGetAsync("/api/v4/user")).Expect(401);
        Assert.Equal("401 Unauthorized", body.Str("message"));
    }

    [Fact]
    public async Task Unknown_or_malformed_token_is_401()
    {
        (await factory.ClientWithToken("bpat-doesnotexist000000000000000000").ApiGetAsync("/api/v4/user")).Expect(401);
        (await factory.ClientWithBearer("garbage").ApiGetAsync("/api/v4/user")).Expect(401);
    }

    [Fact]
    public async Task Current_user_with_private_token_bearer_or_query()
    {
        var token = await factory.RootTokenAsync();
        var me = (await factory.ClientWithToken(token).ApiGetAsync("/api/v4/user")).Expect(200);
        Assert.Equal("root", me.Str("username"));
        Assert.Equal("root@localhost", me.Str("email"));
        Assert.Equal("active", me.Str("state"));
        Assert.True(me["is_admin"]!.GetValue<bool>());
        Assert.EndsWith("Z", me.Str("created_at"));
        Assert.Equal("root", (await factory.ClientWithBearer(token).ApiGetAsync("/api/v4/user")).Expect(200).Str("username"));
        Assert.Equal("root", (await factory.CreateClient().ApiGetAsync("/api/v4/user?private_token=" + token)).Expect(200).Str("username"));
    }

    [Fact]
    public async Task Admin_creates_a_user_with_a_personal_namespace()
    {
        var root = await factory.RootClientAsync();
        var name = ApiFactory.Unique("new");
        var user = (await root.ApiPostAsync("/api/v4/users", new { username = name, email = $"{name}@example.com", name = "New Person", password = "long-enough-1", skip_confirmation = true })).Expect(201);
        Assert.Equal(name, user.Str("username"));
        Assert.Equal("New Person", user.Str("name"));
        Assert.False(user["is_admin"]!.GetValue<bool>());
        var ns = (await root.ApiGetAsync($"/api/v4/namespaces/{ApiHttp.Encode(name)}")).Expect(200);
        Assert.Equal("user", ns.Str("kind"));
        Assert.Equal(user["namespace_id"]!.GetValue<long>(), ns.Id());
        Assert.Equal(name, (await root.ApiGetAsync($"/api/v4/users/{user.Id()}")).Expect(200).Str("username"));
    }

    [Fact]
    public async Task Admin_creates_an_admin()
    {
        var root = await factory.RootClientAsync();
        var name = ApiFactory.Unique("adm");
        var user = (await root.ApiPostAsync("/api/v4/users", new { username = name, email = $"{name}@example.com", name, password = "long-enough-1", admin = true })).Expect(201);
        Assert.True(user["is_admin"]!.GetValue<bool>());
    }

    [Theory]
    [InlineData("-dash", 400)]
    [InlineData("has space", 400)]
    [InlineData("ends.git", 400)]
    [InlineData("ends.atom", 400)]
    [InlineData("api", 400)]
    [InlineData("Root", 409)]
    public async Task Bad_or_taken_usernames_are_refused(string username, int status)
    {
        var root = await factory.RootClientAsync();
        var body = (await root.ApiPostAsync("/api/v4/users", new { username, email = ApiFactory.Unique("e") + "@example.com", name = "x", password = "long-enough-1" })).Expect(status);
        Assert.NotNull(body["message"]);
    }

    [Fact]
    public async Task Username_cannot_take_a_group_path()
    {
        var root = await factory.RootClientAsync();
        var group = await Setup.GroupAsync(root);
        (await root.ApiPostAsync("/api/v4/users", new { username = group.Str("path").ToUpperInvariant(), email = ApiFactory.Unique("e") + "@example.com", name = "x", password = "long-enough-1" })).Expect(409);
    }

    [Fact]
    public async Task Create_user_validation()
    {
        var root = await factory.RootClientAsync();
        var name = ApiFactory.Unique("v");
        Assert.Contains("password", (await root.ApiPostAsync("/api/v4/users", new { username = name, email = $"{name}@example.com", name })).Expect(400).Str("error"));
        Assert.Equal("email is missing", (await root.ApiPostAsync("/api/v4/users", new { username = name, name, password = "long-enough-1" })).Expect(400).Str("error"));
        var tooShort = (await root.ApiPostAsync("/api/v4/users", new { username = name, email = $"{name}@example.com", name, password = "short" })).Expect(400);
        Assert.NotNull(tooShort["message"]!["password"]);
        (await root.ApiPostAsync("/api/v4/users", new { username = name, email = "root@localhost", name, password = "long-enough-1" })).Expect(409);
        (await root.ApiPostAsync("/api/v4/users", new { username = name, email = $"{name}@example.com", name, force_random_password = true })).Expect(201);
    }

    [Fact]
    public async Task Non_admins_cannot_create_users()
    {
        var (client, _, _) = await factory.NewUserClientAsync();
        var body = (await client.ApiPostAsync("/api/v4/users", new { username = ApiFactory.Unique("x"), email = "x@example.com", name = "x", password = "long-enough-1" })).Expect(403);
        Assert.StartsWith("403 Forbidden", body.Str("message"));
    }

    [Fact]
    public async Task Listing_users()
    {
        var root = await factory.RootClientAsync();
        var (client, id, name) = await factory.NewUserClientAsync();
        var all = (await root.ApiGetAsync("/api/v4/users?per_page=100")).Expect(200).AsArray();
        Assert.Contains(all, u => u!.Str("username") == "root");
        Assert.Contains(all, u => u!.Str("username") == name);
        Assert.NotNull(all[0]!["email"]);

        (await client.ApiGetAsync("/api/v4/users")).Expect(403);
        var found = (await client.ApiGetAsync("/api/v4/users?username=ROOT")).Expect(200).AsArray();
        var rootEntry = Assert.Single(found)!;
        Assert.Equal("root", rootEntry.Str("username"));
        Assert.Null(rootEntry["email"]);
        Assert.Contains((await client.ApiGetAsync($"/api/v4/users?search={name[..6]}")).Expect(200).AsArray(), u => u!.Id() == id);
    }

    [Fact]
    public async Task Get_user_shows_private_fields_to_self_and_admins_only()
    {
        var (client, id, _) = await factory.NewUserClientAsync();
        var root = await factory.RootClientAsync();
        Assert.NotNull((await client.ApiGetAsync($"/api/v4/users/{id}")).Expect(200)["email"]);
        Assert.NotNull((await root.ApiGetAsync($"/api/v4/users/{id}")).Expect(200)["email"]);
        var rootSeen = (await client.ApiGetAsync("/api/v4/users/1")).Expect(200);
        Assert.Equal("root", rootSeen.Str("username"));
        Assert.Null(rootSeen["email"]);
        Assert.Equal("404 User Not Found", (await client.ApiGetAsync("/api/v4/users/999999")).Expect(404).Str("message"));
    }

    [Fact]
    public async Task Block_and_unblock()
    {
        var root = await factory.RootClientAsync();
        var (client, id, _) = await factory.NewUserClientAsync();
        (await client.ApiGetAsync("/api/v4/user")).Expect(200);
        (await client.ApiPostAsync($"/api/v4/users/{id}/block")).Expect(403);
        Assert.True((await root.ApiPostAsync($"/api/v4/users/{id}/block")).Expect(201).GetValue<bool>());
        Assert.Equal("blocked", (await root.ApiGetAsync($"/api/v4/users/{id}")).Expect(200).Str("state"));
        (await client.ApiGetAsync("/api/v4/user")).Expect(401);
        (await root.ApiPostAsync($"/api/v4/users/{id}/unblock")).Expect(201);
        Assert.Equal("active", (await client.ApiGetAsync("/api/v4/user")).Expect(200).Str("state"));
        (await root.ApiPostAsync("/api/v4/users/1/block")).Expect(403);
        (await root.ApiPostAsync("/api/v4/users/999999/block")).Expect(404);
    }

    [Fact]
    public async Task Admin_updates_a_user()
    {
        var root = await factory.RootClientAsync();
        var (_, id, _) = await factory.NewUserClientAsync();
        var updated = (await root.ApiPutAsync($"/api/v4/users/{id}", new { name = "Renamed", admin = true })).Expect(200);
        Assert.Equal("Renamed", updated.Str("name"));
        Assert.True(updated["is_admin"]!.GetValue<bool>());
        (await root.ApiPutAsync("/api/v4/users/1", new { admin = false })).Expect(403);
    }

    [Fact]
    public async Task Unknown_api_routes_answer_json_404()
    {
        var root = await factory.RootClientAsync();
        Assert.Equal("404 Not Found", (await root.ApiGetAsync("/api/v4/nothing/here")).Expect(404).Str("error"));
        var response = await factory.CreateClient().SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/v4/users/abc"));
        Assert.Equal(404, (int)response.StatusCode);
        Assert.Equal(new MediaTypeHeaderValue("application/json").MediaType, response.Content.Headers.ContentType?.MediaType);
    }
}
