using Berth.Auth.Accounts;
using Microsoft.AspNetCore.Mvc;

namespace Berth.Server.Web.Pages.Users;

/// <summary><c>/users/sign_up</c>: self-service accounts, only while an administrator has turned sign-up on.</summary>
public sealed class SignUpModel : WebPage
{
    /// <summary>Typed values, shown again after an error.</summary>
    public string? Name { get; private set; }
    /// <summary>Typed username.</summary>
    public string? Username { get; private set; }
    /// <summary>Typed e-mail.</summary>
    public string? Email { get; private set; }

    /// <summary>GET.</summary>
    public async Task<IActionResult> OnGetAsync()
    {
        if (!(await Service<InstanceSettings>().GetAsync(Aborted)).SignUpEnabled) return NotFoundPage();
        return Page();
    }

    /// <summary>POST: creates the account and signs in.</summary>
    public async Task<IActionResult> OnPostAsync(string? name, string? username, string? email, string? password)
    {
        if (!(await Service<InstanceSettings>().GetAsync(Aborted)).SignUpEnabled) return NotFoundPage();
        try
        {
            var user = await Service<AccountService>().CreateUserAsync(new NewUser(username ?? "", email ?? "", name, password ?? ""), Aborted);
            await WebAuth.SignInCookieAsync(HttpContext, user, persistent: false);
            Flash($"Welcome to Berth, {user.Name}! Your account {user.Username} is ready.");
            return LocalRedirect("/");
        }
        catch (AccountException ex)
        {
            Error = ex.Message;
            (Name, Username, Email) = (name, username, email);
            return Page();
        }
    }
}
