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
            foreach (var page in new[] { "/Index", "/Error", "/Users/SignIn", "/Users/TwoFactor", "/Users/SignUp", "/Groups/Show",
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
        return services;
    }

    /// <summary>Error pages (404, 403, …) for the UI's own paths only; API answers keep their bodies.</summary>
    public static WebApplication UseBerthWebErrorPages(this WebApplication app)
    {
        app.UseWhen(
            context => !ApiPrefixes.Any(p => context.Request.Path.StartsWithSegments(p, StringComparison.OrdinalIgnoreCase)),
            branch => branch.UseStatusCodePagesWithReExecute("/-/error/{0}"));
        return app;
    }

    /// <summary>Maps the pages and the assets.</summary>
    public static IEndpointRouteBuilder MapBerthWeb(this IEndpointRouteBuilder app)
    {
        app.MapWebAssets();
        app.MapRazorPages();
        return app;
    }
}
