using Microsoft.AspNetCore.Mvc;

namespace Berth.Server.Web.Pages.Projects;

/// <summary><c>/-/project/&lt;full path&gt;</c>: a project's overview.</summary>
public sealed class ShowProjectModel : WebPage
{
    /// <summary>The project.</summary>
    public ProjectContext Context { get; private set; } = null!;
    /// <summary>Image repositories holding manifests.</summary>
    public int Repositories { get; private set; }
    /// <summary>Tags in them.</summary>
    public int Tags { get; private set; }
    /// <summary>Registry host.</summary>
    public string Host { get; private set; } = "";

    /// <summary>GET.</summary>
    public async Task<IActionResult> OnGetAsync(string? path)
    {
        var context = await LoadProjectAsync(path);
        if (context is null) return NotFoundPage();
        Context = context;
        UseProjectMenu(context, "overview");
        if (context.Project.RegistryEnabled)
            (Repositories, Tags) = await Service<RegistryBrowser>().CountAsync(context.Project, Aborted);
        Host = await Service<InstanceSettings>().RegistryHostAsync(Request, Aborted);
        return Page();
    }
}
