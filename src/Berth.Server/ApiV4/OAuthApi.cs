using Berth.Auth;
using Berth.Auth.Accounts;

namespace Berth.Server.ApiV4;

public static partial class ApiV4Endpoints
{
    /// <summary>
    /// <c>POST /oauth/token</c> with <c>grant_type=password</c>, <c>username</c>, <c>password</c> (form or JSON;
    /// optional <c>scope</c>, default <c>api</c>): GitLab's resource-owner password grant. Answers
    /// <c>{access_token, token_type:"Bearer", expires_in:7200, scope, created_at}</c>; the access token is a
    /// personal access token named <c>oauth:password-grant</c> that expires after two hours. Refusals use
    /// OAuth's error body (<c>{"error":"invalid_grant","error_description":…}</c>); a 2FA user's password is
    /// refused with the message that says to use a personal access token.
    /// </summary>
    private static async Task<IResult> OAuthTokenAsync(HttpContext context)
    {
        var p = await ApiParams.ReadAsync(context.Request, context.RequestAborted);
        var grant = p.String("grant_type");
        if (grant != "password")
            return OAuthError(400, "unsupported_grant_type", "The authorization grant type is not supported by the authorization server: use grant_type=password.");
        var username = p.String("username");
        var password = p.String("password");
        if (string.IsNullOrEmpty(username) || string.IsNullOrEmpty(password))
            return OAuthError(400, "invalid_request", "username and password are required.");
        var scopes = p.List("scope") is { Count: > 0 } asked ? asked.SelectMany(s => s.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList() : [TokenScopes.Api];
        if (scopes.Any(s => !TokenScopes.PersonalAccessToken.Contains(s)))
            return OAuthError(400, "invalid_scope", $"The requested scope is invalid: allowed are {string.Join(", ", TokenScopes.PersonalAccessToken)}.");

        var result = await context.RequestServices.GetRequiredService<CredentialValidator>()
            .ValidateAsync(username, password, context.Connection.RemoteIpAddress?.ToString(), context.RequestAborted);
        if (result.Failure == CredentialFailure.RateLimited)
        {
            context.Response.Headers.RetryAfter = result.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return OAuthError(429, "invalid_grant", result.Message);
        }
        if (result.Principal is not { Kind: PrincipalKind.User, Via: "password", UserId: { } userId })
        {
            Berth.Auth.Accounts.AccountAudit.SignInFailed(context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(Berth.Auth.Accounts.AccountAudit.Category), username, "oauth", result.Message);
            return OAuthError(400, "invalid_grant", result.Failure is CredentialFailure.TwoFactorRequiresToken or CredentialFailure.Blocked
                ? result.Message
                : "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.");
        }
        Berth.Auth.Accounts.AccountAudit.SignIn(context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(Berth.Auth.Accounts.AccountAudit.Category), result.Principal.Name, "oauth");

        var created = await context.RequestServices.GetRequiredService<AccessTokenService>().CreateOAuthAccessTokenAsync(userId, scopes, context.RequestAborted);
        context.Response.Headers.CacheControl = "no-store";
        return Results.Json(new
        {
            access_token = created.Secret,
            token_type = "Bearer",
            expires_in = (int)AccessTokenService.OAuthTokenLifetime.TotalSeconds,
            scope = string.Join(' ', scopes),
            created_at = new DateTimeOffset(DateTime.SpecifyKind(created.Entity.CreatedAt, DateTimeKind.Utc)).ToUnixTimeSeconds(),
        }, Representer.Json, "application/json");
    }

    private static IResult OAuthError(int status, string error, string description) =>
        Results.Json(new { error, error_description = description }, Representer.Json, "application/json", statusCode: status);
}
