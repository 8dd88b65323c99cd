using Berth.Server.Auth;

namespace Berth.Server.Observability;

/// <summary>
/// Writes explicit audit entries for the server's own actions (registry deletes, settings switches, project
/// hooks): the actor is the request's principal (token, Basic or sign-in cookie) unless given, the address the
/// request's client address; the request id comes from the request's logging scope. Entries become rows of
/// <c>audit_events</c> through <see cref="AuditLog"/>.
/// </summary>
public sealed class Auditor(ILoggerFactory loggers, IHttpContextAccessor http)
{
    private readonly ILogger _audit = loggers.CreateLogger(AuditLog.Category);

    /// <summary>Records <paramref name="action"/> (snake case, e.g. <c>tag_deleted</c>) on <paramref name="target"/> with a sentence of details (never a secret).</summary>
    public void Record(string action, string? target, string what, string? actor = null)
    {
        var context = http.HttpContext;
        AuditLog.Write(_audit, action, actor ?? ActorOf(context), target ?? "-", context?.Connection.RemoteIpAddress?.ToString(), what);
    }

    /// <summary>The request's actor: the authorizer's principal, else the signed-in web user, else <c>anonymous</c>.</summary>
    internal static string ActorOf(HttpContext? context)
    {
        if (context is null) return "system";
        var principal = BasicCredentials.GetPrincipal(context);
        if (principal.IsAuthenticated) return principal.Name;
        return context.User.Identity?.IsAuthenticated == true ? context.User.Identity.Name ?? "anonymous" : "anonymous";
    }
}
