using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;

namespace Berth.Server.Web.Pages.Users;

/// <summary><c>/users/sign_out</c>: POST ends the session (GET shows a button, so a link cannot sign anyone out).</summary>
public sealed class SignOutModel : WebPage
{
    /// <summary>GET.</summary>
    public void OnGet()
    {
    }

    /// <summary>POST.</summary>
    public async Task<IActionResult> OnPostAsync()
    {
        if (Me is { } me)
            Berth.Auth.Accounts.AccountAudit.SignOut(HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(Berth.Auth.Accounts.AccountAudit.Category), me.Username, "web");
        await HttpContext.SignOutAsync(WebAuth.Scheme);
        return LocalRedirect("/users/sign_in");
    }
}
