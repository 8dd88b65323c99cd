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
        await HttpContext.SignOutAsync(WebAuth.Scheme);
        return LocalRedirect("/users/sign_in");
    }
}
