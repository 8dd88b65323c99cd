namespace Berth.Metadata;

/// <summary>
/// A CI runner credential: what a CI integration authenticates with to ask for job tokens. Project runners
/// (<see cref="ProjectId"/> set) get jobs of their project only; instance runners (created by an admin) of any
/// project. Only the SHA-256 of its secret (<c>brnr-…</c>) is stored.
/// </summary>
public sealed class RunnerEntity
{
    /// <summary>Surrogate key.</summary>
    public long Id { get; set; }
    /// <summary>The project it serves; null for an instance-wide runner.</summary>
    public long? ProjectId { get; set; }
    /// <summary>A description for people.</summary>
    public required string Description { get; set; }
    /// <summary>SHA-256 of the secret (hex), unique.</summary>
    public required string TokenHash { get; set; }
    /// <summary>Paused runners are refused.</summary>
    public bool Active { get; set; } = true;
    /// <summary>The user who created it.</summary>
    public long? CreatorId { get; set; }
    /// <summary>When it was created (UTC).</summary>
    public DateTime CreatedAt { get; set; }
    /// <summary>When it last asked for a job token (UTC).</summary>
    public DateTime? ContactedAt { get; set; }
}

/// <summary>
/// A CI job and its job token (<c>bjob-…</c>, stored as SHA-256). The token acts for <see cref="UserId"/> (the
/// user who started the job) within <see cref="ProjectId"/>, or, for a job whose token came from a trusted OIDC
/// identity (<see cref="TrustId"/> set, no user), with push/pull on its project. It stops working at
/// <see cref="ExpiresAt"/> or once <see cref="FinishedAt"/> is set.
/// </summary>
public sealed class CiJobEntity
{
    /// <summary>Surrogate key (the job id).</summary>
    public long Id { get; set; }
    /// <summary>The job's project.</summary>
    public long ProjectId { get; set; }
    /// <summary>The user who started the job; null for jobs of a trusted OIDC identity.</summary>
    public long? UserId { get; set; }
    /// <summary>A second user whose rights also cap the token: the creator of the project runner that asked for
    /// it (a runner never acts with more than its creator has). Null for instance runners and OIDC jobs.</summary>
    public long? CapUserId { get; set; }
    /// <summary>The runner that asked for the token; null for OIDC exchanges.</summary>
    public long? RunnerId { get; set; }
    /// <summary>The trusted identity the token was exchanged against; null for runner jobs.</summary>
    public long? TrustId { get; set; }
    /// <summary>The job's name (optional, for logs).</summary>
    public string? Name { get; set; }
    /// <summary>Who the job is, for logs: the OIDC <c>sub</c> claim, or the CI's job URL.</summary>
    public string? Subject { get; set; }
    /// <summary>SHA-256 of the job token (hex), unique.</summary>
    public required string TokenHash { get; set; }
    /// <summary>When it was created (UTC).</summary>
    public DateTime CreatedAt { get; set; }
    /// <summary>When the token stops working (UTC): creation plus at most the maximum lifetime.</summary>
    public DateTime ExpiresAt { get; set; }
    /// <summary>When the job was finished (UTC); the token is refused from then on.</summary>
    public DateTime? FinishedAt { get; set; }
}

/// <summary>
/// One entry of a project's job-token allowlist (GitLab's inbound job token scope): job tokens of
/// <see cref="SourceProjectId"/> may pull from <see cref="ProjectId"/> (within their user's rights).
/// </summary>
public sealed class JobTokenAllowlistEntity
{
    /// <summary>The project that allows access (its Maintainers manage the list).</summary>
    public long ProjectId { get; set; }
    /// <summary>The project whose job tokens are allowed in.</summary>
    public long SourceProjectId { get; set; }
    /// <summary>When it was added (UTC).</summary>
    public DateTime CreatedAt { get; set; }
}

/// <summary>
/// A trusted CI identity of a project: an OIDC issuer (its keys as an inline JWKS, a JWKS URL, or discovered
/// from the issuer), the audience its ID tokens must carry, and claim rules. A matching ID token is exchanged
/// for a short-lived job token with push/pull on the project. No secret is stored.
/// </summary>
public sealed class TrustedIdentityEntity
{
    /// <summary>Surrogate key.</summary>
    public long Id { get; set; }
    /// <summary>The project.</summary>
    public long ProjectId { get; set; }
    /// <summary>A description for people.</summary>
    public string? Description { get; set; }
    /// <summary>The exact <c>iss</c> the ID tokens carry.</summary>
    public required string Issuer { get; set; }
    /// <summary>The <c>aud</c> the ID tokens must carry.</summary>
    public required string Audience { get; set; }
    /// <summary>URL of the issuer's JWKS; null when <see cref="JwksJson"/> is set or the issuer is discovered.</summary>
    public string? JwksUrl { get; set; }
    /// <summary>An inline JWKS document; null when keys are fetched.</summary>
    public string? JwksJson { get; set; }
    /// <summary>The claim rules as a JSON array of <c>{"claim","operator","value"}</c>; all must match.</summary>
    public required string RulesJson { get; set; }
    /// <summary>The user who registered it.</summary>
    public long? CreatorId { get; set; }
    /// <summary>When it was registered (UTC).</summary>
    public DateTime CreatedAt { get; set; }
}
