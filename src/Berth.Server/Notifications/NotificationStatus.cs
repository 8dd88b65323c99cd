using Berth.Metadata;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Berth.Server.Notifications;

/// <summary>The delivery status of one notification endpoint, for the admin page and API. Times are UTC.</summary>
/// <param name="Name">The endpoint's name (<c>project-hook:&lt;id&gt;</c> for project hooks).</param>
/// <param name="Kind"><c>config</c> (from <c>Notifications:Endpoints</c>) or <c>project_hook</c>.</param>
/// <param name="Url">Where it is sent (without query string).</param>
/// <param name="Disabled">Configured but off.</param>
/// <param name="Pending">Events waiting.</param>
/// <param name="LastSuccessAt">Last accepted delivery.</param>
/// <param name="LastFailureAt">Last failed delivery.</param>
/// <param name="LastError">What the last failure was.</param>
/// <param name="ConsecutiveFailures">Failures since the last success.</param>
/// <param name="NextAttemptAt">When the next attempt may happen (after a failure).</param>
/// <param name="Delivered">Events delivered in total.</param>
/// <param name="Failures">Failed attempts in total.</param>
/// <param name="Dropped">Events dropped because the queue was full, in total.</param>
public sealed record NotificationEndpointStatus(string Name, string Kind, string Url, bool Disabled, long Pending, DateTime? LastSuccessAt, DateTime? LastFailureAt,
    string? LastError, int ConsecutiveFailures, DateTime? NextAttemptAt, long Delivered, long Failures, long Dropped);

/// <summary>Reads the status of every configured endpoint and project hook from the database (all replicas' view).</summary>
public sealed class NotificationStatus(BerthDbContext db, IOptions<NotificationOptions> options)
{
    /// <summary>Configured endpoints first (in configuration order), then project hooks by id.</summary>
    public async Task<IReadOnlyList<NotificationEndpointStatus>> ListAsync(CancellationToken cancellationToken)
    {
        var rows = await db.NotificationEndpoints.ToDictionaryAsync(e => e.Name, cancellationToken);
        var pending = await db.NotificationEvents.GroupBy(e => e.Endpoint).Select(g => new { g.Key, Count = g.LongCount() })
            .ToDictionaryAsync(x => x.Key, x => x.Count, cancellationToken);
        var hooks = await db.ProjectHooks.OrderBy(h => h.Id).Select(h => new { h.Id, h.Url }).ToListAsync(cancellationToken);
        var result = new List<NotificationEndpointStatus>();
        foreach (var e in options.Value.Endpoints) result.Add(Make(e.Name, "config", e.Url, e.Disabled));
        foreach (var h in hooks) result.Add(Make(NotificationNames.ProjectHook(h.Id), "project_hook", h.Url, false));
        return result;

        NotificationEndpointStatus Make(string name, string kind, string url, bool disabled)
        {
            rows.TryGetValue(name, out var r);
            return new NotificationEndpointStatus(name, kind, WithoutQuery(url), disabled, pending.GetValueOrDefault(name),
                Utc(r?.LastSuccessAt), Utc(r?.LastFailureAt), r?.LastError, r?.ConsecutiveFailures ?? 0, Utc(r?.NextAttemptAt),
                r?.Delivered ?? 0, r?.Failures ?? 0, r?.Dropped ?? 0);
        }
    }

    private static DateTime? Utc(DateTime? t) => t is { } v ? DateTime.SpecifyKind(v, DateTimeKind.Utc) : null;

    /// <summary>The URL without its query string (which may carry a secret).</summary>
    internal static string WithoutQuery(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.GetLeftPart(UriPartial.Path) : url;
}
