using Berth.Auth;
using Berth.Auth.Accounts;
using Microsoft.AspNetCore.Mvc;

namespace Berth.Server.Web.Pages.Profile;

/// <summary><c>/profile</c>: name, e-mail and password of the signed-in user.</summary>
public sealed class ProfileModel : WebPage
{
    /// <summary>Registry host.</summary>
    public string Host { get; private set; } = "";

    /// <summary>GET.</summary>
    public async Task OnGetAsync() => Host = await Service<InstanceSettings>().RegistryHostAsync(Request, Aborted);

    /// <summary>POST: saves name and e-mail.</summary>
    public async Task<IActionResult> OnPostProfileAsync(string? name, string? email)
    {
        try
        {
            await Service<AccountService>().UpdateProfileAsync(Me!.Id, name, email, Aborted);
            Flash("Your profile was saved.");
            return LocalRedirect("/profile");
        }
        catch (AccountException ex)
        {
            Error = ex.Message;
            Host = await Service<InstanceSettings>().RegistryHostAsync(Request, Aborted);
            return Page();
        }
    }

    /// <summary>POST: changes the password after checking the current one; the session is renewed, others end.</summary>
    public async Task<IActionResult> OnPostPasswordAsync(string? current, string? password, string? confirmation)
    {
        Host = await Service<InstanceSettings>().RegistryHostAsync(Request, Aborted);
        var me = Me!;
        if (string.IsNullOrEmpty(current) || !Service<PasswordHashing>().Verify(me, current, out _))
        {
            Error = "The current password is wrong.";
            return Page();
        }
        if (password != confirmation)
        {
            Error = "The new password and its confirmation differ.";
            return Page();
        }
        try
        {
            var accounts = Service<AccountService>();
            await accounts.SetPasswordAsync(me.Id, password ?? "", Aborted);
            await WebAuth.SignInCookieAsync(HttpContext, await accounts.GetUserAsync(me.Id, Aborted), persistent: false);
            Flash("Your password was changed. Other sessions were signed out.");
            return LocalRedirect("/profile");
        }
        catch (AccountException ex)
        {
            Error = ex.Message;
            return Page();
        }
    }
}
