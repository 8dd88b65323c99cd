using Berth.Auth;
using Berth.Auth.Accounts;
using Berth.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Filters;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Berth.Server.Web;

/// <summary>
/// Base of every web UI page: the signed-in user, the caller as an access-policy <see cref="Principal"/>,
/// flash messages, and security headers (a strict Content-Security-Policy: only Berth's own stylesheet and
/// script, no inline code; no framing).
/// </summary>
public abstract class WebPage : PageModel
{
    /// <summary>The key of the one-shot message shown after a redirect.</summary>
    public const string FlashKey = "flash";

    /// <summary>The signed-in user, or null.</summary>
    public UserEntity? Me => WebAuth.CurrentUser(HttpContext);

    /// <summary>The caller for the access policy.</summary>
    public Principal Caller => WebAuth.CurrentPrincipal(HttpContext);

    /// <summary>The request's cancellation token.</summary>
    protected CancellationToken Aborted => HttpContext.RequestAborted;

    /// <summary>A request service.</summary>
    protected T Service<T>() where T : notnull => HttpContext.RequestServices.GetRequiredService<T>();

    /// <summary>An error to show in the page's form (safe text).</summary>
    public string? Error { get; set; }

    /// <summary>Shows <paramref name="message"/> on the next page.</summary>
    protected void Flash(string message) => TempData[FlashKey] = message;

    /// <inheritdoc/>
    public override void OnPageHandlerExecuting(PageHandlerExecutingContext context)
    {
        var headers = context.HttpContext.Response.Headers;
        headers["Content-Security-Policy"] = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
        headers["X-Content-Type-Options"] = "nosniff";
        headers["X-Frame-Options"] = "DENY";
        headers["Referrer-Policy"] = "same-origin";
        headers.CacheControl = "no-store";
        base.OnPageHandlerExecuting(context);
    }

    /// <summary>A local return URL, or "/" for anything else (open-redirect guard).</summary>
    protected string SafeReturnUrl(string? returnUrl) =>
        !string.IsNullOrEmpty(returnUrl) && Url.IsLocalUrl(returnUrl) && !returnUrl.StartsWith("/users/sign_", StringComparison.Ordinal) ? returnUrl : "/";

    /// <summary>
    /// Loads a project the caller can see, by full path, with the caller's level; null when there is none or
    /// it is hidden from the caller (answer 404 then, never 403, so private paths are not revealed).
    /// </summary>
    protected async Task<ProjectContext?> LoadProjectAsync(string? path)
    {
        if (string.IsNullOrWhiteSpace(path)) return null;
        var project = await Service<ProjectService>().FindProjectAsync(path.Trim('/'), Aborted);
        if (project is null || long.TryParse(path, out _)) return null;
        var policy = Service<AccessPolicy>();
        if (!await policy.CanReadProjectAsync(Caller, project, Aborted)) return null;
        var level = Me is null ? AccessLevel.None : Me.IsAdmin ? AccessLevel.Owner : await policy.GetProjectAccessLevelAsync(Me.Id, project, Aborted);
        var ns = await Service<GroupService>().GetNamespaceAsync(project.NamespaceId, Aborted);
        var lineage = await Service<GroupService>().GetLineageAsync(ns, Aborted);
        var registryOn = await policy.IsRegistryEnabledAsync(Aborted);
        return new ProjectContext(project, ns, lineage, level, registryOn);
    }

    /// <summary>Marks the page as part of a project (the layout shows the project menu).</summary>
    protected void UseProjectMenu(ProjectContext project, string active)
    {
        ViewData["ProjectMenu"] = new ProjectMenu(project, active);
    }

    /// <summary>A 404 answer rendered by the error page.</summary>
    protected IActionResult NotFoundPage() => StatusCode(StatusCodes.Status404NotFound);

    /// <summary>A 403 answer rendered by the error page.</summary>
    protected IActionResult ForbiddenPage() => StatusCode(StatusCodes.Status403Forbidden);
}

/// <summary>A project as a page sees it.</summary>
/// <param name="Project">The project.</param>
/// <param name="Namespace">Its namespace.</param>
/// <param name="Lineage">The namespace and its ancestors, outermost first (breadcrumbs).</param>
/// <param name="Level">The caller's level (Owner for admins, None for anonymous callers).</param>
/// <param name="InstanceRegistryEnabled">The instance-wide registry switch.</param>
public sealed record ProjectContext(ProjectEntity Project, NamespaceEntity Namespace, IReadOnlyList<NamespaceEntity> Lineage, AccessLevel Level, bool InstanceRegistryEnabled)
{
    /// <summary>Maintainer or more: may change settings and members.</summary>
    public bool CanManage => Level >= AccessLevel.Maintainer;

    /// <summary>Whether the project's menu shows Registry: the project's Container Registry is on.</summary>
    public bool ShowsRegistry => Project.RegistryEnabled;
}

/// <summary>What the layout needs to draw a project's menu.</summary>
/// <param name="Context">The project.</param>
/// <param name="Active">The active item: <c>overview</c>, <c>registry</c>, <c>members</c>, <c>settings</c>.</param>
public sealed record ProjectMenu(ProjectContext Context, string Active);
