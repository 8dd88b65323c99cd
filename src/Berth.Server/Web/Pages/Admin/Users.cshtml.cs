using Berth.Auth.Accounts;
using Berth.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace Berth.Server.Web.Pages.Admin;

/// <summary><c>/admin/users</c>: every user; create, block or unblock, grant or withdraw administration.</summary>
public sealed class AdminUsersModel : WebPage
{
    /// <summary>All users by username.</summary>
    public IReadOnlyList<UserEntity> Users { get; private set; } = [];
    /// <summary>Typed values after an error.</summary>
    public string? Name { get; private set; }
    /// <summary>Typed username.</summary>
    public string? Username { get; private set; }
    /// <summary>Typed e-mail.</summary>
    public string? Email { get; private set; }

    /// <summary>GET.</summary>
    public Task OnGetAsync() => LoadAsync();

    /// <summary>POST: creates a user.</summary>
    public async Task<IActionResult> OnPostCreateAsync(string? name, string? username, string? email, string? password, bool admin)
    {
        try
        {
            var user = await Service<AccountService>().CreateUserAsync(new NewUser(username ?? "", email ?? "", name, password ?? "", admin), Aborted);
            Flash($"User {user.Username} was created{(admin ? " as an administrator" : "")}.");
            return LocalRedirect("/admin/users");
        }
        catch (AccountException ex)
        {
            Error = ex.Message;
            (Name, Username, Email) = (name, username, email);
            await LoadAsync();
            return Page();
        }
    }

    /// <summary>POST: blocks or unblocks (not oneself).</summary>
    public Task<IActionResult> OnPostBlockAsync(long id, bool blocked) =>
        ChangeAsync(id, async (accounts, user) =>
        {
            await accounts.SetBlockedAsync(id, blocked, Aborted);
            return blocked ? $"{user.Username} was blocked." : $"{user.Username} was unblocked.";
        });

    /// <summary>POST: grants or withdraws administration (not for oneself).</summary>
    public Task<IActionResult> OnPostAdminAsync(long id, bool admin) =>
        ChangeAsync(id, async (accounts, user) =>
        {
            await accounts.SetAdminAsync(id, admin, Aborted);
            return admin ? $"{user.Username} is now an administrator." : $"{user.Username} is no longer an administrator.";
        });

    private async Task<IActionResult> ChangeAsync(long id, Func<AccountService, UserEntity, Task<string>> change)
    {
        if (id == Me!.Id)
        {
            Error = "You cannot block yourself or remove your own administrator rights.";
            await LoadAsync();
            return Page();
        }
        var accounts = Service<AccountService>();
        try
        {
            var user = await accounts.GetUserAsync(id, Aborted);
            Flash(await change(accounts, user));
            return LocalRedirect("/admin/users");
        }
        catch (AccountException ex)
        {
            Error = ex.Message;
            await LoadAsync();
            return Page();
        }
    }

    private async Task LoadAsync() =>
        Users = await Service<BerthDbContext>().Users.OrderBy(u => u.NormalizedUsername).ToListAsync(Aborted);
}
