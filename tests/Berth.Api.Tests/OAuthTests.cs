using Berth.Api.Tests.Infrastructure;
using Berth.Auth;
using Berth.Auth.Accounts;
using Microsoft.Extensions.DependencyInjection;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Berth.Api.Tests;

public sealed class OAuthTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private async Task<(int Status, JsonNode Body)> GrantAsync(HttpContent content)
    {
        using var response = await factory.CreateClient().PostAsync("/oauth/token", content);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return ((int)response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    private static FormUrlEncodedContent Form(string username, string password, string grant = "password") =>
        new(new Dictionary<string, string> { ["grant_type"] = grant, ["username"] = username, ["password"] = password });

    [Fact]
    public async Task Password_grant_gives_a_bearer_token()
    {
        var (status, body) = await GrantAsync(Form("root", ApiFactory.RootPassword));
        Assert.Equal(200, status);
        Assert.Equal("Bearer", body.Str("token_type"));
        Assert.Equal(7200, body["expires_in"]!.GetValue<int>());
        Assert.Equal("api", body.Str("scope"));
        Assert.True(body["created_at"]!.GetValue<long>() > 1_600_000_000);
        var client = factory.ClientWithBearer(body.Str("access_token"));
        Assert.Equal("root", (await client.ApiGetAsync("/api/v4/user")).Expect(200).Str("username"));
        (await client.ApiPostAsync("/api/v4/groups", new { name = "oauth", path = ApiFactory.Unique("oauth") })).Expect(201);
        // Grant tokens are not listed among personal access tokens.
        var listed = (await client.ApiGetAsync("/api/v4/personal_access_tokens?per_page=100")).Expect(200).AsArray();
        Assert.DoesNotContain(listed, t => t!.Str("name") == AccessTokenService.OAuthTokenName);
    }

    [Fact]
    public async Task Json_body_works_too()
    {
        var name = ApiFactory.Unique("json");
        await factory.CreateUserAsync(name, "json-password-1");
        var (status, body) = await GrantAsync(JsonContent.Create(new { grant_type = "password", username = name, password = "json-password-1", scope = "read_api" }));
        Assert.Equal(200, status);
        Assert.Equal("read_api", body.Str("scope"));
        var client = factory.ClientWithBearer(body.Str("access_token"));
        (await client.ApiGetAsync("/api/v4/user")).Expect(200);
        (await client.ApiPostAsync("/api/v4/projects", new { name = "nope" })).Expect(403);
    }

    [Fact]
    public async Task Wrong_password_or_unknown_user()
    {
        var (status, body) = await GrantAsync(Form("root", "wrong-password"));
        Assert.Equal(400, status);
        Assert.Equal("invalid_grant", body.Str("error"));
        (status, body) = await GrantAsync(Form(ApiFactory.Unique("ghost"), "whatever-1"));
        Assert.Equal(400, status);
        Assert.Equal("invalid_grant", body.Str("error"));
    }

    [Fact]
    public async Task Tokens_are_not_passwords()
    {
        var token = await factory.TokenAsync("root", "api");
        var (status, body) = await GrantAsync(Form("root", token));
        Assert.Equal(400, status);
        Assert.Equal("invalid_grant", body.Str("error"));
    }

    [Fact]
    public async Task Two_factor_users_are_told_to_use_a_personal_access_token()
    {
        var name = ApiFactory.Unique("tfa");
        var id = await factory.CreateUserAsync(name, "tfa-password-1");
        Assert.Equal(200, (await GrantAsync(Form(name, "tfa-password-1"))).Status);
        await factory.WithServicesAsync(sp => sp.GetRequiredService<AccountService>().EnableTwoFactorAsync(id, CancellationToken.None));
        var (status, body) = await GrantAsync(Form(name, "tfa-password-1"));
        Assert.Equal(400, status);
        Assert.Equal("invalid_grant", body.Str("error"));
        Assert.Equal(CredentialValidator.TwoFactorMessage, body.Str("error_description"));
    }

    [Fact]
    public async Task Other_grants_and_missing_fields()
    {
        var (status, body) = await GrantAsync(Form("root", "x", grant: "client_credentials"));
        Assert.Equal(400, status);
        Assert.Equal("unsupported_grant_type", body.Str("error"));
        (status, body) = await GrantAsync(new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "password" }));
        Assert.Equal(400, status);
        Assert.Equal("invalid_request", body.Str("error"));
        (status, body) = await GrantAsync(JsonContent.Create(new { grant_type = "password", username = "root", password = ApiFactory.RootPassword, scope = "sudo" }));
        Assert.Equal(400, status);
        Assert.Equal("invalid_scope", body.Str("error"));
    }
}
