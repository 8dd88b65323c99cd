using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Berth.Auth.Accounts;
using Berth.Metadata;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Berth.Api.Tests.Infrastructure;

/// <summary>
/// The whole Berth app in process on a temp data folder, with root's password set through the
/// <c>RootPassword</c> setting and a cheap password hash (tests create many users). Helpers create users
/// and tokens straight through the services, so each test only drives the endpoints it is about.
/// </summary>
public sealed class ApiFactory : WebApplicationFactory<Program>
{
    private readonly Action<IWebHostBuilder>? _configure;

    /// <summary>The default app (a class fixture).</summary>
    public ApiFactory()
    {
    }

    /// <summary>The app with extra host settings (e.g. a test clock).</summary>
    internal ApiFactory(Action<IWebHostBuilder> configure) => _configure = configure;

    public const string RootPassword = "root-password-for-tests";

    public string DataDir { get; } = Path.Combine(Path.GetTempPath(), "berth-api-tests", Guid.NewGuid().ToString("N"));

    private string? _rootToken;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("DataDir", DataDir);
        builder.UseSetting("RootPassword", RootPassword);
        builder.UseSetting("Auth:Passwords:Iterations", "1000");
        builder.ConfigureLogging(logging => logging.ClearProviders());
        _configure?.Invoke(builder);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (!disposing) return;
        SqliteConnection.ClearAllPools();
        try
        {
            if (Directory.Exists(DataDir)) Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>A unique lower-case name for one test.</summary>
    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>Runs code with a scope's services.</summary>
    public async Task<T> WithServicesAsync<T>(Func<IServiceProvider, Task<T>> action)
    {
        await using var scope = Services.CreateAsyncScope();
        return await action(scope.ServiceProvider);
    }

    /// <summary>The database, in a fresh scope.</summary>
    public Task<T> WithDbAsync<T>(Func<BerthDbContext, Task<T>> action) => WithServicesAsync(sp => action(sp.GetRequiredService<BerthDbContext>()));

    /// <summary>A root token with the <c>api</c> scope (made once).</summary>
    public async Task<string> RootTokenAsync() => _rootToken ??= await TokenAsync("root", "api");

    /// <summary>Creates a personal access token for a user through the service.</summary>
    public Task<string> TokenAsync(string username, params string[] scopes) => WithServicesAsync(async sp =>
    {
        var user = await sp.GetRequiredService<AccountService>().GetUserAsync(username, CancellationToken.None);
        var created = await sp.GetRequiredService<AccessTokenService>().CreatePersonalAccessTokenAsync(user.Id, "test", scopes, null, CancellationToken.None);
        return created.Secret;
    });

    /// <summary>Creates a user through the service; returns its id.</summary>
    public Task<long> CreateUserAsync(string username, string password = "password-123", bool admin = false) => WithServicesAsync(async sp =>
    {
        var user = await sp.GetRequiredService<AccountService>().CreateUserAsync(new NewUser(username, $"{username}@example.com", null, password, admin), CancellationToken.None);
        return user.Id;
    });

    /// <summary>A client for a user: a new user with an <c>api</c> token.</summary>
    public async Task<(HttpClient Client, long UserId, string Username)> NewUserClientAsync(string prefix = "user", params string[] scopes)
    {
        var name = Unique(prefix);
        var id = await CreateUserAsync(name);
        var token = await TokenAsync(name, scopes.Length == 0 ? ["api"] : scopes);
        return (ClientWithToken(token), id, name);
    }

    /// <summary>A client sending <c>PRIVATE-TOKEN</c>.</summary>
    public HttpClient ClientWithToken(string token)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Add("PRIVATE-TOKEN", token);
        return client;
    }

    /// <summary>A client sending <c>Authorization: Bearer</c>.</summary>
    public HttpClient ClientWithBearer(string token)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>A root client.</summary>
    public async Task<HttpClient> RootClientAsync() => ClientWithToken(await RootTokenAsync());
}

/// <summary>Short JSON helpers for API calls.</summary>
public static class ApiHttp
{
    public static async Task<(int Status, JsonNode? Body)> ApiSendAsync(this HttpClient client, HttpMethod method, string url, object? body = null)
    {
        using var request = new HttpRequestMessage(method, url);
        if (body is not null) request.Content = JsonContent.Create(body);
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if (text.Length > 0)
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    public static Task<(int Status, JsonNode? Body)> ApiGetAsync(this HttpClient client, string url) => client.ApiSendAsync(HttpMethod.Get, url);

    public static Task<(int Status, JsonNode? Body)> ApiPostAsync(this HttpClient client, string url, object? body = null) => client.ApiSendAsync(HttpMethod.Post, url, body ?? new { });

    public static Task<(int Status, JsonNode? Body)> ApiPutAsync(this HttpClient client, string url, object body) => client.ApiSendAsync(HttpMethod.Put, url, body);

    public static Task<(int Status, JsonNode? Body)> ApiDeleteAsync(this HttpClient client, string url) => client.ApiSendAsync(HttpMethod.Delete, url);

    /// <summary>Asserts the status (showing the body on failure) and returns the body.</summary>
    public static JsonNode Expect(this (int Status, JsonNode? Body) result, int status)
    {
        Assert.True(result.Status == status, $"expected {status}, got {result.Status}: {result.Body?.ToJsonString()}");
        return result.Body ?? JsonValue.Create("")!;
    }

    public static string Str(this JsonNode node, string name) => node[name]!.GetValue<string>();

    public static long Id(this JsonNode node) => node["id"]!.GetValue<long>();

    public static string Encode(string path) => Uri.EscapeDataString(path);

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
}
