using Microsoft.Extensions.Logging;

namespace Berth.Auth.Accounts;

/// <summary>
/// The audit log of accounts and their settings: one structured entry per change, category
/// <see cref="Category"/> (the server turns each into a row of <c>audit_events</c>; its action is the event name in
/// snake case, e.g. <c>token_created</c>). The actor is the request's caller unless <c>Actor</c> is given; the
/// target names the thing changed. Event ids 4300–4349. Secrets are never logged.
/// </summary>
public static partial class AccountAudit
{
    /// <summary>The logger category of audit entries.</summary>
    public const string Category = "Berth.Audit";

    /// <summary>A successful sign-in (<c>sign_in</c>); <paramref name="target"/> says where (<c>web</c>, <c>oauth</c>).</summary>
    [LoggerMessage(EventId = 4300, EventName = "SignIn", Level = LogLevel.Information, Message = "Sign-in of {Actor} at {Target} succeeded")]
    public static partial void SignIn(ILogger logger, string actor, string target);

    /// <summary>A refused sign-in (<c>sign_in_failed</c>) with the reason (never the password).</summary>
    [LoggerMessage(EventId = 4301, EventName = "SignInFailed", Level = LogLevel.Warning, Message = "Sign-in of {Actor} at {Target} failed: {What}")]
    public static partial void SignInFailed(ILogger logger, string actor, string target, string what);

    /// <summary>A sign-out (<c>sign_out</c>).</summary>
    [LoggerMessage(EventId = 4302, EventName = "SignOut", Level = LogLevel.Information, Message = "Sign-out of {Actor} at {Target}")]
    public static partial void SignOut(ILogger logger, string actor, string target);

    /// <summary>A personal access or deploy token was created (<c>token_created</c>).</summary>
    [LoggerMessage(EventId = 4310, EventName = "TokenCreated", Level = LogLevel.Information, Message = "Token created for {Target}: {What}")]
    public static partial void TokenCreated(ILogger logger, string target, string what);

    /// <summary>A personal access or deploy token was revoked (<c>token_revoked</c>).</summary>
    [LoggerMessage(EventId = 4311, EventName = "TokenRevoked", Level = LogLevel.Information, Message = "Token revoked for {Target}: {What}")]
    public static partial void TokenRevoked(ILogger logger, string target, string what);

    /// <summary>Two-factor authentication was turned on (<c>two_factor_enabled</c>).</summary>
    [LoggerMessage(EventId = 4320, EventName = "TwoFactorEnabled", Level = LogLevel.Information, Message = "Two-factor authentication enabled for {Target}")]
    public static partial void TwoFactorEnabled(ILogger logger, string target);

    /// <summary>Two-factor authentication was turned off (<c>two_factor_disabled</c>).</summary>
    [LoggerMessage(EventId = 4321, EventName = "TwoFactorDisabled", Level = LogLevel.Information, Message = "Two-factor authentication disabled for {Target}")]
    public static partial void TwoFactorDisabled(ILogger logger, string target);

    /// <summary>A group or project membership was added, changed or removed (<c>membership_changed</c>).</summary>
    [LoggerMessage(EventId = 4330, EventName = "MembershipChanged", Level = LogLevel.Information, Message = "Membership of {Target} changed: {What}")]
    public static partial void MembershipChanged(ILogger logger, string target, string what);

    /// <summary>A user's permissions changed: administrator flag, blocked state (<c>permission_changed</c>).</summary>
    [LoggerMessage(EventId = 4331, EventName = "PermissionChanged", Level = LogLevel.Information, Message = "Permissions of {Target} changed: {What}")]
    public static partial void PermissionChanged(ILogger logger, string target, string what);

    /// <summary>A project's settings changed: registry switch, visibility, name (<c>project_settings_changed</c>).</summary>
    [LoggerMessage(EventId = 4340, EventName = "ProjectSettingsChanged", Level = LogLevel.Information, Message = "Settings of project {Target} changed: {What}")]
    public static partial void ProjectSettingsChanged(ILogger logger, string target, string what);

    /// <summary>A project was deleted with its repositories (<c>project_deleted</c>).</summary>
    [LoggerMessage(EventId = 4341, EventName = "ProjectDeleted", Level = LogLevel.Information, Message = "Project {Target} deleted: {What}")]
    public static partial void ProjectDeleted(ILogger logger, string target, string what);
}
