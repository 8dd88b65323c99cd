using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Berth.Auth;
using Berth.Metadata;
using Microsoft.EntityFrameworkCore;

namespace Berth.Server.ApiV4;

// GitLab's JSON shapes (a subset of their fields, same names). Property names are written in snake_case.

internal sealed record UserBasicJson(long Id, string Username, string Name, string State, bool Locked, string? AvatarUrl, string WebUrl);

internal sealed record UserJson(
    long Id, string Username, string Name, string State, bool Locked, string? AvatarUrl, string WebUrl,
    DateTime CreatedAt, string Bio, string Email, string? PublicEmail, bool IsAdmin, bool TwoFactorEnabled,
    DateTime? LastSignInAt, DateTime? CurrentSignInAt, bool CanCreateGroup, bool CanCreateProject, bool External,
    bool PrivateProfile, long? NamespaceId);

internal sealed record NamespaceJson(long Id, string Name, string Path, string Kind, string FullPath, long? ParentId, string? AvatarUrl, string WebUrl)
{
    /// <summary>Deduplicated registry bytes of the namespace (single-namespace answers only).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? ContainerRegistrySize { get; init; }

    /// <summary>The namespace's registry quota in bytes; absent when none is set.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? ContainerRegistryQuota { get; init; }
}

internal sealed record GroupJson(
    long Id, string WebUrl, string Name, string Path, string? Description, string Visibility, string FullName,
    string FullPath, long? ParentId, DateTime CreatedAt, string? AvatarUrl, bool RequestAccessEnabled, bool LfsEnabled)
{
    /// <summary>Storage statistics, with <c>statistics=true</c>.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public RegistryStatisticsJson? Statistics { get; init; }
}

internal sealed record ProjectJson(
    long Id, string? Description, string Name, string NameWithNamespace, string Path, string PathWithNamespace,
    DateTime CreatedAt, string? DefaultBranch, string[] TagList, string[] Topics, string WebUrl, string? AvatarUrl,
    int ForksCount, int StarCount, DateTime LastActivityAt, NamespaceJson Namespace, string ContainerRegistryImagePrefix,
    string Visibility, bool ContainerRegistryEnabled, string ContainerRegistryAccessLevel, long? CreatorId,
    bool Archived, bool EmptyRepo)
{
    /// <summary>The cleanup policy (GitLab's <c>container_expiration_policy</c>).</summary>
    public ContainerExpirationPolicyJson? ContainerExpirationPolicy { get; init; }

    /// <summary>Storage statistics, with <c>statistics=true</c>.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public RegistryStatisticsJson? Statistics { get; init; }
}

internal sealed record MemberJson(
    long Id, string Username, string Name, string State, string? AvatarUrl, string WebUrl, int AccessLevel,
    DateTime CreatedAt, string? ExpiresAt, string MembershipState);

internal sealed record PersonalAccessTokenJson(
    long Id, string Name, bool Revoked, DateTime CreatedAt, string[] Scopes, long UserId, DateTime? LastUsedAt,
    bool Active, string? ExpiresAt)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Token { get; init; }
}

internal sealed record DeployTokenJson(long Id, string Name, string Username, DateTime? ExpiresAt, string[] Scopes, bool Revoked, bool Expired)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Token { get; init; }
}

/// <summary>Writes times as GitLab does: UTC ISO 8601 with milliseconds, <c>2026-01-31T12:00:00.000Z</c>.</summary>
internal sealed class UtcDateTimeConverter : JsonConverter<DateTime>
{
    public override DateTime Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        DateTime.Parse(reader.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);

    public override void Write(Utf8JsonWriter writer, DateTime value, JsonSerializerOptions options) =>
        writer.WriteStringValue(DateTime.SpecifyKind(value, DateTimeKind.Utc).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
}

/// <summary>Builds the JSON representations; knows the external base URL and the registry host of the request.</summary>
internal sealed class Representer(HttpContext context, BerthDbContext db)
{
    /// <summary>Serializer settings: snake_case names, GitLab's time format, nulls written.</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new UtcDateTimeConverter() },
    };

    private readonly string? _externalUrl = context.RequestServices.GetService<Microsoft.Extensions.Options.IOptions<Berth.Server.Configuration.BerthOptions>>()?.Value.ExternalUrl?.TrimEnd('/');

    private string BaseUrl => _externalUrl ?? $"{context.Request.Scheme}://{context.Request.Host}{context.Request.PathBase}";

    public string RegistryHost => _externalUrl is not null && Uri.TryCreate(_externalUrl, UriKind.Absolute, out var u) ? u.Authority : context.Request.Host.ToString();

    public static string? Date(DateTime? at) => at?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    public static string State(UserEntity u) => u.IsBlocked ? "blocked" : "active";

    public UserBasicJson UserBasic(UserEntity u) => new(u.Id, u.Username, u.Name, State(u), false, null, $"{BaseUrl}/{u.Username}");

    public async Task<UserJson> UserAsync(UserEntity u, CancellationToken ct)
    {
        var nsId = await db.Namespaces.Where(n => n.Kind == "user" && n.OwnerId == u.Id).Select(n => (long?)n.Id).FirstOrDefaultAsync(ct);
        return new UserJson(u.Id, u.Username, u.Name, State(u), false, null, $"{BaseUrl}/{u.Username}", u.CreatedAt, "", u.Email, null,
            u.IsAdmin, u.TwoFactorEnabled, u.LastSignInAt, u.LastSignInAt, true, true, false, false, nsId);
    }

    /// <summary>Display names of namespaces' full paths (<c>A / B / C</c>), for a batch, in one query.</summary>
    private async Task<Dictionary<string, string>> FullNamesAsync(IEnumerable<NamespaceEntity> namespaces, CancellationToken ct)
    {
        var list = namespaces.ToList();
        var prefixes = list.SelectMany(n =>
        {
            var parts = n.FullPath.Split('/');
            return Enumerable.Range(1, parts.Length).Select(k => string.Join('/', parts, 0, k));
        }).Distinct().ToList();
        var known = list.ToDictionary(n => n.FullPath, n => n.Name);
        var missing = prefixes.Where(p => !known.ContainsKey(p)).ToList();
        if (missing.Count > 0)
            foreach (var n in await db.Namespaces.Where(n => missing.Contains(n.FullPath)).Select(n => new { n.FullPath, n.Name }).ToListAsync(ct))
                known[n.FullPath] = n.Name;
        var result = new Dictionary<string, string>();
        foreach (var n in list)
        {
            var parts = n.FullPath.Split('/');
            result[n.FullPath] = string.Join(" / ", Enumerable.Range(1, parts.Length).Select(k => string.Join('/', parts, 0, k))
                .Select(p => known.TryGetValue(p, out var name) ? name : p.Split('/')[^1]));
        }
        return result;
    }

    public NamespaceJson Namespace(NamespaceEntity n) => new(n.Id, n.Name, n.Path, n.Kind, n.FullPath, n.ParentId, null, $"{BaseUrl}/{n.FullPath}");

    public async Task<List<GroupJson>> GroupsAsync(IReadOnlyList<NamespaceEntity> groups, CancellationToken ct)
    {
        var names = await FullNamesAsync(groups, ct);
        return groups.Select(g => new GroupJson(g.Id, $"{BaseUrl}/groups/{g.FullPath}", g.Name, g.Path, g.Description ?? "", g.Visibility,
            names[g.FullPath], g.FullPath, g.ParentId, g.CreatedAt, null, false, false)).ToList();
    }

    public async Task<GroupJson> GroupAsync(NamespaceEntity group, CancellationToken ct) => (await GroupsAsync([group], ct))[0];

    public async Task<List<ProjectJson>> ProjectsAsync(IReadOnlyList<ProjectEntity> projects, CancellationToken ct)
    {
        var ids = projects.Select(p => p.NamespaceId).Distinct().ToList();
        var namespaces = await db.Namespaces.Where(n => ids.Contains(n.Id)).ToDictionaryAsync(n => n.Id, ct);
        var names = await FullNamesAsync(namespaces.Values, ct);
        var host = RegistryHost;
        var projectIds = projects.Select(p => p.Id).ToList();
        var policies = await db.ContainerExpirationPolicies.Where(x => projectIds.Contains(x.ProjectId)).ToDictionaryAsync(x => x.ProjectId, ct);
        var now = DateTime.UtcNow;
        return projects.Select(p =>
        {
            var ns = namespaces[p.NamespaceId];
            return new ProjectJson(p.Id, p.Description ?? "", p.Name, names[ns.FullPath] + " / " + p.Name, p.Path, p.FullPath, p.CreatedAt,
                null, [], [], $"{BaseUrl}/{p.FullPath}", null, 0, 0, p.CreatedAt, Namespace(ns), $"{host}/{p.FullPath.ToLowerInvariant()}",
                p.Visibility, p.RegistryEnabled, p.RegistryEnabled ? "enabled" : "disabled", p.CreatorId, false, true)
            {
                ContainerExpirationPolicy = ContainerExpirationPolicyJson.From(policies.GetValueOrDefault(p.Id) ?? Berth.Server.Registry.CleanupPolicyValues.Default(p.Id, now)),
            };
        }).ToList();
    }

    public async Task<ProjectJson> ProjectAsync(ProjectEntity project, CancellationToken ct) => (await ProjectsAsync([project], ct))[0];

    public MemberJson Member(MemberEntity m, UserEntity u) =>
        new(u.Id, u.Username, u.Name, State(u), null, $"{BaseUrl}/{u.Username}", m.AccessLevel, m.CreatedAt, Date(m.ExpiresAt), "active");

    public static PersonalAccessTokenJson Token(PersonalAccessTokenEntity t, bool active, string? secret = null) =>
        new(t.Id, t.Name, t.Revoked, t.CreatedAt, TokenScopes.Parse(t.Scopes).ToArray(), t.UserId, t.LastUsedAt, active, Date(t.ExpiresAt)) { Token = secret };

    public static DeployTokenJson DeployToken(DeployTokenEntity t, bool expired, string? secret = null) =>
        new(t.Id, t.Name, t.Username, t.ExpiresAt, TokenScopes.Parse(t.Scopes).ToArray(), t.Revoked, expired) { Token = secret };
}
