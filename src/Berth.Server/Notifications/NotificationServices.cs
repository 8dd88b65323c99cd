using Berth.Server.Observability;
using Microsoft.Extensions.Options;

namespace Berth.Server.Notifications;

/// <summary>Registers registry event notifications: options (validated at start), the event producer and the
/// status reader; the server adds the delivery worker with <see cref="AddBerthNotificationDelivery"/>.</summary>
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
        return services;
    }

    /// <summary>Adds the delivery worker (the server only: the admin verbs queue events but do not deliver them).</summary>
    public static IServiceCollection AddBerthNotificationDelivery(this IServiceCollection services) =>
        services.AddHostedService<NotificationWorker>();
}
