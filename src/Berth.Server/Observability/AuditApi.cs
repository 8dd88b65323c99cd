using Berth.Metadata;
using Berth.Server.ApiV4;
using Microsoft.EntityFrameworkCore;

namespace Berth.Server.Observability;

/// <summary>
/// <c>GET /api/v4/audit_events</c> (instance admins): the audit log, newest first, paginated like the rest of
/// <c>/api/v4</c> (<c>page</c>, <c>per_page</c>, <c>X-Total</c>, <c>Link</c>), filtered by <c>action</c>, <c>actor</c>,
/// <c>created_after</c> and <c>created_before</c> (ISO 8601). Errors in GitLab's JSON shapes.
/// </summary>
public static class AuditApi
{
    /// <summary>The JSON of one audit event.</summary>
    public sealed record AuditEventJson(long Id, string Action, string Author, string? Target, string Details, string? IpAddress, string? RequestId, DateTime CreatedAt);

    /// <summary>Maps the endpoint.</summary>
    public static IEndpointRouteBuilder MapAuditApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v4/audit_events", ListAsync).ExcludeFromDescription();
        return app;
    }

    private static async Task<IResult> ListAsync(HttpContext context, BerthDbContext db)
    {
        try
        {
            var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Read);
            if (!caller.IsAdmin) throw ApiException.Forbidden("the audit log is for instance administrators");
            var query = context.Request.Query;
            IQueryable<AuditEventEntity> events = db.AuditEvents;
            if (query["action"].ToString() is { Length: > 0 } action) events = events.Where(e => e.Action == action);
            if (query["actor"].ToString() is { Length: > 0 } actor) events = events.Where(e => e.Actor == actor);
            if (ReadTime(query["created_after"]) is { } after) events = events.Where(e => e.CreatedAt >= after);
            if (ReadTime(query["created_before"]) is { } before) events = events.Where(e => e.CreatedAt <= before);
            var page = await Pagination.PageAsync(context, events.OrderByDescending(e => e.Id), context.RequestAborted);
            return Results.Json(page.Select(e => new AuditEventJson(e.Id, e.Action, e.Actor, e.Target, e.Details, e.Address, e.RequestId, DateTime.SpecifyKind(e.CreatedAt, DateTimeKind.Utc))),
                Representer.Json, "application/json");
        }
        catch (ApiException ex)
        {
            return ApiException.Result(context, ex.Body, ex.Status);
        }
    }

    private static DateTime? ReadTime(string? text)
    {
        if (string.IsNullOrEmpty(text)) return null;
        if (!DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var t))
            throw ApiException.BadRequest($"'{text}' is not an ISO 8601 time");
        return t.UtcDateTime;
    }
}
