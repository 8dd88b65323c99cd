using System.Security.Cryptography;
using Berth.Auth;
using Berth.Auth.Accounts;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Mvc;
using QRCoder;

namespace Berth.Server.Web.Pages.Profile;

/// <summary>
/// <c>/profile/two_factor_auth</c>: 2FA enrollment — a new TOTP secret as a QR code (QRCoder) and as a manual
/// key, turned on only once a first code from it verifies; the recovery codes are shown once — and disabling
/// it (with the current password).
/// </summary>
public sealed class TwoFactorSettingsModel : WebPage
{
    private static readonly TimeSpan SetupLifetime = TimeSpan.FromMinutes(30);

    /// <summary>The new secret (base32).</summary>
    public string Secret { get; private set; } = "";
    /// <summary>The secret in groups of four, easier to type.</summary>
    public string GroupedSecret => string.Join(' ', Secret.Chunk(4).Select(c => new string(c)));
    /// <summary>The secret, protected and time-limited, carried by the form.</summary>
    public string ProtectedSecret { get; private set; } = "";
    /// <summary>The QR code as a PNG data URI.</summary>
    public string QrCodeDataUri { get; private set; } = "";
    /// <summary>Recovery codes, right after enabling only.</summary>
    public IReadOnlyList<string>? RecoveryCodes { get; private set; }
    /// <summary>Unused recovery codes.</summary>
    public int RecoveryCodesLeft { get; private set; }

    /// <summary>GET.</summary>
    public async Task OnGetAsync()
    {
        if (Me!.TwoFactorEnabled) RecoveryCodesLeft = await Service<AccountService>().CountRecoveryCodesAsync(Me.Id, Aborted);
        else PrepareSetup(AccountService.NewTotpSecret());
    }

    /// <summary>POST: verifies the first code and turns 2FA on.</summary>
    public async Task<IActionResult> OnPostEnableAsync(string? setup, string? code)
    {
        var me = Me!;
        if (me.TwoFactorEnabled) return LocalRedirect("/profile/two_factor_auth");
        string secret;
        try
        {
            secret = Protector().Unprotect(setup ?? "");
        }
        catch (CryptographicException)
        {
            Error = "The setup expired. Scan the new QR code and try again.";
            PrepareSetup(AccountService.NewTotpSecret());
            return Page();
        }
        var accounts = Service<AccountService>();
        var result = await accounts.ConfirmTwoFactorAsync(me.Id, secret, code ?? "", Aborted);
        if (result is null)
        {
            Error = "That code is not right. Check the time on your phone and enter the current code.";
            PrepareSetup(secret);
            return Page();
        }
        var updated = await accounts.GetUserAsync(me.Id, Aborted);
        await WebAuth.SignInCookieAsync(HttpContext, updated, persistent: false);
        RecoveryCodes = result.RecoveryCodes;
        return Page();
    }

    /// <summary>POST: turns 2FA off after checking the password.</summary>
    public async Task<IActionResult> OnPostDisableAsync(string? password)
    {
        var me = Me!;
        if (string.IsNullOrEmpty(password) || !Service<PasswordHashing>().Verify(me, password, out _))
        {
            Error = "The password is wrong.";
            RecoveryCodesLeft = await Service<AccountService>().CountRecoveryCodesAsync(me.Id, Aborted);
            return Page();
        }
        var accounts = Service<AccountService>();
        await accounts.DisableTwoFactorAsync(me.Id, Aborted);
        await WebAuth.SignInCookieAsync(HttpContext, await accounts.GetUserAsync(me.Id, Aborted), persistent: false);
        Flash("Two-factor authentication was disabled.");
        return LocalRedirect("/profile/two_factor_auth");
    }

    private void PrepareSetup(string secret)
    {
        Secret = secret;
        ProtectedSecret = Protector().Protect(secret, SetupLifetime);
        using var generator = new QRCodeGenerator();
        using var data = generator.CreateQrCode(AccountService.TotpUri(secret, Me!.Username), QRCodeGenerator.ECCLevel.M);
        var png = new PngByteQRCode(data).GetGraphic(6);
        QrCodeDataUri = "data:image/png;base64," + Convert.ToBase64String(png);
    }

    private ITimeLimitedDataProtector Protector() =>
        Service<IDataProtectionProvider>().CreateProtector("Berth.Web.TwoFactorSetup", Me!.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToTimeLimitedDataProtector();
}
