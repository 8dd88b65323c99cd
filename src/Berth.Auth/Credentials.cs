using Berth.Metadata;
using Berth.Auth.Ci;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Berth.Auth;

/// <summary>How a caller authenticated.</summary>
public enum PrincipalKind
{
    /// <summary>No credentials.</summary>
    Anonymous,
    /// <summary>A user, by password or personal access token.</summary>
    User,
    /// <summary>A project deploy token.</summary>
    DeployToken,
    /// <summary>A CI job token (acts for the user who started the job, within its project).</summary>
    JobToken,
}

/// <summary>
/// An authenticated (or anonymous) caller. <see cref="Scopes"/> is null when the caller has the full rights
/// of the user (password sign-in); otherwise it caps what the credential may do (PAT or deploy token scopes).
/// </summary>
public sealed record Principal(PrincipalKind Kind, string Name)
{
    /// <summary>The anonymous caller.</summary>
    public static Principal Anonymous { get; } = new(PrincipalKind.Anonymous, "anonymous");

    /// <summary>The user id (users, job tokens).</summary>
    public long? UserId { get; init; }
    /// <summary>Instance administrator.</summary>
    public bool IsAdmin { get; init; }
    /// <summary>Scopes of the credential, null for a password sign-in (full user rights).</summary>
    public IReadOnlySet<string>? Scopes { get; init; }
    /// <summary>The project a deploy or job token belongs to.</summary>
    public long? ProjectId { get; init; }
    /// <summary>The credential used: <c>password</c>, <c>personal_access_token</c>, <c>deploy_token</c>, <c>job_token</c>, <c>oauth</c>.</summary>
    public string Via { get; init; } = "none";
    /// <summary>Id of the token used, when a token was used.</summary>
    public long? CredentialId { get; init; }

    /// <summary>True unless anonymous.</summary>
    public bool IsAuthenticated => Kind != PrincipalKind.Anonymous;

    /// <summary>True when the credential carries <paramref name="scope"/> (always for a password sign-in).</summary>
    public bool HasScope(string scope) => Scopes is null || Scopes.Contains(scope);
}

/// <summary>Why credentials were refused (the result's message is safe to show to the client).</summary>
public enum CredentialFailure
{
    /// <summary>Not refused.</summary>
    None,
    /// <summary>Unknown user, wrong password or unknown token.</summary>
    Invalid,
    /// <summary>A user with 2FA sent their password.</summary>
    TwoFactorRequiresToken,
    /// <summary>The account is blocked.</summary>
    Blocked,
    /// <summary>The token expired.</summary>
    Expired,
    /// <summary>The token was revoked.</summary>
    Revoked,
    /// <summary>Too many failed sign-ins.</summary>
    RateLimited,
}

/// <summary>The outcome of checking a username and secret.</summary>
public sealed record CredentialResult(Principal? Principal, CredentialFailure Failure, string Message)
{
    /// <summary>True when the credentials were accepted.</summary>
    public bool Succeeded => Principal is not null;

    /// <summary>Seconds to wait before trying again, for <see cref="CredentialFailure.RateLimited"/>.</summary>
    public int RetryAfterSeconds { get; init; }

    /// <summary>True when this sign-in is worth an audit entry: always, except for a personal access token already
    /// used within the last minute (its last-used time was not moved), so a CI loop asking the token service for
    /// thousands of tokens leaves one <c>sign_in</c> audit entry per token per minute, not one per request.
    /// Every issued registry token still gets its own log line.</summary>
    public bool Audit { get; init; } = true;

    internal static CredentialResult Ok(Principal p) => new(p, CredentialFailure.None, "ok");
    internal static CredentialResult Fail(CredentialFailure f, string message) => new(null, f, message);
}

/// <summary>Sign-in rate limits (section <c>Auth:SignInLimits</c>).</summary>
public sealed class SignInLimitOptions
{
    /// <summary>Failed sign-ins allowed per account within <see cref="WindowSeconds"/>.</summary>
    public int PerAccount { get; set; } = 10;
    /// <summary>Failed sign-ins allowed per client address within <see cref="WindowSeconds"/>.</summary>
    public int PerAddress { get; set; } = 50;
    /// <summary>The sliding window, in seconds.</summary>
    public int WindowSeconds { get; set; } = 600;
}

/// <summary>
/// Checks credentials sent as HTTP Basic (to <c>/jwt/auth</c>, <c>/v2</c>) or as a password grant:
/// a password, a personal access token (<c>bpat-…</c>, username must be its owner), or a deploy token
/// (its username). Passwords of users with 2FA are refused with a message that says to use a personal
/// access token. A CI job token (<c>bjob-…</c>) is the password of <see cref="JobTokenUsername"/>; it is
/// refused once its job finished or expired, and every use and refusal is written to the audit log.
/// Failed attempts are counted per account and per client address in the database
/// (shared by all replicas) and refused with <see cref="CredentialFailure.RateLimited"/> past the limits
/// (job tokens per address only, so bad tokens cannot lock every CI job out).
/// </summary>
public sealed class CredentialValidator(BerthDbContext db, PasswordHashing passwords, IOptions<SignInLimitOptions> limits, TimeProvider clock, ILoggerFactory loggers)
{
    /// <summary>The message for a 2FA user who sent a password.</summary>
    public const string TwoFactorMessage =
        "two-factor authentication is enabled for this account, so its password cannot be used here: " +
        "sign in with a personal access token with the read_registry (pull) and/or write_registry (push) scope as the password";

    /// <summary>Username CI job tokens are sent with (GitLab's name).</summary>
    public const string JobTokenUsername = "gitlab-ci-token";

    private DateTime Now => clock.GetUtcNow().UtcDateTime;

    private readonly ILogger _audit = loggers.CreateLogger(CiAudit.Category);

    /// <summary>Checks a username and secret.</summary>
    /// <param name="username">The username (case-insensitive), or a deploy token's username.</param>
    /// <param name="secret">A password or token.</param>
    /// <param name="clientAddress">The client's address, for rate limiting (may be null).</param>
    /// <param name="cancellationToken">Cancellation.</param>
    public async Task<CredentialResult> ValidateAsync(string username, string secret, string? clientAddress, CancellationToken cancellationToken)
    {
        username = username.Trim();
        if (username.Length == 0 || secret.Length == 0) return CredentialResult.Fail(CredentialFailure.Invalid, "username and password are required");
        bool jobToken = string.Equals(username, JobTokenUsername, StringComparison.OrdinalIgnoreCase);
        var limited = await CheckRateLimitAsync(username, clientAddress, perAccount: !jobToken, cancellationToken);
        if (limited is not null) return limited;

        CredentialResult result;
        if (jobToken)
            result = await ValidateJobTokenAsync(secret, clientAddress, cancellationToken);
        else if (secret.StartsWith(SecretTokens.JobTokenPrefix, StringComparison.Ordinal))
            result = CredentialResult.Fail(CredentialFailure.Invalid, $"a CI job token is the password of the user {JobTokenUsername}: sign in with username {JobTokenUsername}");
        else if (secret.StartsWith(SecretTokens.PersonalAccessTokenPrefix, StringComparison.Ordinal))
            result = await ValidatePersonalAccessTokenAsync(username, secret, cancellationToken);
        else if (secret.StartsWith(SecretTokens.DeployTokenPrefix, StringComparison.Ordinal))
            result = await ValidateDeployTokenAsync(username, secret, cancellationToken);
        else
            result = await ValidatePasswordAsync(username, secret, cancellationToken);

        if (!result.Succeeded && result.Failure is CredentialFailure.Invalid or CredentialFailure.TwoFactorRequiresToken)
            await RecordFailureAsync(username, clientAddress, perAccount: !jobToken, cancellationToken);
        return result;
    }

    /// <summary>Checks a token alone (API <c>PRIVATE-TOKEN</c> / Bearer): personal access tokens only.</summary>
    public async Task<CredentialResult> ValidateTokenAsync(string secret, CancellationToken cancellationToken)
    {
        if (!secret.StartsWith(SecretTokens.PersonalAccessTokenPrefix, StringComparison.Ordinal))
            return CredentialResult.Fail(CredentialFailure.Invalid, "invalid token");
        return await ValidatePersonalAccessTokenAsync(null, secret, cancellationToken);
    }

    private async Task<CredentialResult> ValidatePasswordAsync(string username, string password, CancellationToken cancellationToken)
    {
        var normalized = username.ToLowerInvariant();
        var user = await db.Users.AsTracking().FirstOrDefaultAsync(u => u.NormalizedUsername == normalized, cancellationToken);
        if (user is null || !passwords.Verify(user, password, out bool rehash))
            return CredentialResult.Fail(CredentialFailure.Invalid, "invalid username or password");
        if (user.IsBlocked) return CredentialResult.Fail(CredentialFailure.Blocked, $"the account {user.Username} is blocked");
        if (user.TwoFactorEnabled) return CredentialResult.Fail(CredentialFailure.TwoFactorRequiresToken, TwoFactorMessage);
        if (rehash) user.PasswordHash = passwords.Hash(user, password);
        user.LastSignInAt = Now;
        await db.SaveChangesAsync(cancellationToken);
        db.ChangeTracker.Clear();
        return CredentialResult.Ok(new Principal(PrincipalKind.User, user.Username) { UserId = user.Id, IsAdmin = user.IsAdmin, Via = "password" });
    }

    private async Task<CredentialResult> ValidatePersonalAccessTokenAsync(string? username, string secret, CancellationToken cancellationToken)
    {
        var hash = SecretTokens.Hash(secret);
        var row = await HotQueries.For(db).PersonalAccessToken(db, hash, cancellationToken);
        if (row is null || !SecretTokens.HashEquals(row.Token.TokenHash, hash))
            return CredentialResult.Fail(CredentialFailure.Invalid, "invalid username or token");
        if (username is not null && !string.Equals(username, row.User.Username, StringComparison.OrdinalIgnoreCase))
            return CredentialResult.Fail(CredentialFailure.Invalid, "invalid username or token: this personal access token belongs to another user");
        if (row.Token.Revoked) return CredentialResult.Fail(CredentialFailure.Revoked, $"personal access token '{row.Token.Name}' was revoked");
        if (row.Token.ExpiresAt is { } exp && exp <= Now) return CredentialResult.Fail(CredentialFailure.Expired, $"personal access token '{row.Token.Name}' expired at {exp:u}");
        if (row.User.IsBlocked) return CredentialResult.Fail(CredentialFailure.Blocked, $"the account {row.User.Username} is blocked");
        var now = Now;
        var id = row.Token.Id;
        // Last-used time at minute resolution, to keep hot paths from writing on every request.
        bool firstUseThisMinute = row.Token.LastUsedAt is null || now - row.Token.LastUsedAt > TimeSpan.FromMinutes(1);
        if (firstUseThisMinute)
            await db.PersonalAccessTokens.Where(t => t.Id == id).ExecuteUpdateAsync(s => s.SetProperty(t => t.LastUsedAt, now), cancellationToken);
        return CredentialResult.Ok(new Principal(PrincipalKind.User, row.User.Username)
        {
            UserId = row.User.Id,
            IsAdmin = row.User.IsAdmin,
            Scopes = TokenScopes.Parse(row.Token.Scopes),
            Via = row.Token.Name.StartsWith("oauth:", StringComparison.Ordinal) ? "oauth" : "personal_access_token",
            CredentialId = row.Token.Id,
        }) with { Audit = firstUseThisMinute };
    }

    private async Task<CredentialResult> ValidateDeployTokenAsync(string username, string secret, CancellationToken cancellationToken)
    {
        var hash = SecretTokens.Hash(secret);
        var token = await db.DeployTokens.FirstOrDefaultAsync(t => t.TokenHash == hash, cancellationToken);
        if (token is null || !SecretTokens.HashEquals(token.TokenHash, hash) || !string.Equals(token.Username, username, StringComparison.Ordinal))
            return CredentialResult.Fail(CredentialFailure.Invalid, "invalid username or deploy token");
        if (token.Revoked) return CredentialResult.Fail(CredentialFailure.Revoked, $"deploy token '{token.Name}' was revoked");
        if (token.ExpiresAt is { } exp && exp <= Now) return CredentialResult.Fail(CredentialFailure.Expired, $"deploy token '{token.Name}' expired at {exp:u}");
        return CredentialResult.Ok(new Principal(PrincipalKind.DeployToken, token.Username)
        {
            ProjectId = token.ProjectId,
            Scopes = TokenScopes.Parse(token.Scopes),
            Via = "deploy_token",
            CredentialId = token.Id,
        });
    }

    private async Task<CredentialResult> ValidateJobTokenAsync(string secret, string? clientAddress, CancellationToken cancellationToken)
    {
        CredentialResult Refuse(long? jobId, CredentialFailure failure, string message)
        {
            CiAudit.JobTokenRefused(_audit, jobId, clientAddress, message);
            return CredentialResult.Fail(failure, message);
        }

        if (!secret.StartsWith(SecretTokens.JobTokenPrefix, StringComparison.Ordinal))
            return Refuse(null, CredentialFailure.Invalid, $"invalid CI job token: the password of {JobTokenUsername} must be the job's CI_JOB_TOKEN ({SecretTokens.JobTokenPrefix}…)");
        var hash = SecretTokens.Hash(secret);
        var job = await db.CiJobs.FirstOrDefaultAsync(j => j.TokenHash == hash, cancellationToken);
        if (job is null || !SecretTokens.HashEquals(job.TokenHash, hash))
            return Refuse(null, CredentialFailure.Invalid, "invalid CI job token: no job has this token");
        if (job.FinishedAt is { } finished)
            return Refuse(job.Id, CredentialFailure.Expired, $"the CI job token of job {job.Id} is no longer valid: the job finished at {finished:yyyy-MM-ddTHH:mm:ssZ}");
        if (job.ExpiresAt <= Now)
            return Refuse(job.Id, CredentialFailure.Expired, $"the CI job token of job {job.Id} expired at {job.ExpiresAt:yyyy-MM-ddTHH:mm:ssZ} (its maximum lifetime)");
        if (job.UserId is { } userId)
        {
            var user = await db.Users.Where(u => u.Id == userId).Select(u => new { u.Username, u.IsBlocked }).FirstOrDefaultAsync(cancellationToken);
            if (user is null || user.IsBlocked)
                return Refuse(job.Id, CredentialFailure.Blocked, $"the user who started job {job.Id} no longer exists or is blocked");
        }
        CiAudit.JobTokenUsed(_audit, job.Id, job.ProjectId, job.UserId, clientAddress);
        return CredentialResult.Ok(new Principal(PrincipalKind.JobToken, JobTokenUsername)
        {
            UserId = job.UserId,
            ProjectId = job.ProjectId,
            CredentialId = job.Id,
            Via = job.TrustId is null ? "job_token" : "oidc",
        });
    }

    private async Task<CredentialResult?> CheckRateLimitAsync(string username, string? clientAddress, bool perAccount, CancellationToken cancellationToken)
    {
        var options = limits.Value;
        var since = Now.AddSeconds(-options.WindowSeconds);
        // One round trip for both counters (this runs before every sign-in, the token service's hot path).
        var userKey = perAccount ? "user:" + username.ToLowerInvariant() : null;
        var addressKey = clientAddress is null ? null : "ip:" + clientAddress;
        int accountFailures = 0, perAddress = 0;
        if (userKey is not null || addressKey is not null)
        {
            await foreach (var c in HotQueries.For(db).FailureCounts(db, since, userKey, addressKey).WithCancellation(cancellationToken))
            {
                if (c.Key == userKey) accountFailures = c.Count;
                else if (c.Key == addressKey) perAddress = c.Count;
            }
        }
        if (accountFailures >= options.PerAccount || perAddress >= options.PerAddress)
        {
            var which = accountFailures >= options.PerAccount ? $"account {username}" : $"address {clientAddress}";
            return CredentialResult.Fail(CredentialFailure.RateLimited,
                $"too many failed sign-ins for {which}; try again in {options.WindowSeconds / 60} minutes") with { RetryAfterSeconds = options.WindowSeconds };
        }
        return null;
    }

    private async Task RecordFailureAsync(string username, string? clientAddress, bool perAccount, CancellationToken cancellationToken)
    {
        var now = Now;
        if (perAccount) db.FailedSignIns.Add(new FailedSignInEntity { Key = "user:" + username.ToLowerInvariant(), At = now });
        if (clientAddress is not null) db.FailedSignIns.Add(new FailedSignInEntity { Key = "ip:" + clientAddress, At = now });
        await db.SaveChangesAsync(cancellationToken);
        db.ChangeTracker.Clear();
        // Forget failures older than a day, now and then.
        if (Random.Shared.Next(100) == 0)
        {
            var old = now.AddDays(-1);
            await db.FailedSignIns.Where(f => f.At < old).ExecuteDeleteAsync(cancellationToken);
        }
    }
}

/// <summary>
/// The token service's per-sign-in queries, compiled once per EF model (SQLite and PostgreSQL may both be loaded in one
/// process, and a compiled query is bound to the model it first ran with): no expression-tree walk, query-cache lookup
/// or SQL generation per token request.
/// </summary>
internal sealed class HotQueries
{
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Microsoft.EntityFrameworkCore.Metadata.IModel, HotQueries> ByModel = new();

    /// <summary>The compiled queries for <paramref name="db"/>'s model.</summary>
    public static HotQueries For(BerthDbContext db) => ByModel.GetValue(db.Model, _ => new HotQueries());

    /// <summary>A personal access token and its user, by the token's hash.</summary>
    public readonly Func<BerthDbContext, string, CancellationToken, Task<TokenAndUser?>> PersonalAccessToken =
        EF.CompileAsyncQuery((BerthDbContext ctx, string hash, CancellationToken ct) =>
            (from t in ctx.PersonalAccessTokens
             join u in ctx.Users on t.UserId equals u.Id
             where t.TokenHash == hash
             select new TokenAndUser(t, u)).FirstOrDefault());

    /// <summary>Failed sign-ins since a time, counted per key, for an account key and an address key (either may be null).</summary>
    public readonly Func<BerthDbContext, DateTime, string?, string?, IAsyncEnumerable<KeyCount>> FailureCounts =
        EF.CompileAsyncQuery((BerthDbContext ctx, DateTime since, string? userKey, string? addressKey) =>
            ctx.FailedSignIns
                .Where(f => f.At > since && (f.Key == userKey || f.Key == addressKey))
                .GroupBy(f => f.Key)
                .Select(g => new KeyCount(g.Key, g.Count())));

    /// <summary>A token with its user.</summary>
    public sealed record TokenAndUser(PersonalAccessTokenEntity Token, UserEntity User);

    /// <summary>How many rows a key has.</summary>
    public sealed record KeyCount(string Key, int Count);
}
