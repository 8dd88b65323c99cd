using Microsoft.Extensions.Logging;

namespace Berth.Auth.Ci;

/// <summary>
/// The audit log of CI credentials: one structured line per event, category <see cref="Category"/>, with a
/// stable event id and name (job token issued 4100, used 4101, refused 4102, finished 4103; runner created
/// 4110, deleted 4111; trusted identity registered 4120, deleted 4121, exchange refused 4122; allowlist
/// changed 4130). Secrets are never logged.
/// </summary>
internal static partial class CiAudit
{
    /// <summary>The logger category of audit lines.</summary>
    public const string Category = "Berth.Audit";

    [LoggerMessage(EventId = 4100, EventName = "JobTokenIssued", Level = LogLevel.Information,
        Message = "CI job token issued: job {JobId} of project {Project} acting for {User}, issued to {IssuedTo}, expires at {ExpiresAt:u}")]
    public static partial void JobTokenIssued(ILogger logger, long jobId, string project, string user, string issuedTo, DateTime expiresAt);

    [LoggerMessage(EventId = 4101, EventName = "JobTokenUsed", Level = LogLevel.Information,
        Message = "CI job token used: job {JobId} of project {ProjectId} acting for user {UserId} from {Address}")]
    public static partial void JobTokenUsed(ILogger logger, long jobId, long projectId, long? userId, string? address);

    [LoggerMessage(EventId = 4102, EventName = "JobTokenRefused", Level = LogLevel.Warning,
        Message = "CI job token refused: job {JobId} from {Address}: {Reason}")]
    public static partial void JobTokenRefused(ILogger logger, long? jobId, string? address, string reason);

    [LoggerMessage(EventId = 4103, EventName = "JobTokenFinished", Level = LogLevel.Information,
        Message = "CI job finished: job {JobId} of project {ProjectId}, finished by {By}; its token is refused from now on")]
    public static partial void JobFinished(ILogger logger, long jobId, long projectId, string by);

    [LoggerMessage(EventId = 4110, EventName = "RunnerCreated", Level = LogLevel.Information,
        Message = "CI runner {RunnerId} created ({Scope}) by user {UserId}")]
    public static partial void RunnerCreated(ILogger logger, long runnerId, string scope, long userId);

    [LoggerMessage(EventId = 4111, EventName = "RunnerDeleted", Level = LogLevel.Information,
        Message = "CI runner {RunnerId} deleted by user {UserId}")]
    public static partial void RunnerDeleted(ILogger logger, long runnerId, long userId);

    [LoggerMessage(EventId = 4120, EventName = "TrustedIdentityCreated", Level = LogLevel.Information,
        Message = "Trusted CI identity {TrustId} registered for project {ProjectId} by user {UserId}: issuer {Issuer}, audience {Audience}, rules {Rules}")]
    public static partial void TrustCreated(ILogger logger, long trustId, long projectId, long userId, string issuer, string audience, string rules);

    [LoggerMessage(EventId = 4121, EventName = "TrustedIdentityDeleted", Level = LogLevel.Information,
        Message = "Trusted CI identity {TrustId} of project {ProjectId} deleted by user {UserId}")]
    public static partial void TrustDeleted(ILogger logger, long trustId, long projectId, long userId);

    [LoggerMessage(EventId = 4122, EventName = "OidcExchangeRefused", Level = LogLevel.Warning,
        Message = "OIDC token exchange refused for project {Project} (issuer {Issuer}, subject {Subject}): {Reason}")]
    public static partial void ExchangeRefused(ILogger logger, string project, string? issuer, string? subject, string reason);

    [LoggerMessage(EventId = 4130, EventName = "JobTokenAllowlistChanged", Level = LogLevel.Information,
        Message = "Job token allowlist of project {ProjectId}: project {SourceProjectId} {Change} by user {UserId}")]
    public static partial void AllowlistChanged(ILogger logger, long projectId, long sourceProjectId, string change, long userId);
}
