using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;

namespace Berth.Server.Web;

/// <summary>
/// The web UI: server-rendered Razor Pages under <c>Web/Pages</c> (sign-in with 2FA, dashboard, groups,
/// projects, the Registry pages, account and admin areas), its stylesheet and script, cookie sign-in,
/// anti-forgery on every form and data-protection keys kept in the database. The registry API (<c>/v2</c>),
/// the token service and <c>/api/v4</c> are untouched: none of them reads the UI's cookie.
/// </summary>
public static class WebUi
{
    private static readonly string[] ApiPrefixes = ["/v2", "/api", "/jwt", "/oauth", "/-/assets"];

    /// <summary>Registers pages, cookie authentication, anti-forgery, data protection and the UI's services.</summary>
    public static IServiceCollection AddBerthWeb(this IServiceCollection services)
    {
        services.AddRazorPages(options =>
        {
            options.RootDirectory = "/Web/Pages";
            options.Conventions.AuthorizeFolder("/", WebAuth.SignedInPolicy);
            options.Conventions.AuthorizeFolder("/Admin", WebAuth.AdminPolicy);
            foreach (var page in new[] { "/Index", "/Users/SignIn", "/Users/TwoFactor", "/Users/SignUp", "/Groups/Show",
                                         "/Projects/Show", "/Projects/Registry", "/Projects/Repository" })
                options.Conventions.AllowAnonymousToPage(page);
        });
        services.AddAntiforgery(options =>
        {
            options.Cookie.Name = "berth_csrf";
            options.Cookie.HttpOnly = true;
            options.Cookie.SameSite = SameSiteMode.Strict;
            options.Cookie.SecurePolicy = Microsoft.AspNetCore.Http.CookieSecurePolicy.SameAsRequest;
            options.HeaderName = null;
        });
        services.AddDataProtection().SetApplicationName("Berth");
        services.AddOptions<KeyManagementOptions>().Configure<IServiceScopeFactory>((options, scopes) => options.XmlRepository = new DatabaseXmlRepository(scopes));
        WebAuth.AddWebAuthentication(services);
        services.AddScoped<InstanceSettings>();
        services.AddScoped<RegistryBrowser>();
        services.AddScoped<WebAccess>();
        RemoveEagerKeyRingLoad(services); // last: cookie authentication and anti-forgery add data protection again
        return services;
    }

    /// <summary>The framework's hosted service that loads (and on a fresh database creates) the data-protection key ring
    /// before the server listens. Berth loads it on first use instead (the first web page, sign-in or project hook
    /// delivery): the registry API and the token service never use it, and reading and parsing the key XML from the
    /// database was a large part of the time between "Berth ready" and the first <c>/v2/</c> answer.</summary>
    internal const string EagerKeyRingServiceName = "Microsoft.AspNetCore.DataProtection.Internal.DataProtectionHostedService";

    private static void RemoveEagerKeyRingLoad(IServiceCollection services)
    {
        foreach (var descriptor in services.Where(d => d.ServiceType == typeof(IHostedService) && !d.IsKeyedService
                     && d.ImplementationType?.FullName == EagerKeyRingServiceName).ToList())
            services.Remove(descriptor);
    }

    /// <summary>Error pages (404, 403, …) for the UI's own paths only; API answers keep their bodies.</summary>
    public static WebApplication UseBerthWebErrorPages(this WebApplication app)
    {
        app.UseWhen(
            context => !ApiPrefixes.Any(p => context.Request.Path.StartsWithSegments(p, StringComparison.OrdinalIgnoreCase)),
            branch => branch.UseStatusCodePages(context => WriteErrorPageAsync(context.HttpContext)));
        return app;
    }

    /// <summary>Writes the error page of a 4xx/5xx answer that has no body yet.</summary>
    private static async Task WriteErrorPageAsync(HttpContext context)
    {
        int code = context.Response.StatusCode;
        var (heading, explanation) = code switch
        {
            400 => ("Bad request", "The form was incomplete or has expired. Go back, reload the page and try again."),
            403 => ("Forbidden", "You do not have the role needed for this. Ask a Maintainer of the project or an administrator."),
            404 => ("Not found", "There is nothing here, or you are not allowed to see it. If it is a private project, sign in first."),
            405 => ("Method not allowed", "This address does not take that kind of request."),
            _ => ("Something went wrong", "The server could not answer this request. Try again; if it keeps happening, tell an administrator."),
        };
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers["Content-Security-Policy"] = "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";
        context.Response.Headers["X-Content-Type-Options"] = "nosniff";
        var css = WebPaths.Asset("berth.css");
        await context.Response.WriteAsync($$"""
            <!DOCTYPE html>
            <html lang="en">
            <head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{{heading}} · Berth</title><link rel="stylesheet" href="{{css}}"></head>
            <body>
            <header class="topbar"><a class="brand" href="/">{{Icons.Anchor}}<span>Berth</span></a></header>
            <main id="main"><section class="hero">
            <h1>{{code}} · {{heading}}</h1>
            <p>{{explanation}}</p>
            <div class="actions"><a class="btn btn-primary" href="/">Go to your projects</a> <a class="btn" href="/users/sign_in">Sign in</a></div>
            </section></main>
            </body>
            </html>
            """, context.RequestAborted);
    }

    /// <summary>Maps the pages and the assets.</summary>
    public static IEndpointRouteBuilder MapBerthWeb(this IEndpointRouteBuilder app)
    {
        app.MapWebAssets();
        app.MapRazorPages();
        return app;
    }
}
