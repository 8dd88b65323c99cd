using Berth.Metadata;

namespace Berth.Server.Web.Pages;

/// <summary><c>/</c>: the dashboard (your projects, or your groups with <c>?view=groups</c>), or a landing page when signed out.</summary>
public sealed class IndexModel : WebPage
{
    /// <summary>Projects the user reaches.</summary>
    public IReadOnlyList<ProjectListItem> Projects { get; private set; } = [];
    /// <summary>Groups the user belongs to.</summary>
    public IReadOnlyList<NamespaceEntity> Groups { get; private set; } = [];
    /// <summary>Show groups instead of projects.</summary>
    public bool ShowGroups { get; private set; }
    /// <summary>Whether sign-up is on (landing page).</summary>
    public bool SignUpEnabled { get; private set; }
    /// <summary>The registry host for instructions.</summary>
    public string Host { get; private set; } = "";

    /// <summary>GET.</summary>
    public async Task OnGetAsync(string? view)
    {
        var settings = Service<InstanceSettings>();
        if (Me is null)
        {
            SignUpEnabled = (await settings.GetAsync(Aborted)).SignUpEnabled;
            return;
        }
        Host = await settings.RegistryHostAsync(Request, Aborted);
        ShowGroups = view == "groups";
        var access = Service<WebAccess>();
        if (ShowGroups) Groups = await access.GroupsOfAsync(Me, all: false, Aborted);
        else Projects = await access.ProjectsOfAsync(Me, all: false, Aborted);
    }
}
