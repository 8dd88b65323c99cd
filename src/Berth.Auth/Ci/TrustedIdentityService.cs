using System.Text.Json;
using Berth.Auth.Accounts;
using Berth.Auth.Tokens;
using Berth.Metadata;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Berth.Auth.Ci;

/// <summary>A trusted identity to register.</summary>
/// <param name="Issuer">The exact <c>iss</c> of the ID tokens (e.g. <c>https://token.actions.githubusercontent.com</c>).</param>
/// <param name="Audience">The <c>aud</c> the ID tokens must carry (e.g. the registry's URL).</param>
/// <param name="JwksUrl">Where the issuer's keys are; null to use <paramref name="Jwks"/> or OpenID discovery from the issuer.</param>
/// <param name="Jwks">The issuer's JWKS document itself; null to fetch it.</param>
/// <param name="Rules">Claim rules, all of which must match (at least one).</param>
/// <param name="Description">A description for people.</param>
public sealed record NewTrustedIdentity(string? Issuer, string? Audience, string? JwksUrl, string? Jwks, IReadOnlyList<ClaimRule>? Rules, string? Description = null);

/// <summary>A refused token exchange: an OAuth error code (RFC 6749 §5.2, RFC 8693 §2.2.2) and a message safe to show.</summary>
/// <param name="error"><c>invalid_request</c>, <c>invalid_target</c> or <c>invalid_grant</c>.</param>
/// <param name="message">Why, for the CI job's log.</param>
public sealed class TokenExchangeException(string error, string message) : Exception(message)
{
    /// <summary>The OAuth error code.</summary>
    public string Error { get; } = error;
}

/// <summary>A successful exchange: the job created for the identity and its token.</summary>
/// <param name="Job">The job and its token.</param>
/// <param name="Trust">The trusted identity that matched.</param>
/// <param name="Subject">The ID token's <c>sub</c>.</param>
public sealed record ExchangeResult(CreatedJob Job, TrustedIdentityEntity Trust, string? Subject);

/// <summary>
/// Trusted CI identities (no stored secret): a project Maintainer registers an OIDC issuer, its keys (inline
/// JWKS, JWKS URL or discovery), an audience and claim rules; a CI job exchanges its OIDC ID token for a
/// short-lived job token with push/pull on that project (<see cref="ExchangeAsync"/>). The ID token's signature
/// (RS256 or ES256 only; unsigned <c>alg: none</c> tokens are refused), issuer, audience, expiry and not-before
/// (with the registry's clock skew, <see cref="RegistryTokenOptions.ClockSkewSeconds"/>) and every rule are
/// checked, each refusal with its own message. Registration errors throw <see cref="AccountException"/>.
/// </summary>
public sealed class TrustedIdentityService(
    BerthDbContext db, CiJobService jobs, JwksCache keys, IOptions<RegistryTokenOptions> tokenOptions, TimeProvider clock, ILoggerFactory loggers)
{
    /// <summary>Accepted ID token signature algorithms.</summary>
    public static readonly string[] Algorithms = [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.EcdsaSha256];

    private static readonly JsonWebTokenHandler Handler = new();
    private readonly ILogger _audit = loggers.CreateLogger(CiAudit.Category);

    /// <summary>Registers a trusted identity for a project.</summary>
    /// <exception cref="AccountException">A missing or malformed field (400); the project does not exist (404).</exception>
    public async Task<TrustedIdentityEntity> CreateAsync(long projectId, NewTrustedIdentity request, long creatorId, CancellationToken cancellationToken)
    {
        var issuer = request.Issuer?.Trim();
        if (string.IsNullOrEmpty(issuer)) throw AccountException.Invalid("issuer", "issuer is missing (the exact iss claim of the CI's ID tokens)");
        if (issuer.Length > 1024) throw AccountException.Invalid("issuer", "issuer is too long (maximum is 1024 characters)");
        var audience = request.Audience?.Trim();
        if (string.IsNullOrEmpty(audience)) throw AccountException.Invalid("audience", "audience is missing (the aud claim the CI's ID tokens must carry, e.g. this registry's URL)");
        if (audience.Length > 1024) throw AccountException.Invalid("audience", "audience is too long (maximum is 1024 characters)");
        var jwksUrl = string.IsNullOrWhiteSpace(request.JwksUrl) ? null : request.JwksUrl.Trim();
        var jwks = string.IsNullOrWhiteSpace(request.Jwks) ? null : request.Jwks.Trim();
        if (jwksUrl is not null && jwks is not null) throw AccountException.Invalid("jwks", "give either jwks (the document) or jwks_url, not both");
        if (jwksUrl is not null && JwksCache.CheckUrl(jwksUrl) is { } urlProblem) throw AccountException.Invalid("jwks_url", "jwks_url is invalid: " + urlProblem);
        if (jwks is not null)
        {
            try
            {
                JwksCache.ParseSigningKeys(jwks);
            }
            catch (ArgumentException ex)
            {
                throw AccountException.Invalid("jwks", "jwks is invalid: " + ex.Message);
            }
        }
        if (jwksUrl is null && jwks is null && JwksCache.CheckUrl(issuer) is { } issuerProblem)
            throw AccountException.Invalid("issuer", $"without jwks or jwks_url the keys are discovered from the issuer, but {issuerProblem}");
        var rules = ClaimRule.Validate(request.Rules);
        if (request.Description is { Length: > 255 }) throw AccountException.Invalid("description", "description is too long (maximum is 255 characters)");
        if (!await db.Projects.AnyAsync(p => p.Id == projectId, cancellationToken)) throw AccountException.NotFound("Project");
        var trust = new TrustedIdentityEntity
        {
            ProjectId = projectId,
            Issuer = issuer,
            Audience = audience,
            JwksUrl = jwksUrl,
            JwksJson = jwks,
            RulesJson = ClaimRule.ToJson(rules),
            Description = string.IsNullOrWhiteSpace(request.Description) ? null : request.Description.Trim(),
            CreatorId = creatorId,
            CreatedAt = clock.GetUtcNow().UtcDateTime,
        };
        db.TrustedIdentities.Add(trust);
        await db.SaveChangesAsync(cancellationToken);
        db.ChangeTracker.Clear();
        CiAudit.TrustCreated(_audit, trust.Id, projectId, creatorId, issuer, audience, trust.RulesJson);
        return trust;
    }

    /// <summary>A project's trusted identities, oldest first.</summary>
    public async Task<IReadOnlyList<TrustedIdentityEntity>> ListAsync(long projectId, CancellationToken cancellationToken) =>
        await db.TrustedIdentities.Where(t => t.ProjectId == projectId).OrderBy(t => t.Id).ToListAsync(cancellationToken);

    /// <summary>One trusted identity of a project.</summary>
    /// <exception cref="AccountException">Not found (or of another project).</exception>
    public async Task<TrustedIdentityEntity> GetAsync(long projectId, long id, CancellationToken cancellationToken) =>
        await db.TrustedIdentities.FirstOrDefaultAsync(t => t.Id == id && t.ProjectId == projectId, cancellationToken) ?? throw AccountException.NotFound("Trusted identity");

    /// <summary>Deletes a trusted identity; job tokens already exchanged keep working until they expire.</summary>
    /// <exception cref="AccountException">Not found (or of another project).</exception>
    public async Task DeleteAsync(long projectId, long id, long byUserId, CancellationToken cancellationToken)
    {
        if (await db.TrustedIdentities.Where(t => t.Id == id && t.ProjectId == projectId).ExecuteDeleteAsync(cancellationToken) == 0)
            throw AccountException.NotFound("Trusted identity");
        CiAudit.TrustDeleted(_audit, id, projectId, byUserId);
    }

    /// <summary>
    /// Exchanges a CI's OIDC ID token for a job token of <paramref name="projectIdOrPath"/>: the token must be
    /// signed (RS256/ES256) by a key of an issuer the project trusts, for that identity's audience, within its
    /// lifetime, and satisfy all of the identity's claim rules.
    /// </summary>
    /// <exception cref="TokenExchangeException">Refused; the message says which check failed.</exception>
    public async Task<ExchangeResult> ExchangeAsync(string? projectIdOrPath, string? idToken, CancellationToken cancellationToken)
    {
        var project = string.IsNullOrWhiteSpace(projectIdOrPath) ? null : projectIdOrPath.Trim();
        string? issuer = null, subject = null;
        try
        {
            if (project is null) throw new TokenExchangeException("invalid_request", "project is missing: name the project (id or full path) to push to");
            if (string.IsNullOrWhiteSpace(idToken)) throw new TokenExchangeException("invalid_request", "the ID token is missing: send it as subject_token (or id_token)");
            var unverified = Parse(idToken.Trim());
            issuer = unverified.Issuer;
            subject = unverified.Subject;
            var target = await jobs.FindProjectAsync(project, cancellationToken);
            var trusts = target is null ? [] : (await ListAsync(target.Id, cancellationToken))
                .Where(t => NormalizeIssuer(t.Issuer) == NormalizeIssuer(issuer)).ToList();
            if (target is null || trusts.Count == 0)
                throw new TokenExchangeException("invalid_target", $"project '{project}' does not exist or does not trust the OIDC issuer '{issuer}'");
            var failures = new List<string>();
            foreach (var trust in trusts)
            {
                var failure = await CheckAsync(trust, target, unverified, idToken.Trim(), cancellationToken);
                if (failure is null)
                {
                    var job = await jobs.CreateForTrustAsync(trust, target, subject, cancellationToken);
                    return new ExchangeResult(job, trust, subject);
                }
                failures.Add(failure);
            }
            throw new TokenExchangeException("invalid_grant", string.Join("; ", failures.Distinct(StringComparer.Ordinal)));
        }
        catch (TokenExchangeException ex)
        {
            CiAudit.ExchangeRefused(_audit, project ?? "(none)", issuer, subject, ex.Message);
            throw;
        }
    }

    private static JsonWebToken Parse(string token)
    {
        if (token.Count(c => c == '.') == 4) throw new TokenExchangeException("invalid_grant", "the ID token is encrypted (JWE); send a signed ID token (JWS)");
        JsonWebToken jwt;
        try
        {
            jwt = new JsonWebToken(token);
        }
        catch (Exception ex) when (ex is ArgumentException or SecurityTokenMalformedException or JsonException)
        {
            throw new TokenExchangeException("invalid_grant", "the ID token is not a JWT (header.payload.signature, base64url)");
        }
        if (string.IsNullOrEmpty(jwt.Alg) || string.Equals(jwt.Alg, "none", StringComparison.OrdinalIgnoreCase) || string.IsNullOrEmpty(jwt.EncodedSignature))
            throw new TokenExchangeException("invalid_grant", $"the ID token is not signed (alg: {(string.IsNullOrEmpty(jwt.Alg) ? "missing" : jwt.Alg)}); unsigned tokens are refused, only {string.Join(" and ", Algorithms)} signatures are accepted");
        if (!Algorithms.Contains(jwt.Alg, StringComparer.Ordinal))
            throw new TokenExchangeException("invalid_grant", $"the ID token is signed with {jwt.Alg}; only {string.Join(" and ", Algorithms)} are accepted");
        if (string.IsNullOrEmpty(jwt.Issuer)) throw new TokenExchangeException("invalid_grant", "the ID token has no issuer (iss)");
        return jwt;
    }

    private static string NormalizeIssuer(string issuer) => issuer.Trim().TrimEnd('/');

    /// <summary>Checks the token against one trusted identity; null when it passes, else why not.</summary>
    private async Task<string?> CheckAsync(TrustedIdentityEntity trust, ProjectEntity project, JsonWebToken unverified, string token, CancellationToken cancellationToken)
    {
        var name = $"trusted identity {trust.Id} of {project.FullPath}";
        TokenValidationResult? result = null;
        for (int attempt = 0; attempt < 2; attempt++)
        {
            IReadOnlyList<JsonWebKey> signingKeys;
            try
            {
                signingKeys = await keys.GetKeysAsync(trust, refresh: attempt > 0, cancellationToken);
            }
            catch (InvalidOperationException ex)
            {
                return ex.Message;
            }
            result = await Handler.ValidateTokenAsync(token, Parameters(trust, signingKeys, unverified));
            // An unknown key may be a rotation at the issuer: fetch its keys again once.
            if (result.IsValid || result.Exception is not SecurityTokenSignatureKeyNotFoundException || trust.JwksJson is not null) break;
        }
        if (result is null || !result.IsValid)
            return Explain(result?.Exception, trust, unverified, name);

        var payload = ((JsonWebToken)result.SecurityToken).EncodedPayload;
        using var doc = JsonDocument.Parse(Base64UrlEncoder.Decode(payload));
        foreach (var rule in ClaimRule.FromJson(trust.RulesJson))
        {
            var values = ClaimRule.ValuesOf(doc.RootElement, rule.Claim);
            if (values.Count == 0) return $"the ID token has no claim '{rule.Claim}', which a rule of {name} needs";
            if (!rule.Matches(values))
                return $"the ID token's claim '{rule.Claim}' is '{string.Join("', '", values)}', which does not satisfy the rule on '{rule.Claim}' ({rule.Operator}) of {name}";
        }
        return null;
    }

    private TokenValidationParameters Parameters(TrustedIdentityEntity trust, IReadOnlyList<JsonWebKey> signingKeys, JsonWebToken unverified)
    {
        var issuer = NormalizeIssuer(trust.Issuer);
        return new TokenValidationParameters
        {
            ValidIssuers = [issuer, issuer + "/"],
            ValidAudience = trust.Audience,
            IssuerSigningKeys = signingKeys,
            ValidAlgorithms = Algorithms,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateLifetime = true,
            ClockSkew = TimeSpan.FromSeconds(tokenOptions.Value.ClockSkewSeconds),
            // With a kid, only that key may verify (an unknown kid is reported as such); without one, try them all.
            TryAllIssuerSigningKeys = string.IsNullOrEmpty(unverified.Kid),
            LifetimeValidator = (nbf, exp, _, p) =>
            {
                var now = clock.GetUtcNow().UtcDateTime;
                if (exp is null) throw new TokenExchangeException("invalid_grant", "the ID token has no expiry (exp)");
                if (exp.Value < now - p.ClockSkew)
                    throw new TokenExchangeException("invalid_grant", $"the ID token expired at {exp.Value:yyyy-MM-ddTHH:mm:ssZ}; the registry's clock says {now:yyyy-MM-ddTHH:mm:ssZ} (allowed skew {p.ClockSkew.TotalSeconds:0} s): request a fresh ID token right before the exchange");
                if (nbf is { } n && n > now + p.ClockSkew)
                    throw new TokenExchangeException("invalid_grant", $"the ID token is not valid before {n:yyyy-MM-ddTHH:mm:ssZ}; the registry's clock says {now:yyyy-MM-ddTHH:mm:ssZ} (allowed skew {p.ClockSkew.TotalSeconds:0} s)");
                return true;
            },
        };
    }

    private static string Explain(Exception? exception, TrustedIdentityEntity trust, JsonWebToken unverified, string name)
    {
        if (exception is TokenExchangeException own) return own.Message;
        if (exception?.InnerException is TokenExchangeException inner) return inner.Message;
        return exception switch
        {
            SecurityTokenInvalidAudienceException => $"the ID token's audience ({string.Join(", ", unverified.Audiences.DefaultIfEmpty("none"))}) is not the one {name} expects: request the ID token with audience '{trust.Audience}'",
            SecurityTokenSignatureKeyNotFoundException => $"the ID token is signed with a key ({(string.IsNullOrEmpty(unverified.Kid) ? "no kid" : $"kid '{unverified.Kid}'")}) that is not among the issuer's keys registered for {name}",
            SecurityTokenInvalidSignatureException => $"the ID token's signature does not verify with the issuer's keys registered for {name}",
            SecurityTokenInvalidAlgorithmException => $"the ID token is signed with {unverified.Alg}; only {string.Join(" and ", Algorithms)} are accepted",
            SecurityTokenNoExpirationException => "the ID token has no expiry (exp)",
            SecurityTokenInvalidIssuerException => $"the ID token's issuer '{unverified.Issuer}' is not the issuer of {name}",
            SecurityTokenExpiredException => "the ID token expired",
            _ => "the ID token is invalid: " + (exception?.Message ?? "unknown reason"),
        };
    }
}
