using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Berth.Auth;
using Berth.Metadata;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Berth.Auth.Tests;

/// <summary>Berth in process with token authentication on, fast password hashing, and helpers to seed
/// users, groups, projects, memberships and tokens straight into the database.</summary>
public sealed class AuthFactory : WebApplicationFactory<Program>
{
    public string DataDir { get; } = Path.Combine(Path.GetTempPath(), "berth-auth-tests", Guid.NewGuid().ToString("N"));

    private readonly Dictionary<string, string> _settings;

    public AuthFactory() : this([]) { }

    public AuthFactory(Dictionary<string, string> settings) => _settings = settings;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("DataDir", DataDir);
        builder.UseSetting("Auth:Mode", "token");
        builder.UseSetting("Auth:Passwords:Iterations", "1000");
        builder.UseSetting("Auth:SignInLimits:PerAccount", "1000");
        builder.UseSetting("Auth:SignInLimits:PerAddress", "100000");
        builder.UseSetting("RootPassword", "root-password-for-tests");
        foreach (var (key, value) in _settings) builder.UseSetting(key, value);
        builder.ConfigureLogging(l => l.ClearProviders());
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(DataDir, true); } catch (IOException) { }
    }

    public static AuthenticationHeaderValue Basic(string user, string secret) => TestSeeding.Basic(user, secret);

    public static JsonElement DecodePayload(string jwt) => TestSeeding.DecodePayload(jwt);
}
