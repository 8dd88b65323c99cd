namespace Berth.Auth.Accounts;

/// <summary>What went wrong in an account, namespace, project, membership or token operation.</summary>
public enum AccountErrorKind
{
    /// <summary>A value is missing or malformed (HTTP 400).</summary>
    Invalid,
    /// <summary>The user, group, project, member or token does not exist (HTTP 404).</summary>
    NotFound,
    /// <summary>The name, path or membership is already taken, or the operation conflicts with the current state (HTTP 409).</summary>
    Conflict,
    /// <summary>The operation is not allowed (HTTP 403).</summary>
    Forbidden,
}

/// <summary>
/// A refused account operation. <see cref="Exception.Message"/> is safe to show to the caller (it says what
/// was wrong and, where it helps, what is allowed); <see cref="Field"/> names the offending input, GitLab style
/// (<c>username</c>, <c>path</c>, <c>scopes</c>…), when there is one.
/// </summary>
public sealed class AccountException(AccountErrorKind kind, string message, string? field = null) : Exception(message)
{
    /// <summary>The kind of error (maps onto an HTTP status).</summary>
    public AccountErrorKind Kind { get; } = kind;

    /// <summary>The input field at fault, or null.</summary>
    public string? Field { get; } = field;

    /// <summary>The object was not found: <paramref name="what"/> is e.g. <c>User</c>, <c>Project</c>, <c>Group</c>.</summary>
    public static AccountException NotFound(string what) => new(AccountErrorKind.NotFound, $"{what} Not Found");

    /// <summary>A malformed value of <paramref name="field"/>.</summary>
    public static AccountException Invalid(string field, string message) => new(AccountErrorKind.Invalid, message, field);
}
