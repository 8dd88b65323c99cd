using Microsoft.AspNetCore.Mvc;

namespace Berth.Server.Web.Pages.Users;

/// <summary><c>/users/sign_in</c>: the password step; users with 2FA go on to the code step.</summary>
public sealed class SignInModel : WebPage
{
    /// <summary>Where to go afterwards (local URLs only).</summary>
    public string? ReturnUrl { get; private set; }
    /// <summary>The username typed, to show again after an error.</summary>
    public string? Username { get; private set; }
    /// <summary>Whether to link to sign-up.</summary>
    public bool SignUpEnabled { get; private set; }

    /// <summary>GET.</summary>
    public async Task<IActionResult> OnGetAsync(string? returnUrl)
    {
        if (Me is not null) return LocalRedirect(SafeReturnUrl(returnUrl));
        ReturnUrl = returnUrl;
        SignUpEnabled = (await Service<InstanceSettings>().GetAsync(Aborted)).SignUpEnabled;
        return Page();
    }

    /// <summary>POST: checks the password.</summary>
    public async Task<IActionResult> OnPostAsync(string? username, string? password, bool remember, string? returnUrl)
    {
        var signIn = Service<WebSignIn>();
        var check = await signIn.CheckPasswordAsync(username, password, HttpContext.Connection.RemoteIpAddress?.ToString(), Aborted);
        if (check.User is not { } user)
        {
            Berth.Auth.Accounts.AccountAudit.SignInFailed(HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(Berth.Auth.Accounts.AccountAudit.Category), username ?? "", "web", check.Error ?? "refused");
            Error = check.Error;
            Username = username;
            ReturnUrl = returnUrl;
            SignUpEnabled = (await Service<InstanceSettings>().GetAsync(Aborted)).SignUpEnabled;
            Response.StatusCode = StatusCodes.Status200OK;
            return Page();
        }
        if (user.TwoFactorEnabled)
        {
            signIn.SetPending(HttpContext, user, remember);
            return LocalRedirect("/users/sign_in/two_factor" + (string.IsNullOrEmpty(returnUrl) ? "" : "?returnUrl=" + Uri.EscapeDataString(returnUrl)));
        }
        await WebAuth.SignInCookieAsync(HttpContext, user, remember);
        Berth.Auth.Accounts.AccountAudit.SignIn(HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(Berth.Auth.Accounts.AccountAudit.Category), user.Username, "web");
        return LocalRedirect(SafeReturnUrl(returnUrl));
    }
}
