using Microsoft.AspNetCore.Mvc;

namespace Berth.Server.Web.Pages.Users;

/// <summary><c>/users/sign_in/two_factor</c>: the second step for users with 2FA (TOTP or a recovery code).</summary>
public sealed class TwoFactorModel : WebPage
{
    /// <summary>Where to go afterwards.</summary>
    public string? ReturnUrl { get; private set; }
    /// <summary>Who is signing in.</summary>
    public string Username { get; private set; } = "";

    /// <summary>GET.</summary>
    public async Task<IActionResult> OnGetAsync(string? returnUrl)
    {
        var pending = await Service<WebSignIn>().GetPendingAsync(HttpContext, Aborted);
        if (pending is null) return LocalRedirect("/users/sign_in");
        Username = pending.Value.User.Username;
        ReturnUrl = returnUrl;
        return Page();
    }

    /// <summary>POST: checks the code and signs in.</summary>
    public async Task<IActionResult> OnPostAsync(string? code, string? returnUrl)
    {
        var signIn = Service<WebSignIn>();
        var pending = await signIn.GetPendingAsync(HttpContext, Aborted);
        if (pending is null) return LocalRedirect("/users/sign_in");
        var (user, remember) = pending.Value;
        var error = await signIn.CheckSecondFactorAsync(user, code, HttpContext.Connection.RemoteIpAddress?.ToString(), Aborted);
        if (error is not null)
        {
            Berth.Auth.Accounts.AccountAudit.SignInFailed(HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(Berth.Auth.Accounts.AccountAudit.Category), user.Username, "web (second factor)", error);
            Error = error;
            Username = user.Username;
            ReturnUrl = returnUrl;
            return Page();
        }
        WebSignIn.ClearPending(HttpContext);
        await WebAuth.SignInCookieAsync(HttpContext, user, remember);
        Berth.Auth.Accounts.AccountAudit.SignIn(HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(Berth.Auth.Accounts.AccountAudit.Category), user.Username, "web (with second factor)");
        return LocalRedirect(SafeReturnUrl(returnUrl));
    }
}
