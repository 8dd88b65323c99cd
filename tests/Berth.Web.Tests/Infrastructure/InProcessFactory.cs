using System.Net;
using System.Text.RegularExpressions;
using Berth.Auth.Accounts;
using Berth.Metadata;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Berth.Web.Tests.Infrastructure;

/// <summary>The whole app in process on a temp data folder (SQLite), for security and speed tests of the pages.</summary>
public sealed partial class InProcessFactory : WebApplicationFactory<Program>
{
    /// <summary>root's password.</summary>
    public const string RootPassword = "root-password-for-web-tests";

    /// <summary>The data folder.</summary>
    public string DataDir { get; } = Path.Combine(Path.GetTempPath(), "berth-web-tests", Guid.NewGuid().ToString("N"));

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("DataDir", DataDir);
        builder.UseSetting("RootPassword", RootPassword);
        builder.UseSetting("Auth:Mode", "token");
        builder.UseSetting("Auth:Passwords:Iterations", "1000");
        if (Environment.GetEnvironmentVariable("BERTH_WEB_TEST_LOGS") != "1") builder.ConfigureLogging(logging => logging.ClearProviders());
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

    /// <summary>Runs code with a scope's services.</summary>
    public async Task<T> WithServicesAsync<T>(Func<IServiceProvider, Task<T>> action)
    {
        await using var scope = Services.CreateAsyncScope();
        return await action(scope.ServiceProvider);
    }

    /// <summary>Runs code with the database.</summary>
    public Task<T> WithDbAsync<T>(Func<BerthDbContext, Task<T>> action) => WithServicesAsync(sp => action(sp.GetRequiredService<BerthDbContext>()));

    /// <summary>Creates a user; returns its id.</summary>
    public Task<long> CreateUserAsync(string username, string password) => WithServicesAsync(async sp =>
        (await sp.GetRequiredService<AccountService>().CreateUserAsync(new NewUser(username, username + "@example.com", null, password), CancellationToken.None)).Id);

    /// <summary>A client with its own cookies that does not follow redirects.</summary>
    public HttpClient NewClient() => CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });

    /// <summary>A client signed in through the sign-in form.</summary>
    public async Task<HttpClient> SignedInClientAsync(string username, string password)
    {
        var client = NewClient();
        var token = await AntiforgeryTokenAsync(client, "/users/sign_in");
        using var response = await client.PostAsync("/users/sign_in", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["username"] = username,
            ["password"] = password,
            ["__RequestVerificationToken"] = token,
        }));
        if (response.StatusCode != HttpStatusCode.Redirect || response.Headers.Location?.ToString().Contains("sign_in", StringComparison.Ordinal) == true)
            throw new InvalidOperationException($"sign-in as {username} failed: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return client;
    }

    /// <summary>GETs a page and returns the anti-forgery token of its first form.</summary>
    public static async Task<string> AntiforgeryTokenAsync(HttpClient client, string path)
    {
        var html = await client.GetStringAsync(path);
        var match = TokenField().Match(html);
        return match.Success ? WebUtility.HtmlDecode(match.Groups[1].Value) : throw new InvalidOperationException("no anti-forgery token in " + path);
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"")]
    private static partial Regex TokenField();
}
