using Berth.Server.Notifications;

namespace Berth.Server.Web.Pages.Admin;

/// <summary><c>/admin/notifications</c>: every notification endpoint (configured and project hooks) with its
/// pending events, last success, last failure and error, from the database (all replicas' view).</summary>
public sealed class AdminNotificationsModel : WebPage
{
    /// <summary>The endpoints.</summary>
    public IReadOnlyList<NotificationEndpointStatus> Endpoints { get; private set; } = [];

    /// <summary>Most events kept per endpoint.</summary>
    public int MaxQueuedEvents { get; private set; }

    /// <summary>GET.</summary>
    public async Task OnGetAsync()
    {
        Endpoints = await Service<NotificationStatus>().ListAsync(Aborted);
        MaxQueuedEvents = Service<Microsoft.Extensions.Options.IOptions<NotificationOptions>>().Value.MaxQueuedEvents;
    }
}
