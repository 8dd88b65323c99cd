using System.Globalization;
using Berth.Auth.Accounts;
using Berth.Metadata;
using Microsoft.AspNetCore.Mvc;

namespace Berth.Server.Web.Pages.Profile;

/// <summary><c>/profile/personal_access_tokens</c>: create (name, scopes, expiry; the value is shown once), list and revoke.</summary>
public sealed class TokensModel : WebPage
{
    /// <summary>The user's tokens, newest first.</summary>
    public IReadOnlyList<PersonalAccessTokenEntity> Tokens { get; private set; } = [];
    /// <summary>A token just created (shown once).</summary>
    public string? NewToken { get; private set; }
    /// <summary>Its name.</summary>
    public string? NewTokenName { get; private set; }
    /// <summary>Registry host.</summary>
    public string Host { get; private set; } = "";
    /// <summary>Default expiry: 30 days from today.</summary>
    public string DefaultExpiry => DateTime.UtcNow.Date.AddDays(30).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
    /// <summary>Earliest expiry: tomorrow.</summary>
    public string MinExpiry => DateTime.UtcNow.Date.AddDays(1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    /// <summary>Whether a token still works.</summary>
    public bool IsActive(PersonalAccessTokenEntity token) => Service<AccessTokenService>().IsActive(token);

    /// <summary>GET.</summary>
    public Task OnGetAsync() => LoadAsync();

    /// <summary>POST: creates a token and shows its value once.</summary>
    public async Task<IActionResult> OnPostCreateAsync(string? name, string[]? scopes, string? expires)
    {
        try
        {
            DateTime? expiresAt = null;
            if (!string.IsNullOrWhiteSpace(expires))
            {
                if (!DateOnly.TryParseExact(expires, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
                    throw AccountException.Invalid("expires_at", "The expiration date must look like 2026-12-31.");
                expiresAt = AccessTokenService.ExpiryFromDate(date);
            }
            var created = await Service<AccessTokenService>().CreatePersonalAccessTokenAsync(Me!.Id, name, scopes, expiresAt, Aborted);
            NewToken = created.Secret;
            NewTokenName = created.Entity.Name;
        }
        catch (AccountException ex)
        {
            Error = ex.Message;
        }
        await LoadAsync();
        return Page();
    }

    /// <summary>POST: revokes one of the user's tokens.</summary>
    public async Task<IActionResult> OnPostRevokeAsync(long id)
    {
        var tokens = Service<AccessTokenService>();
        PersonalAccessTokenEntity token;
        try
        {
            token = await tokens.GetPersonalAccessTokenAsync(id, Aborted);
        }
        catch (AccountException)
        {
            return NotFoundPage();
        }
        if (token.UserId != Me!.Id) return NotFoundPage();
        await tokens.RevokePersonalAccessTokenAsync(id, Aborted);
        Flash($"The token “{token.Name}” was revoked.");
        return LocalRedirect("/profile/personal_access_tokens");
    }

    private async Task LoadAsync()
    {
        Tokens = await Service<AccessTokenService>().ListPersonalAccessTokensAsync(Me!.Id, Aborted);
        Host = await Service<InstanceSettings>().RegistryHostAsync(Request, Aborted);
    }
}
