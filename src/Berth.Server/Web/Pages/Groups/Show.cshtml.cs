using Berth.Auth;
using Berth.Auth.Accounts;
using Berth.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace Berth.Server.Web.Pages.Groups;

/// <summary><c>/-/group/&lt;full path&gt;</c>: a group's subgroups and projects (those the caller can see).</summary>
public sealed class ShowGroupModel : WebPage
{
    /// <summary>The group.</summary>
    public NamespaceEntity Group { get; private set; } = null!;
    /// <summary>Breadcrumbs.</summary>
    public IReadOnlyList<NamespaceEntity> Lineage { get; private set; } = [];
    /// <summary>Visible subgroups.</summary>
    public List<NamespaceEntity> Subgroups { get; } = [];
    /// <summary>Visible projects.</summary>
    public List<ProjectEntity> Projects { get; } = [];
    /// <summary>The caller's level.</summary>
    public AccessLevel Level { get; private set; }

    /// <summary>GET.</summary>
    public async Task<IActionResult> OnGetAsync(string? path)
    {
        var group = path is null ? null : await Service<GroupService>().FindGroupAsync(path.Trim('/'), Aborted);
        var access = Service<WebAccess>();
        if (group is null || long.TryParse(path, out _) || !await access.CanReadGroupAsync(Caller, group, Aborted)) return NotFoundPage();
        Group = group;
        Lineage = await Service<GroupService>().GetLineageAsync(group, Aborted);
        Level = await access.NamespaceLevelAsync(Caller, group, Aborted);
        var db = Service<BerthDbContext>();
        foreach (var g in await db.Namespaces.Where(n => n.ParentId == group.Id).OrderBy(n => n.Name).ToListAsync(Aborted))
            if (await access.CanReadGroupAsync(Caller, g, Aborted)) Subgroups.Add(g);
        var policy = Service<AccessPolicy>();
        foreach (var p in await db.Projects.Where(p => p.NamespaceId == group.Id).OrderBy(p => p.Name).ToListAsync(Aborted))
            if (await policy.CanReadProjectAsync(Caller, p, Aborted)) Projects.Add(p);
        return Page();
    }
}
