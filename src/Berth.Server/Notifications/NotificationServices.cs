using Berth.Server.Observability;
using Microsoft.Extensions.Options;

namespace Berth.Server.Notifications;

/// <summary>Registers registry event notifications: options (validated at start), the event producer, the
/// status reader and the delivery worker.</summary>
public static class NotificationServices
{
    /// <summary>Adds the services (section <c>Notifications</c>).</summary>
    public static IServiceCollection AddBerthNotifications(this IServiceCollection services)
    {
        services.AddHttpContextAccessor();
        services.AddSingleton<IValidateOptions<NotificationOptions>, NotificationOptionsValidator>();
        services.AddOptions<NotificationOptions>().BindConfiguration("Notifications").ValidateOnStart();
        services.AddScoped<RegistryEvents>();
        services.AddScoped<NotificationStatus>();
        services.AddScoped<Auditor>();
        services.AddHostedService<NotificationWorker>();
        return services;
    }
}
