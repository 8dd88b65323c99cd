using Berth.Auth;
using Berth.Auth.Accounts;
using Berth.Metadata;
using Microsoft.AspNetCore.Mvc;

namespace Berth.Server.Web.Pages.Groups;

/// <summary><c>/groups/new</c>: creates a group or, with a parent, a subgroup.</summary>
public sealed class NewGroupModel : WebPage
{
    /// <summary>Groups the user may create subgroups in.</summary>
    public IReadOnlyList<NamespaceEntity> Parents { get; private set; } = [];
    /// <summary>Chosen parent.</summary>
    public long? ParentId { get; private set; }
    /// <summary>Typed name.</summary>
    public string? Name { get; private set; }
    /// <summary>Typed path.</summary>
    public string? Path { get; private set; }
    /// <summary>Chosen visibility.</summary>
    public string Visibility { get; private set; } = Berth.Auth.Visibility.Private;

    /// <summary>GET.</summary>
    public async Task OnGetAsync(long? parent)
    {
        Parents = await Service<WebAccess>().SubgroupTargetsAsync(Me!, Aborted);
        ParentId = parent;
    }

    /// <summary>POST.</summary>
    public async Task<IActionResult> OnPostAsync(string? name, string? path, long? parentId, string? visibility)
    {
        try
        {
            if (parentId is { } pid)
            {
                var parent = await Service<GroupService>().GetNamespaceAsync(pid, Aborted);
                if (await Service<WebAccess>().NamespaceLevelAsync(Caller, parent, Aborted) < AccessLevel.Maintainer)
                    throw new AccountException(AccountErrorKind.Forbidden, "Creating a subgroup needs the Maintainer role in the parent group.");
            }
            var group = await Service<GroupService>().CreateGroupAsync(new NewGroup(name, path, parentId, visibility), Me!.Id, Aborted);
            Flash($"Group {group.Name} was created.");
            return LocalRedirect(WebPaths.Group(group.FullPath));
        }
        catch (AccountException ex)
        {
            Error = ex.Message;
            (Name, Path, ParentId, Visibility) = (name, path, parentId, visibility ?? Berth.Auth.Visibility.Private);
            Parents = await Service<WebAccess>().SubgroupTargetsAsync(Me!, Aborted);
            return Page();
        }
    }
}
