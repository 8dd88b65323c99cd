using Berth.Auth;
using Berth.Auth.Accounts;
using Berth.Metadata;
using Berth.Server.Registry;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace Berth.Server.Web.Pages.Projects;

/// <summary><c>/-/settings/&lt;full path&gt;</c>: General settings (name, description, visibility, the Container
/// Registry switch), the cleanup policy with its run log, protected tags, and (for Owners) the project's path and
/// namespace, for Maintainers and Owners.</summary>
public sealed class SettingsModel : WebPage
{
    /// <summary>How many cleanup runs the page shows.</summary>
    public const int RunsShown = 10;

    /// <summary>The project.</summary>
    public ProjectContext Context { get; private set; } = null!;

    /// <summary>The project's cleanup policy (defaults when never saved).</summary>
    public ContainerExpirationPolicyEntity Policy { get; private set; } = null!;

    /// <summary>The latest cleanup runs, newest first.</summary>
    public IReadOnlyList<CleanupRunEntity> Runs { get; private set; } = [];

    /// <summary>The protected-tag rules.</summary>
    public IReadOnlyList<ProtectedTagRuleEntity> Rules { get; private set; } = [];

    /// <summary>Whether the caller may change the path or move the project (Owner).</summary>
    public bool CanMove => Context.Level >= AccessLevel.Owner;

    /// <summary>GET.</summary>
    public async Task<IActionResult> OnGetAsync(string? path)
    {
        var result = await LoadAsync(path);
        return result ?? Page();
    }

    /// <summary>POST: saves and confirms with a message.</summary>
    public async Task<IActionResult> OnPostAsync(string? path, string? name, string? description, string? visibility, bool registryEnabled)
    {
        var result = await LoadAsync(path);
        if (result is not null) return result;
        try
        {
            var saved = await Service<ProjectService>().UpdateProjectAsync(Context.Project.Id,
                new ProjectChanges(name, description?.Trim() ?? "", visibility, registryEnabled), Aborted);
            Flash($"Project settings were saved: {saved.Visibility}, Container Registry {(saved.RegistryEnabled ? "on" : "off")}.");
            return LocalRedirect(WebPaths.Settings(saved.FullPath));
        }
        catch (AccountException ex)
        {
            Error = ex.Message;
            return Page();
        }
    }

    /// <summary>POST ?handler=CleanupPolicy: saves the cleanup policy.</summary>
    public async Task<IActionResult> OnPostCleanupPolicyAsync(string? path, bool enabled, string? cadence, string? keepN, string? olderThan, string? nameRegex, string? nameRegexKeep)
    {
        var result = await LoadAsync(path);
        if (result is not null) return result;
        try
        {
            int? keep = string.IsNullOrEmpty(keepN) ? null : int.TryParse(keepN, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var k) ? k : throw new TagRuleException("Keep the most recent: not a number");
            var saved = await Service<RegistryLifecycle>().SavePolicyAsync(Context.Project.Id, policy =>
            {
                policy.Enabled = enabled;
                policy.Cadence = cadence ?? policy.Cadence;
                policy.KeepN = keep;
                policy.OlderThan = string.IsNullOrEmpty(olderThan) ? null : olderThan;
                policy.NameRegex = string.IsNullOrWhiteSpace(nameRegex) ? null : nameRegex.Trim();
                policy.NameRegexKeep = string.IsNullOrWhiteSpace(nameRegexKeep) ? null : nameRegexKeep.Trim();
            }, Aborted);
            Flash(saved.Enabled ? $"Cleanup policy saved: next run {WebFormat.Date(saved.NextRunAt!.Value)}." : "Cleanup policy saved (disabled).");
            return LocalRedirect(WebPaths.Settings(Context.Project.FullPath));
        }
        catch (TagRuleException ex)
        {
            Error = ex.Message;
            return Page();
        }
    }

    /// <summary>POST ?handler=AddRule: adds a protected-tag rule.</summary>
    public async Task<IActionResult> OnPostAddRuleAsync(string? path, string? pattern, string? push, string? delete)
    {
        var result = await LoadAsync(path);
        if (result is not null) return result;
        try
        {
            if (string.IsNullOrEmpty(pattern)) throw new TagRuleException("Enter a tag name pattern.");
            TagProtection.Compile(pattern);
            int pushLevel = TagProtection.ParseLevel(push, "Minimum role to push");
            int deleteLevel = TagProtection.ParseLevel(delete, "Minimum role to delete");
            int mine = await Service<AccessPolicy>().GetActingLevelAsync(Caller, Context.Project, Aborted);
            if (mine < Math.Max(pushLevel, deleteLevel)) throw new TagRuleException($"You cannot add a rule that requires {TagProtection.LevelName(Math.Max(pushLevel, deleteLevel))}: that is above your role.");
            if (Rules.Count >= TagProtection.MaxRulesPerProject) throw new TagRuleException($"A project may have at most {TagProtection.MaxRulesPerProject} rules.");
            if (Rules.Any(r => r.TagNamePattern == pattern)) throw new TagRuleException($"A rule for {pattern} exists already.");
            var db = Service<BerthDbContext>();
            db.ProtectedTagRules.Add(new ProtectedTagRuleEntity
            {
                ProjectId = Context.Project.Id, TagNamePattern = pattern, MinimumAccessLevelForPush = pushLevel, MinimumAccessLevelForDelete = deleteLevel,
                CreatedAt = Service<TimeProvider>().GetUtcNow().UtcDateTime,
            });
            await db.SaveChangesAsync(Aborted);
            db.ChangeTracker.Clear();
            Flash($"Tags matching {pattern} are protected.");
            return LocalRedirect(WebPaths.Settings(Context.Project.FullPath));
        }
        catch (TagRuleException ex)
        {
            Error = ex.Message;
            return Page();
        }
    }

    /// <summary>POST ?handler=DeleteRule: removes a protected-tag rule.</summary>
    public async Task<IActionResult> OnPostDeleteRuleAsync(string? path, long ruleId)
    {
        var result = await LoadAsync(path);
        if (result is not null) return result;
        var rule = Rules.FirstOrDefault(r => r.Id == ruleId);
        if (rule is null) return NotFoundPage();
        int mine = await Service<AccessPolicy>().GetActingLevelAsync(Caller, Context.Project, Aborted);
        if (mine < Math.Max(rule.MinimumAccessLevelForPush, rule.MinimumAccessLevelForDelete))
        {
            Error = "You cannot remove a rule that requires more than your role.";
            return Page();
        }
        await Service<BerthDbContext>().ProtectedTagRules.Where(r => r.Id == ruleId).ExecuteDeleteAsync(Aborted);
        Flash($"The rule for {rule.TagNamePattern} was removed.");
        return LocalRedirect(WebPaths.Settings(Context.Project.FullPath));
    }

    /// <summary>POST ?handler=Move: changes the project's path and/or namespace (Owner); its images follow.</summary>
    public async Task<IActionResult> OnPostMoveAsync(string? path, string? newPath, string? newNamespace)
    {
        var result = await LoadAsync(path);
        if (result is not null) return result;
        if (!CanMove) return ForbiddenPage();
        try
        {
            long? namespaceId = null;
            if (!string.IsNullOrWhiteSpace(newNamespace) && !string.Equals(newNamespace.Trim(), Context.Namespace.FullPath, StringComparison.Ordinal))
            {
                var ns = await Service<GroupService>().FindNamespaceAsync(newNamespace.Trim(), Aborted)
                    ?? throw new AccountException(AccountErrorKind.NotFound, $"There is no namespace {newNamespace.Trim()}.");
                var level = ns.Kind == GroupService.UserKind
                    ? (Caller.IsAdmin || ns.OwnerId == Caller.UserId ? AccessLevel.Owner : AccessLevel.None)
                    : Caller.IsAdmin ? AccessLevel.Owner : Caller.UserId is { } uid ? await Service<AccessPolicy>().GetNamespaceAccessLevelAsync(uid, ns, Aborted) : AccessLevel.None;
                if (level < AccessLevel.Maintainer) throw new AccountException(AccountErrorKind.Forbidden, $"Moving a project into {ns.FullPath} needs the Maintainer role there.");
                namespaceId = ns.Id;
            }
            var moved = await Service<PathMoves>().MoveProjectAsync(Context.Project.Id, newPath, namespaceId, Aborted);
            Flash($"The project is now at {moved.FullPath}; its images moved along. Old image names no longer answer.");
            return LocalRedirect(WebPaths.Settings(moved.FullPath));
        }
        catch (AccountException ex)
        {
            Error = ex.Message;
            return Page();
        }
    }

    private async Task<IActionResult?> LoadAsync(string? path)
    {
        var context = await LoadProjectAsync(path);
        if (context is null) return NotFoundPage();
        if (!context.CanManage) return ForbiddenPage();
        Context = context;
        UseProjectMenu(context, "settings");
        Policy = await Service<RegistryLifecycle>().GetPolicyAsync(context.Project.Id, Aborted);
        Runs = await Service<BerthDbContext>().CleanupRuns.Where(r => r.ProjectId == context.Project.Id).OrderByDescending(r => r.Id).Take(RunsShown).ToListAsync(Aborted);
        Rules = await Service<TagProtection>().ListAsync(context.Project.Id, Aborted);
        return null;
    }
}
