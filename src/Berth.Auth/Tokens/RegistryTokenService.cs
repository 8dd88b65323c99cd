using System.Text.Json;
using Berth.Distribution;
using Berth.Metadata;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Berth.Auth.Tokens;

/// <summary>Registry token settings (section <c>Auth</c>).</summary>
public sealed class RegistryTokenOptions
{
    /// <summary>The token's <c>iss</c>; registries validating Berth's tokens set the same issuer.</summary>
    public string Issuer { get; set; } = "berth";
    /// <summary>The <c>service</c> / <c>aud</c>.</summary>
    public string Service { get; set; } = "container_registry";
    /// <summary>Lifetime of registry tokens in seconds (default 300).</summary>
    public int TokenLifetimeSeconds { get; set; } = 300;
    /// <summary>Leeway for <c>exp</c>/<c>nbf</c> in seconds, for clock skew between hosts (default 60).</summary>
    public int ClockSkewSeconds { get; set; } = 60;
    /// <summary>Lifetime of refresh tokens (<c>offline_token</c>) in days (default 30).</summary>
    public int RefreshTokenLifetimeDays { get; set; } = 30;
}

/// <summary>One entry of a token's <c>access</c> claim: a resource and the actions granted on it.</summary>
/// <param name="Type">Resource type (<c>repository</c>, <c>registry</c>).</param>
/// <param name="Name">Resource name.</param>
/// <param name="Actions">Granted actions (may be empty: asked but not granted).</param>
public sealed record AccessEntry(string Type, string Name, IReadOnlyList<string> Actions);

/// <summary>An issued registry token.</summary>
/// <param name="Token">The signed JWT.</param>
/// <param name="ExpiresIn">Lifetime in seconds.</param>
/// <param name="IssuedAt">Issue time (UTC).</param>
/// <param name="Access">What it grants.</param>
public sealed record IssuedToken(string Token, int ExpiresIn, DateTimeOffset IssuedAt, IReadOnlyList<AccessEntry> Access)
{
    /// <summary>The token's <c>jti</c> (what the token service logs, so the token can be followed into the registry's log lines).</summary>
    public string Id { get; init; } = "";
}

/// <summary>A verified registry token: who it was issued to and what it grants.</summary>
/// <param name="Principal">The caller, rebuilt from the token's claims.</param>
/// <param name="Access">The <c>access</c> claim.</param>
/// <param name="TokenId">The <c>jti</c>.</param>
public sealed record VerifiedToken(Principal Principal, IReadOnlyList<AccessEntry> Access, string? TokenId)
{
    /// <summary>The token's <c>exp</c> (UTC).</summary>
    public DateTime ExpiresAt { get; init; }

    /// <summary>The actions granted on one resource (union of matching entries).</summary>
    public IReadOnlySet<string> ActionsFor(string type, string name) =>
        Access.Where(a => a.Type == type && a.Name == name).SelectMany(a => a.Actions).ToHashSet(StringComparer.Ordinal);

    /// <summary>True when an entry for this resource exists, granted or not.</summary>
    public bool Mentions(string type, string name) => Access.Any(a => a.Type == type && a.Name == name);
}

/// <summary>Thrown when a token is refused; the message says why (expired, not yet valid, unknown key, …) and is safe to show.</summary>
public sealed class TokenRejectedException(string message) : Exception(message)
{
    /// <summary>True when the token names a signing key (kid) the registry does not know.</summary>
    public bool UnknownKey { get; init; }
}

/// <summary>
/// Issues and verifies registry tokens per the Docker token authentication spec ("Token Authentication
/// Implementation", "Token Scope Documentation"): ES256 JWTs (RS256 with keys made by earlier versions) with <c>iss</c>, <c>sub</c>, <c>aud</c> (the
/// service), <c>exp</c>, <c>nbf</c>, <c>iat</c>, <c>jti</c> and <c>access</c>. The header carries <c>kid</c>
/// (RFC 7638 thumbprint, what CNCF Distribution 3 matches against a JWKS) and <c>x5c</c> (the key's
/// self-signed certificate, what Distribution 2.8 verifies against its <c>rootcertbundle</c>). Grants are the
/// intersection of what was asked and what <see cref="AccessPolicy"/> allows; a partial grant is not an error.
/// </summary>
public sealed class RegistryTokenService(SigningKeyStore keys, AccessPolicy policy, BerthDbContext db, IOptions<RegistryTokenOptions> options, TimeProvider clock, VerifiedTokenCache verifiedTokens)
{
    private const string RefreshAudience = "berth-refresh";
    private static readonly JsonWebTokenHandler Handler = new() { SetDefaultTimesOnTokenCreation = false };

    /// <summary>The settings in force.</summary>
    public RegistryTokenOptions Options => options.Value;

    /// <summary>Computes the grant for each requested scope. Unknown resource types get no actions.</summary>
    public async Task<IReadOnlyList<AccessEntry>> GrantAsync(Principal principal, IReadOnlyList<TokenScope> scopes, CancellationToken cancellationToken)
    {
        var result = new List<AccessEntry>();
        foreach (var scope in scopes)
        {
            var granted = new List<string>();
            if (scope.Type == TokenScope.RepositoryType && scope.Class is null or "image" && RepositoryName.TryParse(scope.Name, out var name, out _))
            {
                var access = await policy.GetRepositoryAccessAsync(principal, name, cancellationToken);
                bool all = scope.Actions.Contains("*");
                if (access.Pull && (all || scope.Actions.Contains("pull"))) granted.Add("pull");
                if (access.Push && (all || scope.Actions.Contains("push"))) granted.Add("push");
                if (access.Delete && (all || scope.Actions.Contains("delete"))) granted.Add("delete");
                if (all && access.Pull && access.Push && access.Delete) granted.Add("*");
            }
            else if (scope.Type == TokenScope.RegistryType && scope.Name == "catalog" && principal.IsAuthenticated && scope.Actions.Contains("*"))
            {
                // Everyone signed in may list the catalog; the registry filters it to what they may pull.
                granted.Add("*");
            }
            result.Add(new AccessEntry(scope.Type, scope.Name, granted));
        }
        return result;
    }

    /// <summary>Signs a registry token for a principal and its grants.</summary>
    public async Task<IssuedToken> IssueAsync(Principal principal, IReadOnlyList<AccessEntry> access, CancellationToken cancellationToken)
    {
        var key = await keys.GetActiveKeyAsync(cancellationToken);
        var now = clock.GetUtcNow();
        var lifetime = options.Value.TokenLifetimeSeconds;
        var claims = PrincipalClaims(principal);
        claims["access"] = access.Select(a => new Dictionary<string, object> { ["type"] = a.Type, ["name"] = a.Name, ["actions"] = a.Actions.ToArray() }).ToArray();
        var token = Sign(key, principal.Name, options.Value.Service, now, now.AddSeconds(lifetime), claims);
        return new IssuedToken(token, lifetime, now, access) { Id = (string)claims["jti"] };
    }

    /// <summary>Signs a refresh token (the <c>offline_token</c> / <c>access_type=offline</c> grant).</summary>
    public async Task<string> IssueRefreshTokenAsync(Principal principal, CancellationToken cancellationToken)
    {
        var key = await keys.GetActiveKeyAsync(cancellationToken);
        var now = clock.GetUtcNow();
        return Sign(key, principal.Name, RefreshAudience, now, now.AddDays(options.Value.RefreshTokenLifetimeDays), PrincipalClaims(principal));
    }

    private string Sign(SigningKey key, string subject, string audience, DateTimeOffset now, DateTimeOffset expires, Dictionary<string, object> claims)
    {
        claims["jti"] = Guid.NewGuid().ToString("N");
        claims["sub"] = subject;
        return Handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = options.Value.Issuer,
            Audience = audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = expires.UtcDateTime,
            Claims = claims,
            SigningCredentials = new SigningCredentials(key.SecurityKey, key.SecurityAlgorithm),
            AdditionalHeaderClaims = new Dictionary<string, object> { ["x5c"] = new[] { Convert.ToBase64String(key.Certificate.RawData) } },
        });
    }

    private static Dictionary<string, object> PrincipalClaims(Principal principal)
    {
        var claims = new Dictionary<string, object>
        {
            ["berth_kind"] = principal.Kind.ToString(),
            ["berth_via"] = principal.Via,
        };
        if (principal.UserId is { } uid) claims["berth_uid"] = uid;
        if (principal.IsAdmin) claims["berth_admin"] = true;
        if (principal.ProjectId is { } pid) claims["berth_pid"] = pid;
        if (principal.CredentialId is { } cid) claims["berth_cid"] = cid;
        if (principal.Scopes is { } scopes) claims["berth_scopes"] = string.Join(' ', scopes.Order(StringComparer.Ordinal));
        return claims;
    }

    /// <summary>Verifies a registry token (signature by a current or recently retired key, issuer, audience,
    /// lifetime with the configured leeway, ES256 or RS256 only; the key named by <c>kid</c> must be of that algorithm).</summary>
    /// <remarks>A token verified before is answered from <see cref="VerifiedTokenCache"/> while it is within its lifetime.</remarks>
    /// <exception cref="TokenRejectedException">The token is refused; the message says why, with the server's time for lifetime failures.</exception>
    public async Task<VerifiedToken> VerifyAsync(string token, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        if (verifiedTokens.TryGet(token, now, out var cached)) return cached;
        var verified = await VerifyAsync(token, options.Value.Service, cancellationToken);
        verifiedTokens.Add(token, verified, verified.ExpiresAt.AddSeconds(options.Value.ClockSkewSeconds), now);
        return verified;
    }

    private async Task<VerifiedToken> VerifyAsync(string token, string audience, CancellationToken cancellationToken)
    {
        try
        {
            return await VerifyAsync(token, audience, reloadKeys: false, cancellationToken);
        }
        catch (TokenRejectedException ex) when (ex.UnknownKey)
        {
            // Signed by a key another replica made or rotated since this one last read the keys: read them again.
            return await VerifyAsync(token, audience, reloadKeys: true, cancellationToken);
        }
    }

    private async Task<VerifiedToken> VerifyAsync(string token, string audience, bool reloadKeys, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var verificationKeys = await keys.GetVerificationKeysAsync(TimeSpan.FromDays(Math.Max(1, o.RefreshTokenLifetimeDays)), cancellationToken, reloadKeys);
        var parameters = new TokenValidationParameters
        {
            ValidIssuer = o.Issuer,
            ValidAudience = audience,
            IssuerSigningKeys = verificationKeys.Select(k => (SecurityKey)k.SecurityKey),
            ValidAlgorithms = [SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.RsaSha256],
            ClockSkew = TimeSpan.FromSeconds(o.ClockSkewSeconds),
            RequireExpirationTime = true,
            RequireSignedTokens = true,
            ValidateLifetime = true,
            TryAllIssuerSigningKeys = false,
            LifetimeValidator = (nbf, exp, _, p) =>
            {
                var now = clock.GetUtcNow().UtcDateTime;
                if (nbf is { } n && n > now + p.ClockSkew)
                    throw new TokenRejectedException($"the token is not valid yet: it becomes valid at {n:yyyy-MM-ddTHH:mm:ssZ} but the registry's clock says {now:yyyy-MM-ddTHH:mm:ssZ} (allowed skew {p.ClockSkew.TotalSeconds:0} s): check the clocks of the token issuer and the registry");
                if (exp is { } e && e < now - p.ClockSkew)
                    throw new TokenRejectedException($"the token expired at {e:yyyy-MM-ddTHH:mm:ssZ}; the registry's clock says {now:yyyy-MM-ddTHH:mm:ssZ} (allowed skew {p.ClockSkew.TotalSeconds:0} s): request a new token, or check the clocks if this repeats");
                if (exp is null) throw new TokenRejectedException("the token has no expiry");
                return true;
            },
        };
        var result = await Handler.ValidateTokenAsync(token, parameters);
        if (!result.IsValid)
        {
            throw (result.Exception) switch
            {
                TokenRejectedException r => r,
                _ when result.Exception?.InnerException is TokenRejectedException r2 => r2,
                SecurityTokenInvalidAudienceException => new TokenRejectedException($"the token is for another service (audience); this registry is '{audience}'"),
                SecurityTokenInvalidIssuerException => new TokenRejectedException($"the token was issued by another issuer; this registry trusts '{o.Issuer}'"),
                SecurityTokenSignatureKeyNotFoundException => new TokenRejectedException("the token is signed with a key this registry does not know (kid); it was issued by another server, or its key was retired long ago") { UnknownKey = true },
                SecurityTokenInvalidAlgorithmException => new TokenRejectedException("the token's signing algorithm is not accepted (only ES256 and RS256)"),
                SecurityTokenInvalidSignatureException => new TokenRejectedException("the token's signature is invalid"),
                SecurityTokenNoExpirationException => new TokenRejectedException("the token has no expiry"),
                SecurityTokenMalformedException or ArgumentException => new TokenRejectedException("the token is malformed (not a JWT)"),
                _ => new TokenRejectedException("the token is invalid: " + (result.Exception?.Message ?? "unknown reason")),
            };
        }
        var jwt = (JsonWebToken)result.SecurityToken;
        return new VerifiedToken(ReadPrincipal(jwt), ReadAccess(jwt), jwt.Id) { ExpiresAt = jwt.ValidTo };
    }

    /// <summary>Verifies a refresh token and re-checks that its user and credential are still valid.</summary>
    /// <exception cref="TokenRejectedException">Refused: invalid, expired, blocked user, revoked token.</exception>
    public async Task<Principal> VerifyRefreshTokenAsync(string refreshToken, CancellationToken cancellationToken)
    {
        var verified = await VerifyAsync(refreshToken, RefreshAudience, cancellationToken);
        var p = verified.Principal;
        var now = clock.GetUtcNow().UtcDateTime;
        if (p.UserId is { } uid)
        {
            var user = await db.Users.AsNoTracking().FirstOrDefaultAsync(u => u.Id == uid, cancellationToken);
            if (user is null || user.IsBlocked) throw new TokenRejectedException("the refresh token's user no longer exists or is blocked");
            p = p with { IsAdmin = user.IsAdmin };
        }
        if (p.Via is "personal_access_token" or "oauth" && p.CredentialId is { } tid)
        {
            var pat = await db.PersonalAccessTokens.AsNoTracking().FirstOrDefaultAsync(t => t.Id == tid, cancellationToken);
            if (pat is null || pat.Revoked || pat.ExpiresAt <= now) throw new TokenRejectedException("the personal access token behind this refresh token was revoked or expired");
            p = p with { Scopes = TokenScopes.Parse(pat.Scopes) };
        }
        if (p.Kind == PrincipalKind.JobToken)
        {
            var jid = p.CredentialId;
            if (!await db.CiJobs.AnyAsync(j => j.Id == jid && j.FinishedAt == null && j.ExpiresAt > now, cancellationToken))
                throw new TokenRejectedException("the CI job behind this refresh token finished or its job token expired");
        }
        if (p.Kind == PrincipalKind.DeployToken && p.CredentialId is { } did)
        {
            var dt = await db.DeployTokens.AsNoTracking().FirstOrDefaultAsync(t => t.Id == did, cancellationToken);
            if (dt is null || dt.Revoked || dt.ExpiresAt <= now) throw new TokenRejectedException("the deploy token behind this refresh token was revoked or expired");
        }
        return p;
    }

    private static Principal ReadPrincipal(JsonWebToken jwt)
    {
        var kind = jwt.TryGetPayloadValue<string>("berth_kind", out var k) && Enum.TryParse<PrincipalKind>(k, out var pk) ? pk : PrincipalKind.Anonymous;
        return new Principal(kind, jwt.Subject ?? "anonymous")
        {
            UserId = jwt.TryGetPayloadValue<long>("berth_uid", out var uid) ? uid : null,
            IsAdmin = jwt.TryGetPayloadValue<bool>("berth_admin", out var admin) && admin,
            ProjectId = jwt.TryGetPayloadValue<long>("berth_pid", out var pid) ? pid : null,
            CredentialId = jwt.TryGetPayloadValue<long>("berth_cid", out var cid) ? cid : null,
            Via = jwt.TryGetPayloadValue<string>("berth_via", out var via) ? via : "token",
            Scopes = jwt.TryGetPayloadValue<string>("berth_scopes", out var scopes) ? TokenScopes.Parse(scopes) : null,
        };
    }

    private static IReadOnlyList<AccessEntry> ReadAccess(JsonWebToken jwt)
    {
        var payload = Base64UrlEncoder.Decode(jwt.EncodedPayload);
        using var doc = JsonDocument.Parse(payload);
        if (!doc.RootElement.TryGetProperty("access", out var access) || access.ValueKind != JsonValueKind.Array) return [];
        var list = new List<AccessEntry>();
        foreach (var entry in access.EnumerateArray())
        {
            if (entry.ValueKind != JsonValueKind.Object) continue;
            var type = entry.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "";
            var name = entry.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : "";
            var actions = entry.TryGetProperty("actions", out var a) && a.ValueKind == JsonValueKind.Array
                ? a.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!).ToList()
                : [];
            list.Add(new AccessEntry(type, name, actions));
        }
        return list;
    }
}
