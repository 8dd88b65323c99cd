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

    public async Task<T> WithDbAsync<T>(Func<BerthDbContext, IServiceProvider, Task<T>> action)
    {
        _ = Server; // make sure the host (and its migrations) started
        await using var scope = Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BerthDbContext>();
        return await action(db, scope.ServiceProvider);
    }

    public Task<UserEntity> AddUserAsync(string username, string password, bool admin = false, bool twoFactor = false, bool blocked = false) =>
        WithDbAsync(async (db, sp) =>
        {
            var user = new UserEntity
            {
                Username = username, NormalizedUsername = username.ToLowerInvariant(), Email = username + "@example.com", Name = username,
                IsAdmin = admin, TwoFactorEnabled = twoFactor, IsBlocked = blocked, CreatedAt = DateTime.UtcNow,
            };
            user.PasswordHash = sp.GetRequiredService<PasswordHashing>().Hash(user, password);
            db.Users.Add(user);
            await db.SaveChangesAsync();
            db.Namespaces.Add(new NamespaceEntity { Name = username, Path = username, FullPath = username, Kind = "user", OwnerId = user.Id, Visibility = "private", CreatedAt = DateTime.UtcNow });
            await db.SaveChangesAsync();
            return user;
        });

    public Task<NamespaceEntity> AddGroupAsync(string fullPath, NamespaceEntity? parent = null) =>
        WithDbAsync(async (db, _) =>
        {
            var ns = new NamespaceEntity { Name = fullPath, Path = fullPath.Split('/')[^1], FullPath = fullPath, Kind = "group", ParentId = parent?.Id, Visibility = "public", CreatedAt = DateTime.UtcNow };
            db.Namespaces.Add(ns);
            await db.SaveChangesAsync();
            return ns;
        });

    public Task<ProjectEntity> AddProjectAsync(NamespaceEntity ns, string path, string visibility, bool registryEnabled = true) =>
        WithDbAsync(async (db, _) =>
        {
            var p = new ProjectEntity { NamespaceId = ns.Id, Name = path, Path = path, FullPath = ns.FullPath + "/" + path, Visibility = visibility, RegistryEnabled = registryEnabled, CreatedAt = DateTime.UtcNow };
            db.Projects.Add(p);
            await db.SaveChangesAsync();
            return p;
        });

    public Task AddMemberAsync(UserEntity user, AccessLevel level, NamespaceEntity? group = null, ProjectEntity? project = null) =>
        WithDbAsync(async (db, _) =>
        {
            db.Members.Add(new MemberEntity { UserId = user.Id, NamespaceId = group?.Id, ProjectId = project?.Id, AccessLevel = (int)level, CreatedAt = DateTime.UtcNow });
            await db.SaveChangesAsync();
            return 0;
        });

    public Task<string> AddPersonalAccessTokenAsync(UserEntity user, string scopes, DateTime? expiresAt = null, bool revoked = false) =>
        WithDbAsync(async (db, _) =>
        {
            var secret = SecretTokens.Generate(SecretTokens.PersonalAccessTokenPrefix);
            db.PersonalAccessTokens.Add(new PersonalAccessTokenEntity { UserId = user.Id, Name = "t-" + scopes.Replace(' ', '-'), Scopes = scopes, TokenHash = SecretTokens.Hash(secret), ExpiresAt = expiresAt, Revoked = revoked, CreatedAt = DateTime.UtcNow });
            await db.SaveChangesAsync();
            return secret;
        });

    public Task<(string Username, string Secret)> AddDeployTokenAsync(ProjectEntity project, string scopes) =>
        WithDbAsync(async (db, _) =>
        {
            var secret = SecretTokens.Generate(SecretTokens.DeployTokenPrefix);
            var username = "deploy-" + Guid.NewGuid().ToString("N")[..8];
            db.DeployTokens.Add(new DeployTokenEntity { ProjectId = project.Id, Name = username, Username = username, Scopes = scopes, TokenHash = SecretTokens.Hash(secret), CreatedAt = DateTime.UtcNow });
            await db.SaveChangesAsync();
            return (username, secret);
        });

    public Task SetInstanceRegistryAsync(bool enabled) =>
        WithDbAsync(async (db, _) =>
        {
            var row = await db.InstanceSettings.FindAsync(AccessPolicy.RegistryEnabledSetting);
            if (row is null) db.InstanceSettings.Add(new InstanceSettingEntity { Key = AccessPolicy.RegistryEnabledSetting, Value = enabled ? "true" : "false" });
            else row.Value = enabled ? "true" : "false";
            await db.SaveChangesAsync();
            return 0;
        });

    public static AuthenticationHeaderValue Basic(string user, string secret) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{secret}")));

    /// <summary>Asks /jwt/auth for a token; returns the HTTP status, the token and the granted actions per scope name.</summary>
    public async Task<(int Status, string? Token, Dictionary<string, string[]> Granted, string Body)> RequestTokenAsync(string? user, string? secret, params string[] scopes)
    {
        var client = CreateClient();
        var query = "/jwt/auth?service=container_registry" + string.Concat(scopes.Select(s => "&scope=" + Uri.EscapeDataString(s)));
        using var request = new HttpRequestMessage(HttpMethod.Get, query);
        if (user is not null) request.Headers.Authorization = Basic(user, secret!);
        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        var granted = new Dictionary<string, string[]>();
        if (!response.IsSuccessStatusCode) return ((int)response.StatusCode, null, granted, body);
        using var doc = JsonDocument.Parse(body);
        var token = doc.RootElement.GetProperty("token").GetString()!;
        foreach (var entry in DecodePayload(token).GetProperty("access").EnumerateArray())
        {
            granted[entry.GetProperty("type").GetString() + ":" + entry.GetProperty("name").GetString()] =
                entry.GetProperty("actions").EnumerateArray().Select(a => a.GetString()!).ToArray();
        }
        return ((int)response.StatusCode, token, granted, body);
    }

    public static JsonElement DecodePayload(string jwt)
    {
        var part = jwt.Split('.')[1].Replace('-', '+').Replace('_', '/');
        part = part.PadRight(part.Length + (4 - part.Length % 4) % 4, '=');
        return JsonDocument.Parse(Convert.FromBase64String(part)).RootElement.Clone();
    }
}
