using System.Globalization;
using Berth.Auth;
using Berth.Distribution;
using Microsoft.AspNetCore.Mvc;

namespace Berth.Server.Web.Pages.Projects;

/// <summary>
/// <c>/-/tags/&lt;repository&gt;</c>: one image repository's tags — short digest (full on hover, copy button),
/// compressed size, platforms of multi-arch images, push time; filter, sort by name or date, pages of 20 to
/// 100; delete one tag, several, or the whole repository (Developer+, checked again on every POST).
/// </summary>
public sealed class RepositoryModel : WebPage
{
    /// <summary>The project.</summary>
    public ProjectContext Context { get; private set; } = null!;
    /// <summary>The repository.</summary>
    public RepositorySummary Repository { get; private set; } = null!;
    /// <summary>The page of tags.</summary>
    public TagPage Tags { get; private set; } = new([], 0, 1, 50);
    /// <summary>The filter.</summary>
    public string? Query { get; private set; }
    /// <summary>The order.</summary>
    public TagSort Sort { get; private set; }
    /// <summary>The registry host.</summary>
    public string Host { get; private set; } = "";
    /// <summary>Whether delete controls are shown.</summary>
    public bool CanDelete { get; private set; }
    /// <summary>This page's URL (path and query), to come back to after a delete.</summary>
    public string Back { get; private set; } = "";
    /// <summary>A pending confirmation (no-script browsers).</summary>
    public Confirmation? Confirm { get; private set; }

    /// <summary>The confirmation text of deleting one tag: names the tag and says that other tags on the digest stay.</summary>
    public static string DeleteMessage(string repository, TagRow tag) =>
        $"Delete the tag {tag.Name} of {repository}? Only the tag is deleted: " +
        (tag.OtherTags > 0
            ? $"the {WebFormat.Plural(tag.OtherTags, "other tag")} on the same digest ({WebFormat.ShortDigest(tag.Digest)}) stay."
            : $"other tags that point at the same digest ({WebFormat.ShortDigest(tag.Digest)}) would stay; this one has none.");

    /// <summary>GET.</summary>
    public async Task<IActionResult> OnGetAsync(string? name, string? q, string? sort, int page = 1, int per = 50)
    {
        if (!await LoadAsync(name)) return NotFoundPage();
        await LoadTagsAsync(q, sort, page, per);
        return Page();
    }

    /// <summary>POST: deletes one tag (<paramref name="tag"/>) or the selected ones.</summary>
    public async Task<IActionResult> OnPostDeleteAsync(string? name, string? tag, string[]? selected, string? confirmed, string? back)
    {
        if (!await LoadAsync(name)) return NotFoundPage();
        if (!CanDelete) return ForbiddenPage();
        var tags = !string.IsNullOrEmpty(tag) ? [tag] : (selected ?? []).Where(t => !string.IsNullOrEmpty(t)).Distinct(StringComparer.Ordinal).ToList();
        var returnTo = !string.IsNullOrEmpty(back) && Url.IsLocalUrl(back) && back.StartsWith(WebPaths.Repository(Repository.Name), StringComparison.Ordinal)
            ? back : WebPaths.Repository(Repository.Name);
        if (tags.Count == 0)
        {
            Flash("Select at least one tag to delete.");
            return LocalRedirect(returnTo);
        }
        if (confirmed != "yes")
        {
            var message = tags.Count == 1
                ? $"Delete the tag {tags[0]} of {Repository.Name}? Only the tag is deleted: other tags that point at the same digest stay."
                : $"Delete {tags.Count} tags of {Repository.Name}: {string.Join(", ", tags)}? Only these tags are deleted: other tags that point at the same digests stay.";
            Confirm = new Confirmation(tags.Count == 1 ? $"Delete tag {tags[0]}" : "Delete tags", message, "Delete",
                [.. tags.Select(t => new KeyValuePair<string, string>("selected", t)), new("back", returnTo)], tags.Count == 1 ? "Delete tag" : "Delete tags", returnTo);
            await LoadTagsAsync(null, null, 1, 50);
            return Page();
        }
        int deleted;
        try
        {
            deleted = (await Service<Registry.RegistryLifecycle>().DeleteTagsAsAsync(Caller, Berth.Distribution.RepositoryName.Parse(Repository.Name), tags, Aborted)).Deleted;
        }
        catch (Berth.Distribution.RegistryException ex) when (ex.Code == Berth.Distribution.ErrorCode.Denied)
        {
            Flash("Nothing was deleted: " + ex.Message);
            return LocalRedirect(returnTo);
        }
        Flash(deleted switch
        {
            0 => "Nothing was deleted: the tags were already gone.",
            1 when tags.Count == 1 => $"Tag {tags[0]} was deleted.",
            _ => $"{WebFormat.Plural(deleted, "tag")} deleted: {string.Join(", ", tags)}.",
        });
        return LocalRedirect(returnTo);
    }

    /// <summary>POST: deletes the whole repository.</summary>
    public async Task<IActionResult> OnPostDeleteRepositoryAsync(string? name, string? confirmed)
    {
        if (!await LoadAsync(name)) return NotFoundPage();
        if (!CanDelete) return ForbiddenPage();
        if (confirmed != "yes")
        {
            Confirm = new Confirmation("Delete image repository",
                $"Delete the image repository {Repository.Name} with all its {WebFormat.Plural(Repository.TagCount, "tag")}? This cannot be undone.",
                "DeleteRepository", [], "Delete repository", WebPaths.Repository(Repository.Name));
            await LoadTagsAsync(null, null, 1, 50);
            return Page();
        }
        try
        {
            await Service<Registry.RegistryLifecycle>().DeleteRepositoryAsAsync(Caller, Berth.Distribution.RepositoryName.Parse(Repository.Name), Aborted);
        }
        catch (Berth.Distribution.RegistryException ex) when (ex.Code == Berth.Distribution.ErrorCode.Denied)
        {
            Flash("Nothing was deleted: " + ex.Message);
            return LocalRedirect(WebPaths.Repository(Repository.Name));
        }
        Flash($"Image repository {Repository.Name} was deleted with its {WebFormat.Plural(Repository.TagCount, "tag")}.");
        return LocalRedirect(WebPaths.Registry(Context.Project.FullPath));
    }

    /// <summary>A link to another page of this list, keeping the filter and order.</summary>
    public string Link(int page, int? per = null)
    {
        var parts = new List<string>();
        if (!string.IsNullOrEmpty(Query)) parts.Add("q=" + Uri.EscapeDataString(Query));
        if (Sort != TagSort.Name) parts.Add("sort=" + SortValue(Sort));
        if (page > 1) parts.Add("page=" + page.ToString(CultureInfo.InvariantCulture));
        var size = per ?? Tags.PageSize;
        if (size != 50) parts.Add("per=" + size.ToString(CultureInfo.InvariantCulture));
        return WebPaths.Repository(Repository.Name) + (parts.Count == 0 ? "" : "?" + string.Join('&', parts));
    }

    /// <summary>Page numbers to show: the first, the last, and two either side of the current one.</summary>
    public IEnumerable<int> PageNumbers()
    {
        int current = Tags.Page, count = Tags.PageCount;
        return new[] { 1, count }.Concat(Enumerable.Range(current - 2, 5)).Where(n => n >= 1 && n <= count).Distinct().Order();
    }

    private async Task<bool> LoadAsync(string? name)
    {
        if (!RepositoryName.TryParse(name?.Trim('/'), out var repositoryName, out _)) return false;
        var policy = Service<AccessPolicy>();
        var project = await policy.FindProjectForRepositoryAsync(repositoryName, Aborted);
        if (project is null) return false;
        var context = await LoadProjectAsync(project.FullPath);
        if (context is null || !context.Project.RegistryEnabled) return false;
        var repository = await Service<RegistryBrowser>().GetRepositoryAsync(context.Project, repositoryName.Value, Aborted);
        if (repository is null) return false;
        Context = context;
        Repository = repository;
        UseProjectMenu(context, "registry");
        Host = await Service<InstanceSettings>().RegistryHostAsync(Request, Aborted);
        CanDelete = (await policy.GetRepositoryAccessAsync(Caller, repositoryName, Aborted)).Delete;
        return true;
    }

    private async Task LoadTagsAsync(string? q, string? sort, int page, int per)
    {
        Query = string.IsNullOrWhiteSpace(q) ? null : q.Trim();
        Sort = sort switch
        {
            "-name" => TagSort.NameDescending,
            "newest" => TagSort.Newest,
            "oldest" => TagSort.Oldest,
            _ => TagSort.Name,
        };
        Tags = await Service<RegistryBrowser>().ListTagsAsync(Repository.Id, Query, Sort, page, per is 20 or 50 or 100 ? per : 50, Aborted);
        Back = Link(Tags.Page);
    }

    private static string SortValue(TagSort sort) => sort switch
    {
        TagSort.NameDescending => "-name",
        TagSort.Newest => "newest",
        TagSort.Oldest => "oldest",
        _ => "name",
    };
}
