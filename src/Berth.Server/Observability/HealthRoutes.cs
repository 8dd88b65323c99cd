using Berth.Auth.Tokens;
using Berth.Server.Hosting;

namespace Berth.Server.Observability;

/// <summary>
/// The operator-facing health endpoints, beside <see cref="HealthEndpoints"/>' <c>/-/health/live</c> and
/// <c>/-/health/ready</c>: <c>GET /-/liveness</c> (200 while the process answers), <c>GET /-/readiness</c> (200 when
/// the database, storage and signing-key checks pass, 503 naming the failing check otherwise) and
/// <c>GET /-/health</c> (the same checks as a summary with the version and uptime, always 200, for the admin page
/// and dashboards). JSON always.
/// </summary>
public static class HealthRoutes
{
    // When the process started (not when this class was first used, which is the first health request).
    private static readonly DateTimeOffset Started = new(System.Diagnostics.Process.GetCurrentProcess().StartTime.ToUniversalTime());

    /// <summary>Maps the three endpoints.</summary>
    public static IEndpointRouteBuilder MapBerthHealthRoutes(this IEndpointRouteBuilder app)
    {
        app.MapGet("/-/liveness", () => Results.Json(new { status = "alive" })).ExcludeFromDescription();
        app.MapGet("/-/readiness", async (HttpContext context, CancellationToken cancellationToken) =>
        {
            var (ready, checks, checkedAt) = await RunAsync(context.RequestServices, cancellationToken);
            return Results.Json(new { status = ready ? "ready" : "not ready", checkedAt, checks, requestId = context.TraceIdentifier },
                statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        }).ExcludeFromDescription();
        app.MapGet("/-/health", async (HttpContext context, CancellationToken cancellationToken) =>
        {
            var (ready, checks, checkedAt) = await RunAsync(context.RequestServices, cancellationToken);
            return Results.Json(new
            {
                status = ready ? "healthy" : "unhealthy",
                version = BerthVersion.Current,
                startedAt = Started,
                uptimeSeconds = (long)(DateTimeOffset.UtcNow - Started).TotalSeconds,
                checkedAt,
                checks,
            });
        }).ExcludeFromDescription();
        return app;
    }

    private static async Task<(bool Ready, List<object> Checks, DateTimeOffset CheckedAt)> RunAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var report = await services.GetRequiredService<ReadinessCheck>().GetAsync(cancellationToken);
        var checks = report.Checks.Select(c => (object)new { name = c.Name, ok = c.Ok, detail = c.Detail, failures = c.Failures }).ToList();
        var key = await CheckSigningKeyAsync(services, cancellationToken);
        checks.Add(new { name = key.Name, ok = key.Ok, detail = key.Detail, failures = key.Failures });
        return (report.Ready && key.Ok, checks, report.CheckedAt);
    }

    private static async Task<HealthCheckEntry> CheckSigningKeyAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        try
        {
            var key = await services.GetRequiredService<SigningKeyStore>().GetActiveKeyAsync(cancellationToken);
            return new HealthCheckEntry("signing key", true, "active key " + key.Id);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new HealthCheckEntry("signing key", false, "the token signing key cannot be loaded: " + ex.Message);
        }
    }
}
