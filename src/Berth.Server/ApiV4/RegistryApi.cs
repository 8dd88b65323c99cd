using System.Text.Json;
using Berth.Auth;
using Berth.Distribution;
using Berth.Metadata;
using Berth.Server.Registry;
using Microsoft.EntityFrameworkCore;

namespace Berth.Server.ApiV4;

// GitLab's container registry API shapes (docs.gitlab.com/api/container_registry), snake_case.

internal sealed record RegistryTagJson(string Name, string Path, string Location);

internal sealed record RegistryTagDetailJson(
    string Name, string Path, string Location, string? Revision, string? ShortRevision, string Digest, DateTime CreatedAt, long TotalSize, string MediaType);

internal sealed record RegistryRepositoryJson(
    long Id, string Name, string Path, long ProjectId, string Location, DateTime CreatedAt, DateTime? CleanupPolicyStartedAt, string? Status)
{
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public int? TagsCount { get; init; }

    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public List<RegistryTagJson>? Tags { get; init; }

    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public long? Size { get; init; }

    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? DeleteError { get; init; }
}

internal sealed record ProtectionTagRuleJson(long Id, long ProjectId, string TagNamePattern, string MinimumAccessLevelForPush, string MinimumAccessLevelForDelete);

internal sealed record ContainerExpirationPolicyJson(
    string Cadence, bool Enabled, int? KeepN, string? OlderThan, string? NameRegex, string? NameRegexKeep, DateTime? NextRunAt)
{
    /// <summary>GitLab's alias of <see cref="NameRegex"/>.</summary>
    public string? NameRegexDelete => NameRegex;

    public static ContainerExpirationPolicyJson From(ContainerExpirationPolicyEntity p) =>
        new(p.Cadence, p.Enabled, p.KeepN, p.OlderThan, p.NameRegex, p.NameRegexKeep, p.NextRunAt);
}

internal sealed record CleanupRunJson(
    long Id, long ProjectId, string Status, DateTime StartedAt, DateTime? FinishedAt, long DurationMs, int Repositories,
    int TagsDeleted, int TagsProtected, int Failures, string[] FailureDetails);

public static partial class ApiV4Endpoints
{
    private static void MapRegistry(RouteGroupBuilder api)
    {
        api.MapGet("/projects/{id}/registry/repositories", ListProjectRepositoriesAsync);
        api.MapGet("/groups/{id}/registry/repositories", ListGroupRepositoriesAsync);
        api.MapGet("/registry/repositories/{repositoryId:long}", GetRepositoryAsync);
        api.MapDelete("/projects/{id}/registry/repositories/{repositoryId:long}", DeleteRepositoryAsync);
        api.MapGet("/projects/{id}/registry/repositories/{repositoryId:long}/tags", ListRepositoryTagsAsync);
        api.MapDelete("/projects/{id}/registry/repositories/{repositoryId:long}/tags", BulkDeleteTagsAsync);
        api.MapGet("/projects/{id}/registry/repositories/{repositoryId:long}/tags/{tagName}", GetRepositoryTagAsync);
        api.MapDelete("/projects/{id}/registry/repositories/{repositoryId:long}/tags/{tagName}", DeleteRepositoryTagAsync);
        api.MapGet("/projects/{id}/registry/protection/tag/rules", ListProtectionRulesAsync);
        api.MapPost("/projects/{id}/registry/protection/tag/rules", CreateProtectionRuleAsync);
        api.MapPatch("/projects/{id}/registry/protection/tag/rules/{ruleId:long}", UpdateProtectionRuleAsync);
        api.MapDelete("/projects/{id}/registry/protection/tag/rules/{ruleId:long}", DeleteProtectionRuleAsync);
        api.MapGet("/projects/{id}/registry/cleanup_policy/runs", ListCleanupRunsAsync);
    }

    /// <summary>Whether the caller may read a project's images: the registry is on, and the project is public, or
    /// internal and the caller signed in, or the caller is Reporter+ (admins always).</summary>
    private static async Task<ProjectEntity> RegistryProjectAsync(ApiCaller caller, string id, AccessLevel level)
    {
        var project = await caller.ReadableProjectAsync(id);
        if (!project.RegistryEnabled) throw ApiException.Forbidden("the container registry is turned off for this project");
        var have = await caller.ProjectLevelAsync(project);
        bool ok = level switch
        {
            AccessLevel.Reporter => have >= AccessLevel.Reporter || project.Visibility == Visibility.Public
                                    || (project.Visibility == Visibility.Internal && caller.Principal.IsAuthenticated),
            _ => have >= level,
        };
        if (!ok) throw ApiException.Forbidden();
        return project;
    }

    private static async Task<IResult> ListProjectRepositoriesAsync(HttpContext context, string id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.ReadAnonymous);
        var project = await RegistryProjectAsync(caller, id, AccessLevel.Reporter);
        var p = await ParamsAsync(caller);
        var lifecycle = caller.Get<RegistryLifecycle>();
        var query = lifecycle.ProjectRepositories(project);
        if (p.String("name") is { Length: > 0 } name) query = query.Where(r => r.Name.Contains(name.ToLower()));
        var page = await Pagination.PageAsync(context, query.OrderBy(r => r.Id), caller.Aborted);
        return Ok(await RepositoriesJsonAsync(caller, page.Select(r => (r, project)).ToList(), p.Bool("tags") == true, p.Bool("tags_count") == true, false));
    }

    private static async Task<IResult> ListGroupRepositoriesAsync(HttpContext context, string id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.ReadAnonymous);
        var group = await caller.ReadableGroupAsync(id);
        var p = await ParamsAsync(caller);
        var db = caller.Get<BerthDbContext>();
        var prefix = group.FullPath + "/";
        var candidates = await (await VisibleProjectsAsync(caller, membershipOnly: false))
            .Where(x => x.FullPath.StartsWith(prefix) && x.RegistryEnabled).ToListAsync(caller.Aborted);
        var projects = new List<ProjectEntity>();
        foreach (var project in candidates)
        {
            var level = await caller.ProjectLevelAsync(project);
            if (level >= AccessLevel.Reporter || project.Visibility == Visibility.Public || (project.Visibility == Visibility.Internal && caller.Principal.IsAuthenticated))
                projects.Add(project);
        }
        // Each repository belongs to the project with the longest matching path (projects may nest below projects' paths only through groups).
        var roots = projects.ToDictionary(x => x.FullPath.ToLowerInvariant());
        var rootList = roots.Keys.ToList();
        var repositories = await db.Repositories.Where(r => r.Name.StartsWith(prefix.ToLower())).OrderBy(r => r.Id).ToListAsync(caller.Aborted);
        var owned = new List<(RepositoryEntity, ProjectEntity)>();
        foreach (var r in repositories)
        {
            var owner = rootList.Where(root => r.Name == root || r.Name.StartsWith(root + "/", StringComparison.Ordinal)).OrderByDescending(x => x.Length).FirstOrDefault();
            if (owner is not null) owned.Add((r, roots[owner]));
        }
        var page = Pagination.Page(context, owned);
        return Ok(await RepositoriesJsonAsync(caller, page, p.Bool("tags") == true, p.Bool("tags_count") == true, false));
    }

    private static async Task<IResult> GetRepositoryAsync(HttpContext context, long repositoryId)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.ReadAnonymous);
        var (repository, project) = await RepositoryByIdAsync(caller, repositoryId, null, AccessLevel.Reporter);
        var p = await ParamsAsync(caller);
        var list = await RepositoriesJsonAsync(caller, [(repository, project)], p.Bool("tags") == true, p.Bool("tags_count") == true, p.Bool("size") ?? true);
        return Ok(list[0]);
    }

    /// <summary>A repository by id and its project; 404 when it does not exist, is not the given project's, or the caller cannot see it.</summary>
    private static async Task<(RepositoryEntity Repository, ProjectEntity Project)> RepositoryByIdAsync(ApiCaller caller, long repositoryId, ProjectEntity? project, AccessLevel level)
    {
        var db = caller.Get<BerthDbContext>();
        var repository = await db.Repositories.FirstOrDefaultAsync(r => r.Id == repositoryId, caller.Aborted)
            ?? throw ApiException.NotFound("Repository");
        if (!RepositoryName.TryParse(repository.Name, out var name, out _)) throw ApiException.NotFound("Repository");
        var owner = await caller.Get<AccessPolicy>().FindProjectForRepositoryAsync(name, caller.Aborted);
        if (owner is null || (project is not null && owner.Id != project.Id)) throw ApiException.NotFound("Repository");
        if (project is null)
        {
            try
            {
                project = await RegistryProjectAsync(caller, owner.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), level);
            }
            catch (ApiException ex) when (ex.Status == 404)
            {
                throw ApiException.NotFound("Repository");
            }
        }
        return (repository, project);
    }

    private static async Task<List<RegistryRepositoryJson>> RepositoriesJsonAsync(ApiCaller caller, IReadOnlyList<(RepositoryEntity Repository, ProjectEntity Project)> items, bool tags, bool tagsCount, bool size)
    {
        var db = caller.Get<BerthDbContext>();
        var host = Represent(caller).RegistryHost;
        var ids = items.Select(i => i.Repository.Id).ToList();
        var deletions = await db.RepositoryDeletions.Where(d => ids.Contains(d.RepositoryId)).ToDictionaryAsync(d => d.RepositoryId, caller.Aborted);
        var counts = tagsCount
            ? await db.Tags.Where(t => ids.Contains(t.RepositoryId)).GroupBy(t => t.RepositoryId).Select(g => new { g.Key, Count = g.Count() }).ToDictionaryAsync(x => x.Key, x => x.Count, caller.Aborted)
            : [];
        var tagNames = tags
            ? (await db.Tags.Where(t => ids.Contains(t.RepositoryId)).Select(t => new { t.RepositoryId, t.Name }).ToListAsync(caller.Aborted))
                .GroupBy(t => t.RepositoryId).ToDictionary(g => g.Key, g => g.Select(t => t.Name).Order(StringComparer.Ordinal).ToList())
            : [];
        var cleanup = await db.CleanupRuns.Where(c => items.Select(i => i.Project.Id).Contains(c.ProjectId))
            .GroupBy(c => c.ProjectId).Select(g => new { g.Key, At = g.Max(c => c.StartedAt) }).ToDictionaryAsync(x => x.Key, x => (DateTime?)x.At, caller.Aborted);
        var result = new List<RegistryRepositoryJson>();
        foreach (var (r, project) in items)
        {
            var root = project.FullPath.ToLowerInvariant();
            var imageName = r.Name.Length > root.Length ? r.Name[(root.Length + 1)..] : "";
            deletions.TryGetValue(r.Id, out var deletion);
            result.Add(new RegistryRepositoryJson(r.Id, imageName, r.Name, project.Id, $"{host}/{r.Name}", r.CreatedAt,
                cleanup.GetValueOrDefault(project.Id), deletion?.Status)
            {
                TagsCount = tagsCount ? counts.GetValueOrDefault(r.Id) : null,
                Tags = tags ? tagNames.GetValueOrDefault(r.Id, []).Select(t => new RegistryTagJson(t, $"{r.Name}:{t}", $"{host}/{r.Name}:{t}")).ToList() : null,
                Size = size ? (await caller.Get<RegistryUsage>().ForRepositoryAsync(r.Id, caller.Aborted)).Bytes : null,
                DeleteError = deletion?.LastError,
            });
        }
        return result;
    }

    private static async Task<IResult> DeleteRepositoryAsync(HttpContext context, string id, long repositoryId)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        var project = await RegistryProjectAsync(caller, id, AccessLevel.Developer);
        var (repository, _) = await RepositoryByIdAsync(caller, repositoryId, project, AccessLevel.Developer);
        await caller.Get<RegistryLifecycle>().ScheduleRepositoryDeletionAsync(caller.Principal, repository, caller.Aborted);
        return Accepted();
    }

    private static async Task<IResult> ListRepositoryTagsAsync(HttpContext context, string id, long repositoryId)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.ReadAnonymous);
        var project = await RegistryProjectAsync(caller, id, AccessLevel.Reporter);
        var (repository, _) = await RepositoryByIdAsync(caller, repositoryId, project, AccessLevel.Reporter);
        var p = await ParamsAsync(caller);
        var db = caller.Get<BerthDbContext>();
        var tags = db.Tags.Where(t => t.RepositoryId == repository.Id);
        bool desc = string.Equals(p.String("sort"), "desc", StringComparison.OrdinalIgnoreCase);
        if (p.String("sort") is { Length: > 0 } sort && sort is not ("asc" or "desc")) throw ApiException.BadRequest("sort does not have a valid value");
        tags = p.String("order_by") switch
        {
            null or "" or "name" => desc ? tags.OrderByDescending(t => t.Name) : tags.OrderBy(t => t.Name),
            "updated_at" or "published_at" => desc ? tags.OrderByDescending(t => t.UpdatedAt).ThenByDescending(t => t.Name) : tags.OrderBy(t => t.UpdatedAt).ThenBy(t => t.Name),
            _ => throw ApiException.BadRequest("order_by does not have a valid value: use name or updated_at"),
        };
        var page = await Pagination.PageAsync(context, tags.Select(t => t.Name), caller.Aborted);
        var host = Represent(caller).RegistryHost;
        return Ok(page.Select(t => new RegistryTagJson(t, $"{repository.Name}:{t}", $"{host}/{repository.Name}:{t}")));
    }

    private static async Task<IResult> GetRepositoryTagAsync(HttpContext context, string id, long repositoryId, string tagName)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.ReadAnonymous);
        var project = await RegistryProjectAsync(caller, id, AccessLevel.Reporter);
        var (repository, _) = await RepositoryByIdAsync(caller, repositoryId, project, AccessLevel.Reporter);
        var db = caller.Get<BerthDbContext>();
        var row = await (from t in db.Tags
                         where t.RepositoryId == repository.Id && t.Name == tagName
                         join m in db.Manifests on t.ManifestId equals m.Id
                         select new { t.Name, t.UpdatedAt, m.Id, m.Digest, m.MediaType, m.Content }).FirstOrDefaultAsync(caller.Aborted)
            ?? throw ApiException.NotFound("Tag");
        long total = await (from mr in db.ManifestReferences
                            where mr.ManifestId == row.Id && !mr.IsManifest
                            join b in db.Blobs on mr.Digest equals b.Digest
                            select (long?)b.Size).SumAsync(caller.Aborted) ?? 0;
        string? revision = ConfigDigest(row.Content) is { } config && config.IndexOf(':') is var colon and > 0 ? config[(colon + 1)..] : null;
        var host = Represent(caller).RegistryHost;
        return Ok(new RegistryTagDetailJson(row.Name, $"{repository.Name}:{row.Name}", $"{host}/{repository.Name}:{row.Name}",
            revision, revision?[..Math.Min(9, revision.Length)], row.Digest, row.UpdatedAt, total, row.MediaType));
    }

    private static string? ConfigDigest(byte[] content)
    {
        try
        {
            using var doc = JsonDocument.Parse(content);
            return doc.RootElement.TryGetProperty("config", out var config) && config.ValueKind == JsonValueKind.Object
                   && config.TryGetProperty("digest", out var d) ? d.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static async Task<IResult> DeleteRepositoryTagAsync(HttpContext context, string id, long repositoryId, string tagName)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        var project = await RegistryProjectAsync(caller, id, AccessLevel.Developer);
        var (repository, _) = await RepositoryByIdAsync(caller, repositoryId, project, AccessLevel.Developer);
        var name = RepositoryName.Parse(repository.Name);
        if (!await caller.Get<BerthDbContext>().Tags.AnyAsync(t => t.RepositoryId == repository.Id && t.Name == tagName, caller.Aborted))
            throw ApiException.NotFound("Tag");
        var result = await caller.Get<RegistryLifecycle>().DeleteTagsAsAsync(caller.Principal, name, [tagName], caller.Aborted);
        if (result.Failures.Count > 0) throw new ApiException(500, new { message = "deleting the tag failed: " + result.Failures[0] });
        return Results.Ok();
    }

    private static async Task<IResult> BulkDeleteTagsAsync(HttpContext context, string id, long repositoryId)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        var project = await RegistryProjectAsync(caller, id, AccessLevel.Developer);
        var (repository, _) = await RepositoryByIdAsync(caller, repositoryId, project, AccessLevel.Developer);
        var p = await ParamsAsync(caller);
        var regex = p.String("name_regex_delete") ?? p.String("name_regex");
        if (string.IsNullOrEmpty(regex)) throw ApiException.BadRequest("name_regex_delete is missing");
        var criteria = TagDeletionCriteria.Parse(regex, p.String("name_regex_keep"), p.Long("keep_n"), p.String("older_than"));
        var db = caller.Get<BerthDbContext>();
        var tags = await db.Tags.Where(t => t.RepositoryId == repository.Id).Select(t => new TagAge(t.Name, t.UpdatedAt)).ToListAsync(caller.Aborted);
        var now = caller.Get<TimeProvider>().GetUtcNow().UtcDateTime;
        var selected = criteria.Select(tags, now);
        var name = RepositoryName.Parse(repository.Name);
        var result = await caller.Get<RegistryLifecycle>().DeleteTagsAsAsync(caller.Principal, name, selected, caller.Aborted);
        context.Response.Headers["X-Berth-Tags-Deleted"] = result.Deleted.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (result.Failures.Count > 0) throw new ApiException(500, new { message = $"{result.Deleted} tags deleted, {result.Failures.Count} failed", failures = result.Failures });
        return Accepted();
    }

    private static ProtectionTagRuleJson RuleJson(ProtectedTagRuleEntity r) =>
        new(r.Id, r.ProjectId, r.TagNamePattern, TagProtection.LevelName(r.MinimumAccessLevelForPush), TagProtection.LevelName(r.MinimumAccessLevelForDelete));

    private static async Task<IResult> ListProtectionRulesAsync(HttpContext context, string id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Read);
        var project = await caller.ProjectWithLevelAsync(id, AccessLevel.Maintainer);
        var rules = await caller.Get<TagProtection>().ListAsync(project.Id, caller.Aborted);
        return Ok(rules.Select(RuleJson));
    }

    private static async Task<IResult> CreateProtectionRuleAsync(HttpContext context, string id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        var project = await caller.ProjectWithLevelAsync(id, AccessLevel.Maintainer);
        var p = await ParamsAsync(caller);
        var pattern = p.Required("tag_name_pattern");
        TagProtection.Compile(pattern);
        int push = TagProtection.ParseLevel(p.Required("minimum_access_level_for_push"), "minimum_access_level_for_push");
        int delete = TagProtection.ParseLevel(p.Required("minimum_access_level_for_delete"), "minimum_access_level_for_delete");
        await RequireCanGrantAsync(caller, project, Math.Max(push, delete));
        var db = caller.Get<BerthDbContext>();
        if (await db.ProtectedTagRules.CountAsync(r => r.ProjectId == project.Id, caller.Aborted) >= TagProtection.MaxRulesPerProject)
            throw ApiException.BadRequest($"a project may have at most {TagProtection.MaxRulesPerProject} protection rules");
        if (await db.ProtectedTagRules.AnyAsync(r => r.ProjectId == project.Id && r.TagNamePattern == pattern, caller.Aborted))
            throw new ApiException(422, new { message = "tag_name_pattern has already been taken" });
        var rule = new ProtectedTagRuleEntity
        {
            ProjectId = project.Id, TagNamePattern = pattern, MinimumAccessLevelForPush = push, MinimumAccessLevelForDelete = delete,
            CreatedAt = caller.Get<TimeProvider>().GetUtcNow().UtcDateTime,
        };
        db.ProtectedTagRules.Add(rule);
        await db.SaveChangesAsync(caller.Aborted);
        db.ChangeTracker.Clear();
        return Created(RuleJson(rule));
    }

    /// <summary>A Maintainer may not make rules only Owners or administrators could change afterwards.</summary>
    private static async Task RequireCanGrantAsync(ApiCaller caller, ProjectEntity project, int level)
    {
        int mine = caller.IsAdmin ? AccessPolicy.AdminLevel : (int)await caller.ProjectLevelAsync(project);
        if (mine < level) throw ApiException.Forbidden($"a rule requiring {TagProtection.LevelName(level)} needs that level to create or change it");
    }

    private static async Task<IResult> UpdateProtectionRuleAsync(HttpContext context, string id, long ruleId)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        var project = await caller.ProjectWithLevelAsync(id, AccessLevel.Maintainer);
        var db = caller.Get<BerthDbContext>();
        var rule = await db.ProtectedTagRules.AsTracking().FirstOrDefaultAsync(r => r.Id == ruleId && r.ProjectId == project.Id, caller.Aborted)
            ?? throw ApiException.NotFound("Protection rule");
        await RequireCanGrantAsync(caller, project, Math.Max(rule.MinimumAccessLevelForPush, rule.MinimumAccessLevelForDelete));
        var p = await ParamsAsync(caller);
        if (p.String("tag_name_pattern") is { Length: > 0 } pattern)
        {
            TagProtection.Compile(pattern);
            rule.TagNamePattern = pattern;
        }
        if (p.String("minimum_access_level_for_push") is { Length: > 0 } push) rule.MinimumAccessLevelForPush = TagProtection.ParseLevel(push, "minimum_access_level_for_push");
        if (p.String("minimum_access_level_for_delete") is { Length: > 0 } delete) rule.MinimumAccessLevelForDelete = TagProtection.ParseLevel(delete, "minimum_access_level_for_delete");
        await RequireCanGrantAsync(caller, project, Math.Max(rule.MinimumAccessLevelForPush, rule.MinimumAccessLevelForDelete));
        await db.SaveChangesAsync(caller.Aborted);
        db.ChangeTracker.Clear();
        return Ok(RuleJson(rule));
    }

    private static async Task<IResult> DeleteProtectionRuleAsync(HttpContext context, string id, long ruleId)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        var project = await caller.ProjectWithLevelAsync(id, AccessLevel.Maintainer);
        var db = caller.Get<BerthDbContext>();
        var rule = await db.ProtectedTagRules.FirstOrDefaultAsync(r => r.Id == ruleId && r.ProjectId == project.Id, caller.Aborted)
            ?? throw ApiException.NotFound("Protection rule");
        await RequireCanGrantAsync(caller, project, Math.Max(rule.MinimumAccessLevelForPush, rule.MinimumAccessLevelForDelete));
        await db.ProtectedTagRules.Where(r => r.Id == ruleId).ExecuteDeleteAsync(caller.Aborted);
        return Results.NoContent();
    }

    private static async Task<IResult> ListCleanupRunsAsync(HttpContext context, string id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Read);
        var project = await caller.ProjectWithLevelAsync(id, AccessLevel.Maintainer);
        var runs = caller.Get<BerthDbContext>().CleanupRuns.Where(r => r.ProjectId == project.Id).OrderByDescending(r => r.Id);
        var page = await Pagination.PageAsync(context, runs, caller.Aborted);
        return Ok(page.Select(CleanupRunJsonOf));
    }

    internal static CleanupRunJson CleanupRunJsonOf(CleanupRunEntity r) =>
        new(r.Id, r.ProjectId, r.Status, r.StartedAt, r.FinishedAt, r.DurationMs, r.Repositories, r.TagsDeleted, r.TagsProtected, r.Failures,
            r.FailureDetails?.Split('\n') ?? []);
}
