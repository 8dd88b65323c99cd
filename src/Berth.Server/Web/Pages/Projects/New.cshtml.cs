using Berth.Auth;
using Berth.Auth.Accounts;
using Berth.Metadata;
using Microsoft.AspNetCore.Mvc;

namespace Berth.Server.Web.Pages.Projects;

/// <summary><c>/projects/new</c>: creates a project in the user's namespace or a group where they are Developer+.</summary>
public sealed class NewProjectModel : WebPage
{
    /// <summary>Namespaces the user may create projects in.</summary>
    public IReadOnlyList<NamespaceEntity> Targets { get; private set; } = [];
    /// <summary>Chosen namespace.</summary>
    public long? NamespaceId { get; private set; }
    /// <summary>Typed name.</summary>
    public string? Name { get; private set; }
    /// <summary>Typed path.</summary>
    public string? Path { get; private set; }
    /// <summary>Typed description.</summary>
    public string? Description { get; private set; }
    /// <summary>Chosen visibility.</summary>
    public string Visibility { get; private set; } = Berth.Auth.Visibility.Private;
    /// <summary>Registry host for the hint.</summary>
    public string Host { get; private set; } = "";

    /// <summary>GET.</summary>
    public async Task OnGetAsync([FromQuery(Name = "namespace")] long? ns)
    {
        await LoadAsync();
        NamespaceId = ns;
    }

    /// <summary>POST.</summary>
    public async Task<IActionResult> OnPostAsync(string? name, string? path, long namespaceId, string? visibility, string? description)
    {
        try
        {
            var target = await Service<GroupService>().GetNamespaceAsync(namespaceId, Aborted);
            if (await Service<WebAccess>().NamespaceLevelAsync(Caller, target, Aborted) < AccessLevel.Developer)
                throw new AccountException(AccountErrorKind.Forbidden, "Creating a project in this group needs the Developer role there.");
            var project = await Service<ProjectService>().CreateProjectAsync(
                new NewProject(namespaceId, name, string.IsNullOrWhiteSpace(path) ? PathRules.FromName(name)?.ToLowerInvariant() : path, visibility, true,
                    string.IsNullOrWhiteSpace(description) ? null : description.Trim()), Me!.Id, Aborted);
            Flash($"Project {project.Name} was created.");
            return LocalRedirect(WebPaths.Project(project.FullPath));
        }
        catch (AccountException ex)
        {
            Error = ex.Message;
            (Name, Path, NamespaceId, Visibility, Description) = (name, path, namespaceId, visibility ?? Berth.Auth.Visibility.Private, description);
            await LoadAsync();
            return Page();
        }
    }

    private async Task LoadAsync()
    {
        Targets = await Service<WebAccess>().ProjectTargetsAsync(Me!, Aborted);
        Host = await Service<InstanceSettings>().RegistryHostAsync(Request, Aborted);
    }
}
