using System.Text.RegularExpressions;
using Berth.Metadata;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace Berth.Auth.Accounts;

/// <summary>A token just created, with its secret: the only time the secret is known.</summary>
/// <typeparam name="T">The stored row type.</typeparam>
/// <param name="Entity">The stored row (hash only).</param>
/// <param name="Secret">The secret to hand to the caller once.</param>
public sealed record CreatedToken<T>(T Entity, string Secret);

/// <summary>
/// Personal access tokens (<c>bpat-…</c>; scopes <c>api</c>, <c>read_api</c>, <c>read_registry</c>,
/// <c>write_registry</c>) and project deploy tokens (<c>bdt-…</c>; <c>read_registry</c>, <c>write_registry</c>).
/// Secrets are generated here, returned once and stored as SHA-256 hashes. Expiry times are UTC; a
/// date-only expiry (GitLab's <c>expires_at: 2026-12-31</c>) means the token stops working at the start of
/// that day, UTC. Throws <see cref="AccountException"/> for refused operations.
/// </summary>
public sealed partial class AccessTokenService(BerthDbContext db, TimeProvider clock, ILoggerFactory loggers)
{
    /// <summary>Name of the API access tokens handed out by the OAuth password grant.</summary>
    public const string OAuthTokenName = "oauth:password-grant";

    /// <summary>Lifetime of OAuth access tokens (GitLab's: two hours).</summary>
    public static readonly TimeSpan OAuthTokenLifetime = TimeSpan.FromHours(2);

    [GeneratedRegex(@"^[a-zA-Z0-9.+_-]+$", RegexOptions.CultureInvariant)]
    private static partial Regex DeployUsernameGrammar();

    private DateTime Now => clock.GetUtcNow().UtcDateTime;

    /// <summary>The expiry instant of a date-only expiry: the start of that day, UTC.</summary>
    public static DateTime ExpiryFromDate(DateOnly date) => date.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);

    /// <summary>Creates a personal access token for a user.</summary>
    /// <param name="userId">The owner.</param>
    /// <param name="name">A name for people (required).</param>
    /// <param name="scopes">At least one of <see cref="TokenScopes.PersonalAccessToken"/>.</param>
    /// <param name="expiresAt">Expiry (UTC, in the future), or null for none.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <exception cref="AccountException">User not found; name missing; scopes empty or unknown; expiry not in the future.</exception>
    public async Task<CreatedToken<PersonalAccessTokenEntity>> CreatePersonalAccessTokenAsync(
        long userId, string? name, IEnumerable<string>? scopes, DateTime? expiresAt, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(name)) throw AccountException.Invalid("name", "name is missing");
        var scopeList = CheckScopes(scopes, TokenScopes.PersonalAccessToken);
        CheckExpiry(expiresAt);
        if (!await db.Users.AnyAsync(u => u.Id == userId, cancellationToken)) throw AccountException.NotFound("User");
        var secret = SecretTokens.Generate(SecretTokens.PersonalAccessTokenPrefix);
        var token = new PersonalAccessTokenEntity
        {
            UserId = userId,
            Name = name.Trim(),
            Scopes = string.Join(' ', scopeList),
            TokenHash = SecretTokens.Hash(secret),
            ExpiresAt = expiresAt,
            CreatedAt = Now,
        };
        db.PersonalAccessTokens.Add(token);
        await SaveAsync(cancellationToken);
        if (token.Name != OAuthTokenName) // an OAuth grant is a sign-in, audited as such
            AccountAudit.TokenCreated(Audit, $"user {userId}", $"personal access token {token.Id} '{token.Name}' with scopes {token.Scopes}{(expiresAt is { } at ? $", expires {at:u}" : "")}");
        return new CreatedToken<PersonalAccessTokenEntity>(token, secret);
    }

    /// <summary>
    /// Creates the API access token of an OAuth password grant: a personal access token named
    /// <see cref="OAuthTokenName"/> valid for <see cref="OAuthTokenLifetime"/>. The user's expired grant
    /// tokens are deleted on the way.
    /// </summary>
    public async Task<CreatedToken<PersonalAccessTokenEntity>> CreateOAuthAccessTokenAsync(long userId, IEnumerable<string> scopes, CancellationToken cancellationToken)
    {
        var now = Now;
        await db.PersonalAccessTokens
            .Where(t => t.UserId == userId && t.Name == OAuthTokenName && t.ExpiresAt != null && t.ExpiresAt < now)
            .ExecuteDeleteAsync(cancellationToken);
        return await CreatePersonalAccessTokenAsync(userId, OAuthTokenName, scopes, now + OAuthTokenLifetime, cancellationToken);
    }

    /// <summary>Personal access tokens of one user (all users when null), newest first. OAuth grant tokens are left out.</summary>
    public async Task<IReadOnlyList<PersonalAccessTokenEntity>> ListPersonalAccessTokensAsync(long? userId, CancellationToken cancellationToken)
    {
        var query = db.PersonalAccessTokens.Where(t => t.Name != OAuthTokenName);
        if (userId is { } id) query = query.Where(t => t.UserId == id);
        return await query.OrderByDescending(t => t.Id).ToListAsync(cancellationToken);
    }

    /// <summary>One personal access token.</summary>
    /// <exception cref="AccountException">Not found.</exception>
    public async Task<PersonalAccessTokenEntity> GetPersonalAccessTokenAsync(long id, CancellationToken cancellationToken) =>
        await db.PersonalAccessTokens.FirstOrDefaultAsync(t => t.Id == id, cancellationToken) ?? throw AccountException.NotFound("Personal Access Token");

    /// <summary>Revokes a personal access token (it is refused from now on).</summary>
    /// <exception cref="AccountException">Not found.</exception>
    public async Task RevokePersonalAccessTokenAsync(long id, CancellationToken cancellationToken)
    {
        var owner = await db.PersonalAccessTokens.Where(t => t.Id == id).Select(t => new { t.UserId, t.Name }).FirstOrDefaultAsync(cancellationToken);
        int n = await db.PersonalAccessTokens.Where(t => t.Id == id).ExecuteUpdateAsync(s => s.SetProperty(t => t.Revoked, true), cancellationToken);
        if (n == 0 || owner is null) throw AccountException.NotFound("Personal Access Token");
        AccountAudit.TokenRevoked(Audit, $"user {owner.UserId}", $"personal access token {id} '{owner.Name}'");
    }

    /// <summary>True while a token is usable: not revoked and not expired.</summary>
    public bool IsActive(PersonalAccessTokenEntity token) => !token.Revoked && (token.ExpiresAt is null || token.ExpiresAt > Now);

    /// <summary>True while a deploy token is usable: not revoked and not expired.</summary>
    public bool IsActive(DeployTokenEntity token) => !token.Revoked && (token.ExpiresAt is null || token.ExpiresAt > Now);

    /// <summary>True once a token's expiry has passed.</summary>
    public bool IsExpired(DateTime? expiresAt) => expiresAt is { } at && at <= Now;

    /// <summary>
    /// Creates a deploy token for a project. Its username is <paramref name="username"/> or, by default,
    /// <c>berth+deploy-token-&lt;id&gt;</c> (GitLab's <c>gitlab+deploy-token-&lt;id&gt;</c>).
    /// </summary>
    /// <exception cref="AccountException">Project not found; name missing; scopes empty or unknown; username invalid or taken; expiry not in the future.</exception>
    public async Task<CreatedToken<DeployTokenEntity>> CreateDeployTokenAsync(
        long projectId, string? name, string? username, IEnumerable<string>? scopes, DateTime? expiresAt, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(name)) throw AccountException.Invalid("name", "name is missing");
        var scopeList = CheckScopes(scopes, TokenScopes.DeployToken);
        CheckExpiry(expiresAt);
        if (!await db.Projects.AnyAsync(p => p.Id == projectId, cancellationToken)) throw AccountException.NotFound("Project");
        bool defaultName = string.IsNullOrWhiteSpace(username);
        if (!defaultName)
        {
            username = username!.Trim();
            if (username.Length > 255 || !DeployUsernameGrammar().IsMatch(username))
                throw AccountException.Invalid("username", "username can contain only letters, digits, '_', '-', '+' and '.'");
            if (await db.DeployTokens.AnyAsync(t => t.Username == username, cancellationToken))
                throw new AccountException(AccountErrorKind.Conflict, "username has already been taken", "username");
        }
        var secret = SecretTokens.Generate(SecretTokens.DeployTokenPrefix);
        var token = new DeployTokenEntity
        {
            ProjectId = projectId,
            Name = name.Trim(),
            Username = defaultName ? "pending-" + Guid.NewGuid().ToString("N") : username!,
            Scopes = string.Join(' ', scopeList),
            TokenHash = SecretTokens.Hash(secret),
            ExpiresAt = expiresAt,
            CreatedAt = Now,
        };
        try
        {
            db.DeployTokens.Add(token);
            await db.SaveChangesAsync(cancellationToken);
            if (defaultName)
            {
                token.Username = $"berth+deploy-token-{token.Id}";
                await db.SaveChangesAsync(cancellationToken);
            }
        }
        catch (DbUpdateException)
        {
            throw new AccountException(AccountErrorKind.Conflict, "username has already been taken", "username");
        }
        finally
        {
            db.ChangeTracker.Clear();
        }
        AccountAudit.TokenCreated(Audit, $"project {projectId}", $"deploy token {token.Id} '{token.Name}' ({token.Username}) with scopes {string.Join(' ', scopeList)}");
        return new CreatedToken<DeployTokenEntity>(token, secret);
    }

    /// <summary>A project's deploy tokens, oldest first.</summary>
    public async Task<IReadOnlyList<DeployTokenEntity>> ListDeployTokensAsync(long projectId, CancellationToken cancellationToken) =>
        await db.DeployTokens.Where(t => t.ProjectId == projectId).OrderBy(t => t.Id).ToListAsync(cancellationToken);

    /// <summary>One deploy token of a project.</summary>
    /// <exception cref="AccountException">Not found (or of another project).</exception>
    public async Task<DeployTokenEntity> GetDeployTokenAsync(long projectId, long id, CancellationToken cancellationToken) =>
        await db.DeployTokens.FirstOrDefaultAsync(t => t.Id == id && t.ProjectId == projectId, cancellationToken) ?? throw AccountException.NotFound("Deploy Token");

    /// <summary>Revokes a project's deploy token (it is refused from now on).</summary>
    /// <exception cref="AccountException">Not found (or of another project).</exception>
    public async Task RevokeDeployTokenAsync(long projectId, long id, CancellationToken cancellationToken)
    {
        int n = await db.DeployTokens.Where(t => t.Id == id && t.ProjectId == projectId).ExecuteUpdateAsync(s => s.SetProperty(t => t.Revoked, true), cancellationToken);
        if (n == 0) throw AccountException.NotFound("Deploy Token");
        AccountAudit.TokenRevoked(Audit, $"project {projectId}", $"deploy token {id}");
    }

    private ILogger Audit => loggers.CreateLogger(AccountAudit.Category);

    private static List<string> CheckScopes(IEnumerable<string>? scopes, string[] allowed)
    {
        var list = (scopes ?? []).SelectMany(s => s.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Distinct(StringComparer.Ordinal).ToList();
        if (list.Count == 0) throw AccountException.Invalid("scopes", $"scopes is missing (allowed: {string.Join(", ", allowed)})");
        var unknown = list.Where(s => !allowed.Contains(s, StringComparer.Ordinal)).ToList();
        if (unknown.Count > 0)
            throw AccountException.Invalid("scopes", $"scopes does not have a valid value: {string.Join(", ", unknown)} (allowed: {string.Join(", ", allowed)})");
        return list;
    }

    private void CheckExpiry(DateTime? expiresAt)
    {
        if (expiresAt is { } at && at <= Now) throw AccountException.Invalid("expires_at", "expires_at must be in the future");
    }

    private async Task SaveAsync(CancellationToken cancellationToken)
    {
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        finally
        {
            db.ChangeTracker.Clear();
        }
    }
}
