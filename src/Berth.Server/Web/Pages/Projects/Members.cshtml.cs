using Berth.Auth;
using Berth.Auth.Accounts;
using Microsoft.AspNetCore.Mvc;

namespace Berth.Server.Web.Pages.Projects;

/// <summary><c>/-/members/&lt;full path&gt;</c>: a project's direct members; Maintainers add, change and remove
/// them (only Owners hand out or take away the Owner role).</summary>
public sealed class MembersModel : WebPage
{
    /// <summary>The project.</summary>
    public ProjectContext Context { get; private set; } = null!;
    /// <summary>Direct members.</summary>
    public IReadOnlyList<MemberWithUser> Members { get; private set; } = [];

    /// <summary>Roles the caller may give.</summary>
    public IEnumerable<AccessLevel> AssignableLevels => MemberService.ValidLevels.Where(CanAssign);

    /// <summary>Whether the caller may give or take this role.</summary>
    public bool CanAssign(AccessLevel level) => Context.CanManage && (level < AccessLevel.Owner || Context.Level >= AccessLevel.Owner);

    /// <summary>GET.</summary>
    public async Task<IActionResult> OnGetAsync(string? path) => await LoadAsync(path, manage: false) ?? Page();

    /// <summary>POST: adds a member.</summary>
    public async Task<IActionResult> OnPostAddAsync(string? path, string? username, int level) =>
        await ChangeAsync(path, async members =>
        {
            var parsed = MemberService.ParseLevel(level);
            if (!CanAssign(parsed)) throw new AccountException(AccountErrorKind.Forbidden, "Only Owners can make someone an Owner.");
            var user = await Service<AccountService>().GetUserAsync(username ?? "", Aborted);
            await members.AddAsync(MemberTarget.Project(Context.Project.Id), user.Id, parsed, null, Aborted);
            return $"{user.Username} was added as {parsed}.";
        });

    /// <summary>POST: changes a member's role.</summary>
    public async Task<IActionResult> OnPostUpdateAsync(string? path, long userId, int level) =>
        await ChangeAsync(path, async members =>
        {
            var parsed = MemberService.ParseLevel(level);
            var existing = await members.GetAsync(MemberTarget.Project(Context.Project.Id), userId, Aborted);
            if (!CanAssign(parsed) || !CanAssign((AccessLevel)existing.Member.AccessLevel))
                throw new AccountException(AccountErrorKind.Forbidden, "Only Owners can give or take the Owner role.");
            await members.UpdateAsync(MemberTarget.Project(Context.Project.Id), userId, parsed, false, null, Aborted);
            return $"{existing.User.Username} is now {parsed}.";
        });

    /// <summary>POST: removes a member.</summary>
    public async Task<IActionResult> OnPostRemoveAsync(string? path, long userId) =>
        await ChangeAsync(path, async members =>
        {
            var existing = await members.GetAsync(MemberTarget.Project(Context.Project.Id), userId, Aborted);
            if (!CanAssign((AccessLevel)existing.Member.AccessLevel))
                throw new AccountException(AccountErrorKind.Forbidden, "Only Owners can remove an Owner.");
            await members.RemoveAsync(MemberTarget.Project(Context.Project.Id), userId, Aborted);
            return $"{existing.User.Username} was removed from the project.";
        });

    private async Task<IActionResult> ChangeAsync(string? path, Func<MemberService, Task<string>> change)
    {
        var result = await LoadAsync(path, manage: true);
        if (result is not null) return result;
        try
        {
            Flash(await change(Service<MemberService>()));
            return LocalRedirect(WebPaths.Members(Context.Project.FullPath));
        }
        catch (AccountException ex)
        {
            Error = ex.Message;
            Members = await Service<MemberService>().ListAsync(MemberTarget.Project(Context.Project.Id), Aborted);
            return Page();
        }
    }

    private async Task<IActionResult?> LoadAsync(string? path, bool manage)
    {
        var context = await LoadProjectAsync(path);
        if (context is null || (Me is null && context.Level == AccessLevel.None && manage)) return NotFoundPage();
        if (manage && !context.CanManage) return ForbiddenPage();
        Context = context;
        UseProjectMenu(context, "members");
        Members = await Service<MemberService>().ListAsync(MemberTarget.Project(context.Project.Id), Aborted);
        return null;
    }
}
