using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Berth.Auth;
using Berth.Metadata;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Berth.Tests.Shared;

/// <summary>Seeds users, groups, projects, memberships and tokens straight into an in-process Berth's database,
/// and asks its token service for tokens. Shared by the test projects that need a populated instance.</summary>
public static class TestSeeding
{
    public static async Task<T> WithDbAsync<T>(this WebApplicationFactory<Program> factory, Func<BerthDbContext, IServiceProvider, Task<T>> action)
    {
        _ = factory.Server; // make sure the host (and its migrations) started
        await using var scope = factory.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BerthDbContext>();
        return await action(db, scope.ServiceProvider);
    }

    public static Task<UserEntity> AddUserAsync(this WebApplicationFactory<Program> factory, string username, string password, bool admin = false, bool twoFactor = false, bool blocked = false) =>
        factory.WithDbAsync(async (db, sp) =>
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

    public static Task<NamespaceEntity> AddGroupAsync(this WebApplicationFactory<Program> factory, string fullPath, NamespaceEntity? parent = null) =>
        factory.WithDbAsync(async (db, _) =>
        {
            var ns = new NamespaceEntity { Name = fullPath, Path = fullPath.Split('/')[^1], FullPath = fullPath, Kind = "group", ParentId = parent?.Id, Visibility = "public", CreatedAt = DateTime.UtcNow };
            db.Namespaces.Add(ns);
            await db.SaveChangesAsync();
            return ns;
        });

    public static Task<ProjectEntity> AddProjectAsync(this WebApplicationFactory<Program> factory, NamespaceEntity ns, string path, string visibility, bool registryEnabled = true) =>
        factory.WithDbAsync(async (db, _) =>
        {
            var p = new ProjectEntity { NamespaceId = ns.Id, Name = path, Path = path, FullPath = ns.FullPath + "/" + path, Visibility = visibility, RegistryEnabled = registryEnabled, CreatedAt = DateTime.UtcNow };
            db.Projects.Add(p);
            await db.SaveChangesAsync();
            return p;
        });

    public static Task AddMemberAsync(this WebApplicationFactory<Program> factory, UserEntity user, AccessLevel level, NamespaceEntity? group = null, ProjectEntity? project = null) =>
        factory.WithDbAsync(async (db, _) =>
        {
            db.Members.Add(new MemberEntity { UserId = user.Id, NamespaceId = group?.Id, ProjectId = project?.Id, AccessLevel = (int)level, CreatedAt = DateTime.UtcNow });
            await db.SaveChangesAsync();
            return 0;
        });

    public static Task<string> AddPersonalAccessTokenAsync(this WebApplicationFactory<Program> factory, UserEntity user, string scopes, DateTime? expiresAt = null, bool revoked = false) =>
        factory.WithDbAsync(async (db, _) =>
        {
            var secret = SecretTokens.Generate(SecretTokens.PersonalAccessTokenPrefix);
            db.PersonalAccessTokens.Add(new PersonalAccessTokenEntity { UserId = user.Id, Name = "t-" + scopes.Replace(' ', '-'), Scopes = scopes, TokenHash = SecretTokens.Hash(secret), ExpiresAt = expiresAt, Revoked = revoked, CreatedAt = DateTime.UtcNow });
            await db.SaveChangesAsync();
            return secret;
        });

    public static Task<(string Username, string Secret)> AddDeployTokenAsync(this WebApplicationFactory<Program> factory, ProjectEntity project, string scopes) =>
        factory.WithDbAsync(async (db, _) =>
        {
            var secret = SecretTokens.Generate(SecretTokens.DeployTokenPrefix);
            var username = "deploy-" + Guid.NewGuid().ToString("N")[..8];
            db.DeployTokens.Add(new DeployTokenEntity { ProjectId = project.Id, Name = username, Username = username, Scopes = scopes, TokenHash = SecretTokens.Hash(secret), CreatedAt = DateTime.UtcNow });
            await db.SaveChangesAsync();
            return (username, secret);
        });

    public static Task SetInstanceRegistryAsync(this WebApplicationFactory<Program> factory, bool enabled) =>
        factory.WithDbAsync(async (db, _) =>
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
    public static async Task<(int Status, string? Token, Dictionary<string, string[]> Granted, string Body)> RequestTokenAsync(this WebApplicationFactory<Program> factory, string? user, string? secret, params string[] scopes)
    {
        var client = factory.CreateClient();
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
