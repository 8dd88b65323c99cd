using Berth.Auth.Accounts;
using Microsoft.AspNetCore.Mvc;

namespace Berth.Server.Web.Pages.Projects;

/// <summary><c>/-/settings/&lt;full path&gt;</c>: General settings (name, description, visibility, the Container
/// Registry switch), for Maintainers and Owners.</summary>
public sealed class SettingsModel : WebPage
{
    /// <summary>The project.</summary>
    public ProjectContext Context { get; private set; } = null!;

    /// <summary>GET.</summary>
    public async Task<IActionResult> OnGetAsync(string? path)
    {
        var result = await LoadAsync(path);
        return result ?? Page();
    }

    /// <summary>POST: saves and confirms with a message.</summary>
    public async Task<IActionResult> OnPostAsync(string? path, string? name, string? description, string? visibility, bool registryEnabled)
    {
        var result = await LoadAsync(path);
        if (result is not null) return result;
        try
        {
            var saved = await Service<ProjectService>().UpdateProjectAsync(Context.Project.Id,
                new ProjectChanges(name, description?.Trim() ?? "", visibility, registryEnabled), Aborted);
            Flash($"Project settings were saved: {saved.Visibility}, Container Registry {(saved.RegistryEnabled ? "on" : "off")}.");
            return LocalRedirect(WebPaths.Settings(saved.FullPath));
        }
        catch (AccountException ex)
        {
            Error = ex.Message;
            return Page();
        }
    }

    private async Task<IActionResult?> LoadAsync(string? path)
    {
        var context = await LoadProjectAsync(path);
        if (context is null) return NotFoundPage();
        if (!context.CanManage) return ForbiddenPage();
        Context = context;
        UseProjectMenu(context, "settings");
        return null;
    }
}
