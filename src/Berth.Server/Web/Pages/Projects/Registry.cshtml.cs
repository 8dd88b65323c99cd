using Berth.Auth;
using Berth.Distribution;
using Microsoft.AspNetCore.Mvc;

namespace Berth.Server.Web.Pages.Projects;

/// <summary>
/// <c>/-/registry/&lt;full path&gt;</c>: a project's Registry page — how to push (an empty state with the exact
/// commands for this host), its image repositories with tag count, deduplicated size and last push, a filter,
/// and deleting a whole repository (Developer+; the server checks again whatever the page showed).
/// Only there while the project's Container Registry is on.
/// </summary>
public sealed class RegistryModel : WebPage
{
    /// <summary>The project.</summary>
    public ProjectContext Context { get; private set; } = null!;
    /// <summary>The repositories shown.</summary>
    public IReadOnlyList<RepositorySummary> Repositories { get; private set; } = [];
    /// <summary>The filter.</summary>
    public string? Query { get; private set; }
    /// <summary>The registry host in commands.</summary>
    public string Host { get; private set; } = "";
    /// <summary>Whether the caller may delete (Developer+).</summary>
    public bool CanDelete { get; private set; }
    /// <summary>True when people reach this instance over plain HTTP.</summary>
    public bool PlainHttp { get; private set; }
    /// <summary>A pending confirmation (no-script browsers).</summary>
    public Confirmation? Confirm { get; private set; }

    /// <summary>GET.</summary>
    public async Task<IActionResult> OnGetAsync(string? path, string? q)
    {
        if (!await LoadAsync(path)) return NotFoundPage();
        Query = q;
        Repositories = await Service<RegistryBrowser>().ListRepositoriesAsync(Context.Project, q, Aborted);
        return Page();
    }

    /// <summary>POST: deletes a whole image repository of this project.</summary>
    public async Task<IActionResult> OnPostDeleteRepositoryAsync(string? path, string? name, string? confirmed)
    {
        if (!await LoadAsync(path)) return NotFoundPage();
        var browser = Service<RegistryBrowser>();
        var repository = name is null ? null : await browser.GetRepositoryAsync(Context.Project, name, Aborted);
        if (repository is null) return NotFoundPage();
        if (!await CanDeleteAsync(repository.Name)) return ForbiddenPage();
        if (confirmed != "yes")
        {
            Confirm = new Confirmation("Delete image repository",
                $"Delete the image repository {repository.Name} with all its {WebFormat.Plural(repository.TagCount, "tag")}? This cannot be undone.",
                "DeleteRepository", [new("name", repository.Name)], "Delete repository", WebPaths.Registry(Context.Project.FullPath));
            Repositories = await browser.ListRepositoriesAsync(Context.Project, null, Aborted);
            return Page();
        }
        try
        {
            await Service<Registry.RegistryLifecycle>().DeleteRepositoryAsAsync(Caller, Berth.Distribution.RepositoryName.Parse(repository.Name), Aborted);
        }
        catch (Berth.Distribution.RegistryException ex) when (ex.Code == Berth.Distribution.ErrorCode.Denied)
        {
            Flash("Nothing was deleted: " + ex.Message);
            return LocalRedirect(WebPaths.Registry(Context.Project.FullPath));
        }
        Flash($"Image repository {repository.Name} was deleted with its {WebFormat.Plural(repository.TagCount, "tag")}.");
        return LocalRedirect(WebPaths.Registry(Context.Project.FullPath));
    }

    private async Task<bool> LoadAsync(string? path)
    {
        var context = await LoadProjectAsync(path);
        if (context is null || !context.Project.RegistryEnabled) return false;
        Context = context;
        UseProjectMenu(context, "registry");
        var settings = await Service<InstanceSettings>().GetAsync(Aborted);
        Host = InstanceSettings.RegistryHost(settings, HttpContext.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<Configuration.BerthOptions>>().Value, Request);
        var external = settings.ExternalUrl ?? Service<InstanceSettings>().ConfiguredExternalUrl;
        PlainHttp = external is null ? !Request.IsHttps : external.StartsWith("http:", StringComparison.OrdinalIgnoreCase);
        CanDelete = await CanDeleteAsync(context.Project.FullPath.ToLowerInvariant());
        return true;
    }

    private async Task<bool> CanDeleteAsync(string repository) =>
        RepositoryName.TryParse(repository, out var name, out _)
        && (await Service<AccessPolicy>().GetRepositoryAccessAsync(Caller, name, Aborted)).Delete;
}
