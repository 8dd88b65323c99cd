using System.Text.Json;
using Berth.Auth;
using Berth.Auth.Tokens;
using Berth.Distribution;
using Microsoft.IdentityModel.Tokens;

namespace Berth.Server.Auth;

/// <summary>
/// The token service (Docker token authentication spec): <c>GET /jwt/auth</c> with optional HTTP Basic
/// credentials (password, personal access token, deploy token; none for anonymous pulls) and the OAuth2
/// form <c>POST /jwt/auth</c> (<c>grant_type=password</c> or <c>refresh_token</c>). Also publishes the
/// verification keys: <c>/jwt/jwks</c> (JWKS, for CNCF Distribution 3's <c>jwks</c>) and
/// <c>/jwt/certificates.pem</c> (for Distribution 2.8's <c>rootcertbundle</c>).
/// </summary>
internal static class TokenEndpoints
{
    public static IEndpointRouteBuilder MapTokenService(this IEndpointRouteBuilder app)
    {
        app.MapGet("/jwt/auth", GetTokenAsync);
        app.MapPost("/jwt/auth", PostTokenAsync).DisableAntiforgery();
        app.MapGet("/jwt/jwks", JwksAsync);
        app.MapGet("/jwt/certificates.pem", CertificatesAsync);
        return app;
    }

    private static async Task GetTokenAsync(HttpContext context, RegistryTokenService tokens, CredentialValidator credentials, ILoggerFactory loggers)
    {
        var query = context.Request.Query;
        if (!CheckService(context, tokens, query["service"].ToString(), out var problem)) { await problem!; return; }
        var principal = Principal.Anonymous;
        bool audit = false;
        var basic = BasicCredentials.Read(context.Request);
        if (basic is { } b)
        {
            var result = await credentials.ValidateAsync(b.Username, b.Password, BasicCredentials.ClientAddress(context), context.RequestAborted);
            if (!result.Succeeded)
            {
                Log(loggers, context, b.Username, result);
                await RefuseAsync(context, result);
                return;
            }
            principal = result.Principal!;
            audit = result.Audit;
        }
        var scopes = TokenScope.ParseList(query["scope"]);
        bool offline = string.Equals(query["offline_token"], "true", StringComparison.OrdinalIgnoreCase) && principal.IsAuthenticated;
        await IssueAsync(context, tokens, loggers, principal, scopes, offline, audit);
    }

    private static async Task PostTokenAsync(HttpContext context, RegistryTokenService tokens, CredentialValidator credentials, ILoggerFactory loggers)
    {
        if (!context.Request.HasFormContentType)
        {
            await WriteOAuthErrorAsync(context, 400, "invalid_request", "send an application/x-www-form-urlencoded body with grant_type");
            return;
        }
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        if (!CheckService(context, tokens, form["service"].ToString(), out var problem)) { await problem!; return; }
        var scopes = TokenScope.ParseList(form["scope"]);
        Principal principal;
        bool offline = false, audit = true;
        switch (form["grant_type"].ToString())
        {
            case "password":
            {
                var result = await credentials.ValidateAsync(form["username"].ToString(), form["password"].ToString(), BasicCredentials.ClientAddress(context), context.RequestAborted);
                if (!result.Succeeded)
                {
                    Log(loggers, context, form["username"].ToString(), result);
                    await RefuseAsync(context, result);
                    return;
                }
                principal = result.Principal!;
                audit = result.Audit;
                offline = string.Equals(form["access_type"], "offline", StringComparison.OrdinalIgnoreCase);
                break;
            }
            case "refresh_token":
                try
                {
                    principal = await tokens.VerifyRefreshTokenAsync(form["refresh_token"].ToString(), context.RequestAborted);
                }
                catch (TokenRejectedException ex)
                {
                    await WriteOAuthErrorAsync(context, 401, "invalid_grant", ex.Message);
                    return;
                }
                break;
            default:
                await WriteOAuthErrorAsync(context, 400, "unsupported_grant_type", "grant_type must be password or refresh_token");
                return;
        }
        await IssueAsync(context, tokens, loggers, principal, scopes, offline, audit);
    }

    /// <summary>Grants, signs and answers. One log line per token (asked vs granted, with its <c>jti</c>); a
    /// <c>sign_in</c> audit entry when <paramref name="audit"/> (see <see cref="CredentialResult.Audit"/>).</summary>
    private static async Task IssueAsync(HttpContext context, RegistryTokenService tokens, ILoggerFactory loggers, Principal principal, IReadOnlyList<TokenScope> scopes, bool offline, bool audit)
    {
        var access = await tokens.GrantAsync(principal, scopes, context.RequestAborted);
        var issued = await tokens.IssueAsync(principal, access, context.RequestAborted);
        string? refresh = offline ? await tokens.IssueRefreshTokenAsync(principal, context.RequestAborted) : null;
        Observability.BerthMetrics.TokenOutcome("issued");
        if (audit && principal.IsAuthenticated)
            Observability.AuditLog.Write(loggers.CreateLogger(Observability.AuditLog.Category), "sign_in", principal.Name, "token service",
                BasicCredentials.ClientAddress(context), $"registry token issued ({principal.Kind} via {principal.Via})");
        loggers.CreateLogger("Berth.TokenService").LogInformation(
            "Token {TokenId} issued to {Subject} ({Kind} via {Via}) asked {Asked} granted {Granted}",
            issued.Id, principal.Name, principal.Kind, principal.Via,
            string.Join(' ', scopes.Select(s => s.ToString())),
            string.Join(' ', access.Select(a => $"{a.Type}:{a.Name}:{string.Join(',', a.Actions)}")));
        context.Response.Headers.CacheControl = "no-store";
        await Results.Json(new TokenResponse(issued.Token, issued.Token, issued.ExpiresIn, issued.IssuedAt.ToString("yyyy-MM-ddTHH:mm:ssZ"), refresh), TokenJson).ExecuteAsync(context);
    }

    private static bool CheckService(HttpContext context, RegistryTokenService tokens, string service, out Task? problem)
    {
        problem = null;
        if (service.Length == 0 || service == tokens.Options.Service) return true;
        problem = WriteErrorAsync(context, 400, "UNSUPPORTED", $"this token service issues tokens for service '{tokens.Options.Service}', not '{service}'");
        return false;
    }

    private static Task RefuseAsync(HttpContext context, CredentialResult result)
    {
        if (result.Failure == CredentialFailure.RateLimited)
        {
            Observability.BerthMetrics.TokenOutcome("rate_limited");
            context.Response.Headers.RetryAfter = result.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return WriteErrorAsync(context, 429, "TOOMANYREQUESTS", result.Message, "rate limit");
        }
        Observability.BerthMetrics.TokenOutcome("refused");
        context.Response.Headers.WWWAuthenticate = "Basic realm=\"Berth token service\"";
        return WriteErrorAsync(context, 401, "UNAUTHORIZED", result.Message);
    }

    private static void Log(ILoggerFactory loggers, HttpContext context, string username, CredentialResult result)
    {
        loggers.CreateLogger("Berth.TokenService").LogWarning("Sign-in refused for {Username} from {Address}: {Failure} {Reason}",
            username, BasicCredentials.ClientAddress(context), result.Failure, result.Message);
        Observability.AuditLog.Write(loggers.CreateLogger(Observability.AuditLog.Category), "sign_in_failed", username, "token service",
            BasicCredentials.ClientAddress(context), $"{result.Failure}: {result.Message}");
    }

    /// <summary>Writes <c>{"errors":[{"code","message"}]}</c> plus a top-level <c>details</c>, as Docker clients print it.</summary>
    internal static Task WriteErrorAsync(HttpContext context, int status, string code, string message, string component = "token service")
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(new { errors = new[] { new { code, message, detail = new { component, requestId = context.TraceIdentifier } } } });
    }

    /// <summary>An OAuth2 error (RFC 6749 §5.2), plus the refusing component and the request id.</summary>
    private static Task WriteOAuthErrorAsync(HttpContext context, int status, string error, string description)
    {
        Observability.BerthMetrics.TokenOutcome(status == 401 ? "refused" : "invalid_request");
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(new { error, error_description = description, component = "token service", requestId = context.TraceIdentifier });
    }

    private static async Task JwksAsync(HttpContext context, SigningKeyStore keys, RegistryTokenService tokens)
    {
        var list = await keys.GetVerificationKeysAsync(TimeSpan.FromDays(tokens.Options.RefreshTokenLifetimeDays), context.RequestAborted);
        var jwks = list.Select(k =>
        {
            var jwk = new Dictionary<string, object> { ["use"] = "sig", ["alg"] = k.Algorithm, ["kid"] = k.Id };
            if (k.Ecdsa is { } ec)
            {
                var p = ec.ExportParameters(false);
                jwk["kty"] = "EC";
                jwk["crv"] = SigningKeyStore.CurveName(p.Curve);
                jwk["x"] = Base64UrlEncoder.Encode(p.Q.X);
                jwk["y"] = Base64UrlEncoder.Encode(p.Q.Y);
            }
            else
            {
                var p = k.Rsa!.ExportParameters(false);
                jwk["kty"] = "RSA";
                jwk["n"] = Base64UrlEncoder.Encode(p.Modulus);
                jwk["e"] = Base64UrlEncoder.Encode(p.Exponent);
            }
            jwk["x5c"] = new[] { Convert.ToBase64String(k.Certificate.RawData) };
            return jwk;
        });
        await context.Response.WriteAsJsonAsync(new { keys = jwks });
    }

    private static async Task CertificatesAsync(HttpContext context, SigningKeyStore keys, RegistryTokenService tokens)
    {
        await keys.GetActiveKeyAsync(context.RequestAborted);
        var list = await keys.GetVerificationKeysAsync(TimeSpan.FromDays(tokens.Options.RefreshTokenLifetimeDays), context.RequestAborted);
        context.Response.ContentType = "application/x-pem-file";
        await context.Response.WriteAsync(string.Concat(list.Select(k => k.CertificatePem.TrimEnd() + "\n")), context.RequestAborted);
    }

    private static readonly JsonSerializerOptions TokenJson = new() { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    private sealed record TokenResponse(
        [property: System.Text.Json.Serialization.JsonPropertyName("token")] string Token,
        [property: System.Text.Json.Serialization.JsonPropertyName("access_token")] string AccessToken,
        [property: System.Text.Json.Serialization.JsonPropertyName("expires_in")] int ExpiresIn,
        [property: System.Text.Json.Serialization.JsonPropertyName("issued_at")] string IssuedAt,
        [property: System.Text.Json.Serialization.JsonPropertyName("refresh_token")] string? RefreshToken);
}
