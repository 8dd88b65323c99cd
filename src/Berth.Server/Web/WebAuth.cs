using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Berth.Auth;
using Berth.Auth.Accounts;
using Berth.Metadata;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Berth.Server.Web;

/// <summary>
/// The web UI's sign-in: an HttpOnly, SameSite=Lax cookie (Secure on HTTPS) of its own authentication scheme,
/// used only by the Razor pages — <c>/v2</c>, <c>/jwt</c> and <c>/api/v4</c> never look at it. The cookie
/// carries the user id and a stamp of the password and 2FA state; every request re-reads the user, so a
/// blocked user, a changed password or a change of 2FA ends other sessions at once.
/// </summary>
public static class WebAuth
{
    /// <summary>The authentication scheme of the web UI.</summary>
    public const string Scheme = "BerthWeb";

    /// <summary>Name of the session cookie.</summary>
    public const string CookieName = "berth_session";

    /// <summary>Name of the short-lived cookie between the password and the 2FA step.</summary>
    public const string PendingCookieName = "berth_2fa";

    /// <summary>Authorization policy: a signed-in user.</summary>
    public const string SignedInPolicy = "berth-web-signed-in";

    /// <summary>Authorization policy: a signed-in instance administrator.</summary>
    public const string AdminPolicy = "berth-web-admin";

    /// <summary>How long the 2FA step may take after the password step.</summary>
    public static readonly TimeSpan PendingLifetime = TimeSpan.FromMinutes(5);

    private const string StampClaim = "berth:stamp";
    private const string UserItem = "berth.web.user";

    /// <summary>The signed-in user of this request (validated against the database), or null.</summary>
    public static UserEntity? CurrentUser(HttpContext context) => context.Items[UserItem] as UserEntity;

    /// <summary>The signed-in user as a <see cref="Principal"/> for the access policy (full user rights).</summary>
    public static Principal CurrentPrincipal(HttpContext context) =>
        CurrentUser(context) is { } user
            ? new Principal(PrincipalKind.User, user.Username) { UserId = user.Id, IsAdmin = user.IsAdmin, Via = "web" }
            : Principal.Anonymous;

    /// <summary>A short fingerprint of what must end a session when it changes: the password hash and the 2FA state.</summary>
    public static string Stamp(UserEntity user) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{user.PasswordHash}|{user.TwoFactorEnabled}|{user.TotpSecret}")))[..24];

    /// <summary>Registers the cookie scheme and the policies.</summary>
    public static void AddWebAuthentication(IServiceCollection services)
    {
        // Without this, a single registered scheme becomes the default and the cookie would be read on every
        // request, /v2 and /api/v4 included; the web UI's pages ask for it explicitly through their policies.
        AppContext.SetSwitch("Microsoft.AspNetCore.Authentication.SuppressAutoDefaultScheme", true);
        services.AddAuthentication()
            .AddCookie(Scheme, options =>
            {
                options.Cookie.Name = CookieName;
                options.Cookie.HttpOnly = true;
                options.Cookie.SameSite = SameSiteMode.Lax;
                options.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                options.Cookie.IsEssential = true;
                options.LoginPath = "/users/sign_in";
                options.LogoutPath = "/users/sign_out";
                options.AccessDeniedPath = "/users/sign_in";
                options.ReturnUrlParameter = "returnUrl";
                options.ExpireTimeSpan = TimeSpan.FromDays(7);
                options.SlidingExpiration = true;
                options.Events = new CookieAuthenticationEvents
                {
                    OnValidatePrincipal = ValidatePrincipalAsync,
                    OnRedirectToAccessDenied = context =>
                    {
                        context.Response.StatusCode = StatusCodes.Status403Forbidden;
                        return Task.CompletedTask;
                    },
                };
            });
        services.AddAuthorizationBuilder()
            .AddPolicy(SignedInPolicy, p => p.AddAuthenticationSchemes(Scheme).RequireAuthenticatedUser())
            .AddPolicy(AdminPolicy, p => p.AddAuthenticationSchemes(Scheme).RequireAuthenticatedUser()
                .RequireAssertion(c => c.Resource is HttpContext h && CurrentUser(h)?.IsAdmin == true));
        services.AddScoped<WebSignIn>();
    }

    private static async Task ValidatePrincipalAsync(CookieValidatePrincipalContext context)
    {
        var id = context.Principal?.FindFirstValue(ClaimTypes.NameIdentifier);
        UserEntity? user = null;
        if (long.TryParse(id, out var userId))
        {
            var db = context.HttpContext.RequestServices.GetRequiredService<BerthDbContext>();
            user = await db.Users.FirstOrDefaultAsync(u => u.Id == userId, context.HttpContext.RequestAborted);
        }
        if (user is null || user.IsBlocked || context.Principal?.FindFirstValue(StampClaim) != Stamp(user))
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(Scheme);
            return;
        }
        context.HttpContext.Items[UserItem] = user;
    }

    /// <summary>Issues the session cookie for <paramref name="user"/>.</summary>
    public static async Task SignInCookieAsync(HttpContext context, UserEntity user, bool persistent)
    {
        var identity = new ClaimsIdentity(
        [
            new Claim(ClaimTypes.NameIdentifier, user.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            new Claim(ClaimTypes.Name, user.Username),
            new Claim(StampClaim, Stamp(user)),
        ], Scheme);
        await context.SignInAsync(Scheme, new ClaimsPrincipal(identity), new AuthenticationProperties { IsPersistent = persistent });
        context.Items[UserItem] = user;
    }
}

/// <summary>The outcome of the password step of a web sign-in.</summary>
/// <param name="User">The user when the password was right and the account may sign in.</param>
/// <param name="Error">A message safe to show when refused.</param>
public sealed record PasswordCheck(UserEntity? User, string? Error);

/// <summary>
/// The checks behind the sign-in form: password (PBKDF2 via <see cref="PasswordHashing"/>), blocked accounts,
/// the second factor (TOTP or recovery code), and the same failed-attempt limits per account and per
/// address as <see cref="CredentialValidator"/> (rows in <c>failed_sign_ins</c>, shared by all replicas).
/// Unlike registry clients, a user with 2FA may use their password here: it is followed by the 2FA step.
/// </summary>
public sealed class WebSignIn(BerthDbContext db, PasswordHashing passwords, AccountService accounts, IOptions<SignInLimitOptions> limits,
    IDataProtectionProvider protection, TimeProvider clock)
{
    private DateTime Now => clock.GetUtcNow().UtcDateTime;

    /// <summary>Checks a username and password.</summary>
    public async Task<PasswordCheck> CheckPasswordAsync(string? username, string? password, string? clientAddress, CancellationToken cancellationToken)
    {
        username = username?.Trim() ?? "";
        if (username.Length == 0 || string.IsNullOrEmpty(password)) return new PasswordCheck(null, "Enter your username and password.");
        if (await IsLimitedAsync(username, clientAddress, cancellationToken))
            return new PasswordCheck(null, $"Too many failed sign-ins. Try again in {limits.Value.WindowSeconds / 60} minutes.");
        var normalized = username.ToLowerInvariant();
        var user = await db.Users.AsTracking().FirstOrDefaultAsync(u => u.NormalizedUsername == normalized || u.Email.ToLower() == normalized, cancellationToken);
        if (user is null || !passwords.Verify(user, password, out bool rehash))
        {
            db.ChangeTracker.Clear();
            await RecordFailureAsync(username, clientAddress, cancellationToken);
            return new PasswordCheck(null, "Invalid username or password.");
        }
        if (user.IsBlocked)
        {
            db.ChangeTracker.Clear();
            return new PasswordCheck(null, "This account is blocked. Ask an administrator.");
        }
        if (rehash) user.PasswordHash = passwords.Hash(user, password);
        if (!user.TwoFactorEnabled) user.LastSignInAt = Now;
        await db.SaveChangesAsync(cancellationToken);
        db.ChangeTracker.Clear();
        return new PasswordCheck(user, null);
    }

    /// <summary>Checks a TOTP or recovery code of a user whose password step passed; failures count towards the limits.</summary>
    public async Task<string?> CheckSecondFactorAsync(UserEntity user, string? code, string? clientAddress, CancellationToken cancellationToken)
    {
        if (await IsLimitedAsync(user.Username, clientAddress, cancellationToken))
            return $"Too many failed sign-ins. Try again in {limits.Value.WindowSeconds / 60} minutes.";
        if (string.IsNullOrWhiteSpace(code) || !await accounts.VerifyTwoFactorAsync(user.Id, code, cancellationToken))
        {
            await RecordFailureAsync(user.Username, clientAddress, cancellationToken);
            return "Invalid code. Enter the 6-digit code from your authenticator app, or a recovery code.";
        }
        await db.Users.Where(u => u.Id == user.Id).ExecuteUpdateAsync(s => s.SetProperty(u => u.LastSignInAt, Now), cancellationToken);
        return null;
    }

    /// <summary>Remembers, in a protected cookie valid for <see cref="WebAuth.PendingLifetime"/>, that the password step passed.</summary>
    public void SetPending(HttpContext context, UserEntity user, bool remember)
    {
        var value = Protector().Protect($"{user.Id}|{WebAuth.Stamp(user)}|{(remember ? 1 : 0)}", WebAuth.PendingLifetime);
        context.Response.Cookies.Append(WebAuth.PendingCookieName, value, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = context.Request.IsHttps,
            Path = "/users/sign_in",
            MaxAge = WebAuth.PendingLifetime,
            IsEssential = true,
        });
    }

    /// <summary>The user waiting for the 2FA step, or null when there is none (or it expired).</summary>
    public async Task<(UserEntity User, bool Remember)?> GetPendingAsync(HttpContext context, CancellationToken cancellationToken)
    {
        var raw = context.Request.Cookies[WebAuth.PendingCookieName];
        if (string.IsNullOrEmpty(raw)) return null;
        string text;
        try
        {
            text = Protector().Unprotect(raw);
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return null;
        }
        var parts = text.Split('|');
        if (parts.Length != 3 || !long.TryParse(parts[0], out var id)) return null;
        var user = await db.Users.FirstOrDefaultAsync(u => u.Id == id, cancellationToken);
        if (user is null || user.IsBlocked || !user.TwoFactorEnabled || WebAuth.Stamp(user) != parts[1]) return null;
        return (user, parts[2] == "1");
    }

    /// <summary>Forgets the 2FA step.</summary>
    public static void ClearPending(HttpContext context) =>
        context.Response.Cookies.Delete(WebAuth.PendingCookieName, new CookieOptions { Path = "/users/sign_in" });

    private ITimeLimitedDataProtector Protector() => protection.CreateProtector("Berth.Web.TwoFactorPending").ToTimeLimitedDataProtector();

    private async Task<bool> IsLimitedAsync(string username, string? clientAddress, CancellationToken cancellationToken)
    {
        var options = limits.Value;
        var since = Now.AddSeconds(-options.WindowSeconds);
        var userKey = "user:" + username.ToLowerInvariant();
        if (await db.FailedSignIns.CountAsync(f => f.Key == userKey && f.At > since, cancellationToken) >= options.PerAccount) return true;
        if (clientAddress is null) return false;
        var ipKey = "ip:" + clientAddress;
        return await db.FailedSignIns.CountAsync(f => f.Key == ipKey && f.At > since, cancellationToken) >= options.PerAddress;
    }

    private async Task RecordFailureAsync(string username, string? clientAddress, CancellationToken cancellationToken)
    {
        var now = Now;
        db.FailedSignIns.Add(new FailedSignInEntity { Key = "user:" + username.ToLowerInvariant(), At = now });
        if (clientAddress is not null) db.FailedSignIns.Add(new FailedSignInEntity { Key = "ip:" + clientAddress, At = now });
        await db.SaveChangesAsync(cancellationToken);
        db.ChangeTracker.Clear();
    }
}
