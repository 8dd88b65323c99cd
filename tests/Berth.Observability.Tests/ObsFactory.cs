using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Berth.Auth;
using Berth.Metadata;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace Berth.Observability.Tests;

/// <summary>Berth in process with token authentication on, fast password hashing, and helpers to seed
/// users, groups, projects, memberships and tokens straight into the database.</summary>
public sealed class ObsFactory : WebApplicationFactory<Program>
{
    public string DataDir { get; }

    /// <summary>When set, replaces the host's TimeProvider (e.g. a token issuer whose clock is ahead).</summary>
    public TimeProvider? Clock { get; init; }

    /// <summary>Leave the data folder on dispose (a second factory reuses it).</summary>
    public bool KeepDataDir { get; init; }

    public const string RootPassword = "root-password-for-tests";

    private readonly Dictionary<string, string> _settings;

    public ObsFactory() : this([]) { }

    public ObsFactory(Dictionary<string, string> settings, string? dataDir = null)
    {
        _settings = settings;
        DataDir = dataDir ?? Path.Combine(Path.GetTempPath(), "berth-obs-tests", Guid.NewGuid().ToString("N"));
    }

    public string LogFile => Path.Combine(DataDir, "log", "berth.log");

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("DataDir", DataDir);
        builder.UseSetting("Auth:Mode", "token");
        builder.UseSetting("Auth:Passwords:Iterations", "1000");
        builder.UseSetting("Auth:SignInLimits:PerAccount", "1000");
        builder.UseSetting("Auth:SignInLimits:PerAddress", "100000");
        builder.UseSetting("RootPassword", RootPassword);
        foreach (var (key, value) in _settings) builder.UseSetting(key, value);
        if (Clock is { } clock) builder.ConfigureServices(s => s.AddSingleton(clock));
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        SqliteConnection.ClearAllPools();
        if (KeepDataDir) return;
        try { Directory.Delete(DataDir, true); } catch (IOException) { }
    }

    public static AuthenticationHeaderValue Basic(string user, string secret) => TestSeeding.Basic(user, secret);

    public static JsonElement DecodePayload(string jwt) => TestSeeding.DecodePayload(jwt);
}
