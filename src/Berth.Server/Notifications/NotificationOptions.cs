using Microsoft.Extensions.Options;

namespace Berth.Server.Notifications;

/// <summary>
/// Registry event notifications (section <c>Notifications</c>), modelled on CNCF Distribution's
/// <c>notifications.endpoints</c>: each endpoint receives push, pull and delete events in the Distribution
/// envelope (<c>application/vnd.docker.distribution.events.v1+json</c>). Events wait in the metadata database
/// (<c>notification_events</c>), so they survive a restart and any replica can deliver them.
/// </summary>
public sealed class NotificationOptions
{
    /// <summary>The webhook endpoints. Default: none (no events are queued at all).</summary>
    public List<NotificationEndpoint> Endpoints { get; set; } = [];

    /// <summary>Most events kept waiting per endpoint; when more are queued the oldest are dropped (counted in
    /// <c>berth_notifications_dropped_total</c> and in the endpoint's status). Default 10 000.</summary>
    public int MaxQueuedEvents { get; set; } = 10_000;

    /// <summary>Most events sent in one envelope (one POST). Default 50.</summary>
    public int BatchSize { get; set; } = 50;

    /// <summary>How often the delivery worker looks for queued events. Default 1 s.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between two attempts of a failing endpoint (the backoff doubles up to this). Default 5 min.</summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Request timeout of project hooks (<c>/projects/:id/hooks</c>). Default 10 s.</summary>
    public TimeSpan HookTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>First wait after a project hook fails (doubles per failure up to <see cref="MaxBackoff"/>). Default 1 s.</summary>
    public TimeSpan HookBackoff { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>One webhook endpoint (<c>Notifications:Endpoints:N</c>), named like Distribution's endpoint fields.</summary>
public sealed class NotificationEndpoint
{
    /// <summary>Unique name, shown in the status page and used as the metric label (required).</summary>
    public string Name { get; set; } = "";

    /// <summary>Where envelopes are POSTed: an absolute http:// or https:// URL (required).</summary>
    public string Url { get; set; } = "";

    /// <summary>Configured but not sent to (no events are queued for it). Default false.</summary>
    public bool Disabled { get; set; }

    /// <summary>Extra request headers, e.g. <c>Authorization: Bearer …</c>. Never logged.</summary>
    public Dictionary<string, string> Headers { get; set; } = [];

    /// <summary>Time allowed for one POST. Default 5 s.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>First wait after a failed POST; doubles per consecutive failure up to <c>Notifications:MaxBackoff</c>. Default 1 s.</summary>
    public TimeSpan Backoff { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Target media types not sent (Distribution's <c>ignoredmediatypes</c>), e.g. <c>application/octet-stream</c> for blob events.</summary>
    public List<string> IgnoredMediaTypes { get; set; } = [];

    /// <summary>Events not sent (Distribution's <c>ignore</c>).</summary>
    public NotificationIgnore Ignore { get; set; } = new();

    /// <summary>True when an event of this action and target media type goes to this endpoint.</summary>
    public bool Wants(string action, string? mediaType) =>
        !Disabled
        && !Ignore.Actions.Contains(action, StringComparer.OrdinalIgnoreCase)
        && (mediaType is null || (!IgnoredMediaTypes.Contains(mediaType, StringComparer.OrdinalIgnoreCase) && !Ignore.MediaTypes.Contains(mediaType, StringComparer.OrdinalIgnoreCase)));
}

/// <summary>Events an endpoint does not want (<c>Notifications:Endpoints:N:Ignore</c>).</summary>
public sealed class NotificationIgnore
{
    /// <summary>Target media types not sent.</summary>
    public List<string> MediaTypes { get; set; } = [];

    /// <summary>Actions not sent: <c>push</c>, <c>pull</c>, <c>mount</c>, <c>delete</c>.</summary>
    public List<string> Actions { get; set; } = [];
}

/// <summary>Refuses a notifications section that cannot work, naming the key and the allowed values.</summary>
internal sealed class NotificationOptionsValidator : IValidateOptions<NotificationOptions>
{
    internal static readonly string[] Actions = ["push", "pull", "mount", "delete"];

    public ValidateOptionsResult Validate(string? name, NotificationOptions options)
    {
        var errors = new List<string>();
        if (options.MaxQueuedEvents < 1) errors.Add($"Notifications:MaxQueuedEvents must be at least 1, not {options.MaxQueuedEvents}");
        if (options.BatchSize is < 1 or > 1000) errors.Add($"Notifications:BatchSize must be between 1 and 1000, not {options.BatchSize}");
        if (options.PollInterval < TimeSpan.FromMilliseconds(50)) errors.Add($"Notifications:PollInterval must be at least 50 ms, not {options.PollInterval}");
        if (options.MaxBackoff < TimeSpan.FromSeconds(1)) errors.Add($"Notifications:MaxBackoff must be at least 1 s, not {options.MaxBackoff}");
        if (options.HookTimeout <= TimeSpan.Zero) errors.Add("Notifications:HookTimeout must be positive");
        if (options.HookBackoff <= TimeSpan.Zero) errors.Add("Notifications:HookBackoff must be positive");
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < options.Endpoints.Count; i++)
        {
            var e = options.Endpoints[i];
            var key = $"Notifications:Endpoints:{i}";
            if (string.IsNullOrWhiteSpace(e.Name)) errors.Add($"{key}:Name is required");
            else if (e.Name.Length > 100 || e.Name.StartsWith(NotificationNames.ProjectHookPrefix, StringComparison.Ordinal))
                errors.Add($"{key}:Name '{e.Name}' must be at most 100 characters and not start with '{NotificationNames.ProjectHookPrefix}'");
            else if (!names.Add(e.Name)) errors.Add($"{key}:Name '{e.Name}' is used by two endpoints");
            if (!Uri.TryCreate(e.Url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                errors.Add($"{key}:Url must be an absolute http:// or https:// URL, not '{e.Url}'");
            if (e.Timeout <= TimeSpan.Zero) errors.Add($"{key}:Timeout must be positive, not {e.Timeout}");
            if (e.Backoff <= TimeSpan.Zero) errors.Add($"{key}:Backoff must be positive, not {e.Backoff}");
            foreach (var action in e.Ignore.Actions.Where(a => !Actions.Contains(a, StringComparer.OrdinalIgnoreCase)))
                errors.Add($"{key}:Ignore:Actions has '{action}'; allowed: {string.Join(", ", Actions)}");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>Names of notification endpoints.</summary>
public static class NotificationNames
{
    /// <summary>Prefix of a project hook's endpoint name: <c>project-hook:&lt;id&gt;</c>.</summary>
    public const string ProjectHookPrefix = "project-hook:";

    /// <summary>The endpoint name of project hook <paramref name="id"/>.</summary>
    public static string ProjectHook(long id) => ProjectHookPrefix + id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The hook id of a project hook endpoint name, or null for a configured endpoint.</summary>
    public static long? ProjectHookId(string endpoint) =>
        endpoint.StartsWith(ProjectHookPrefix, StringComparison.Ordinal) && long.TryParse(endpoint.AsSpan(ProjectHookPrefix.Length), System.Globalization.CultureInfo.InvariantCulture, out var id) ? id : null;
}
