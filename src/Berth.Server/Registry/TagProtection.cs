using System.Text.RegularExpressions;
using Berth.Auth;
using Berth.Distribution;
using Berth.Metadata;
using Berth.Server.Configuration;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Berth.Server.Registry;

/// <summary>
/// Protected container tags (GitLab's container registry protection tag rules): per project, a tag name pattern and
/// the minimum access levels to push and to delete matching tags (<c>maintainer</c> 40, <c>owner</c> 50,
/// <c>admin</c> 60 = instance administrators only). When several rules match a tag, the strictest applies. Enforced on
/// <c>/v2</c> manifest PUT by tag and DELETE, on the REST API's and the web UI's tag and repository deletes; cleanup
/// policies skip protected tags. A refusal is DENIED naming the rule. With <c>Auth:Mode = none</c> nothing is enforced.
/// </summary>
public sealed class TagProtection(BerthDbContext db, AccessPolicy policy, IOptions<AuthOptions> auth)
{
    /// <summary>Most rules per project.</summary>
    public const int MaxRulesPerProject = 20;

    /// <summary>Longest pattern, in characters (GitLab's limit).</summary>
    public const int MaxPatternLength = 100;

    /// <summary>GitLab's names of the levels a rule may require.</summary>
    public static readonly IReadOnlyDictionary<string, int> LevelNames = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase)
    {
        ["maintainer"] = (int)AccessLevel.Maintainer,
        ["owner"] = (int)AccessLevel.Owner,
        ["admin"] = AccessPolicy.AdminLevel,
    };

    /// <summary>The GitLab name of a rule level (<c>maintainer</c>, <c>owner</c>, <c>admin</c>).</summary>
    public static string LevelName(int level) => level switch
    {
        >= AccessPolicy.AdminLevel => "admin",
        >= (int)AccessLevel.Owner => "owner",
        _ => "maintainer",
    };

    /// <summary>A display name of an acting level (<c>Developer</c>, <c>administrator</c>…).</summary>
    public static string Describe(int level) => level >= AccessPolicy.AdminLevel ? "administrator" : level == 0 ? "no role" : ((AccessLevel)level).ToString();

    private bool Enforced => !string.Equals(auth.Value.Mode, "none", StringComparison.OrdinalIgnoreCase);

    /// <summary>A project's rules, oldest first.</summary>
    public Task<List<ProtectedTagRuleEntity>> ListAsync(long projectId, CancellationToken cancellationToken) =>
        db.ProtectedTagRules.Where(r => r.ProjectId == projectId).OrderBy(r => r.Id).ToListAsync(cancellationToken);

    /// <summary>Compiles a rule's pattern (unanchored, RE2-style).</summary>
    /// <exception cref="TagRuleException">Empty, longer than <see cref="MaxPatternLength"/>, or not a valid expression.</exception>
    public static Regex Compile(string pattern)
    {
        if (string.IsNullOrEmpty(pattern)) throw new TagRuleException("tag_name_pattern is missing");
        if (pattern.Length > MaxPatternLength) throw new TagRuleException($"tag_name_pattern is too long (maximum is {MaxPatternLength} characters)");
        return TagPatterns.Search(pattern, "tag_name_pattern");
    }

    /// <summary>Parses a level name of a rule.</summary>
    /// <exception cref="TagRuleException">Not <c>maintainer</c>, <c>owner</c> or <c>admin</c>.</exception>
    public static int ParseLevel(string? value, string field) =>
        value is not null && LevelNames.TryGetValue(value, out var level)
            ? level
            : throw new TagRuleException($"{field} does not have a valid value: use maintainer, owner or admin");

    /// <summary>The rules of a project that match <paramref name="tag"/> (empty: not protected).</summary>
    public static List<ProtectedTagRuleEntity> Matching(IEnumerable<ProtectedTagRuleEntity> rules, string tag) =>
        rules.Where(r => TagPatterns.Matches(SafeCompile(r.TagNamePattern), tag)).ToList();

    private static Regex SafeCompile(string pattern)
    {
        try
        {
            return TagPatterns.Search(pattern, "tag_name_pattern");
        }
        catch (TagRuleException)
        {
            return new Regex(".*", RegexOptions.NonBacktracking); // a stored rule that no longer compiles protects everything
        }
    }

    /// <summary>Refuses a push of <paramref name="tag"/> into <paramref name="repository"/> when a rule covers it and
    /// the caller's level is below the rule's push level.</summary>
    /// <exception cref="RegistryException">DENIED, naming the rule, the level needed and the caller's.</exception>
    public Task CheckPushAsync(Principal principal, RepositoryName repository, string tag, CancellationToken cancellationToken) =>
        CheckAsync(principal, repository, [tag], push: true, cancellationToken);

    /// <summary>Refuses deleting any of <paramref name="tags"/> of <paramref name="repository"/> when a rule covers it
    /// and the caller's level is below the rule's delete level.</summary>
    /// <exception cref="RegistryException">DENIED, naming the rule.</exception>
    public Task CheckDeleteAsync(Principal principal, RepositoryName repository, IReadOnlyCollection<string> tags, CancellationToken cancellationToken) =>
        CheckAsync(principal, repository, tags, push: false, cancellationToken);

    /// <summary>Refuses deleting a manifest by digest when a tag pointing at it is protected against the caller.</summary>
    /// <exception cref="RegistryException">DENIED, naming the rule.</exception>
    public async Task CheckDeleteManifestAsync(Principal principal, RepositoryName repository, Digest digest, CancellationToken cancellationToken)
    {
        if (!Enforced) return;
        var d = digest.ToString();
        var tags = await (from t in db.Tags
                          join m in db.Manifests on t.ManifestId equals m.Id
                          join r in db.Repositories on m.RepositoryId equals r.Id
                          where r.Name == repository.Value && m.Digest == d
                          select t.Name).ToListAsync(cancellationToken);
        if (tags.Count > 0) await CheckAsync(principal, repository, tags, push: false, cancellationToken);
    }

    private async Task CheckAsync(Principal principal, RepositoryName repository, IReadOnlyCollection<string> tags, bool push, CancellationToken cancellationToken)
    {
        if (!Enforced || tags.Count == 0) return;
        var project = await policy.FindProjectForRepositoryAsync(repository, cancellationToken);
        if (project is null) return;
        var rules = await ListAsync(project.Id, cancellationToken);
        if (rules.Count == 0) return;
        int? level = null;
        foreach (var tag in tags)
        {
            var matching = Matching(rules, tag);
            if (matching.Count == 0) continue;
            var strictest = matching.OrderByDescending(r => push ? r.MinimumAccessLevelForPush : r.MinimumAccessLevelForDelete).ThenBy(r => r.Id).First();
            int needed = push ? strictest.MinimumAccessLevelForPush : strictest.MinimumAccessLevelForDelete;
            level ??= await policy.GetActingLevelAsync(principal, project, cancellationToken);
            if (level >= needed) continue;
            var action = push ? "push" : "delete";
            throw new RegistryException(ErrorCode.Denied,
                $"tag '{tag}' of {repository} is protected by rule {strictest.Id} (tag_name_pattern '{strictest.TagNamePattern}'): to {action} it needs at least {LevelName(needed)}; {principal.Name} has {Describe(level.Value)}",
                new { component = "protected tags", repository = repository.Value, tag, rule = strictest.Id, pattern = strictest.TagNamePattern, needed = LevelName(needed), action });
        }
    }
}
