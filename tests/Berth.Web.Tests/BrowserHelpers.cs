using Berth.Web.Tests.Infrastructure;
using Microsoft.Playwright;

namespace Berth.Web.Tests;

/// <summary>UI steps shared by the browser tests.</summary>
public static class BrowserHelpers
{
    /// <summary>A short unique suffix.</summary>
    public static string Unique() => Guid.NewGuid().ToString("N")[..6];

    /// <summary>Creates a group and a project in it through the UI; returns the project's full path.</summary>
    public static async Task<string> CreateGroupAndProjectAsync(IPage page, string group, string project)
    {
        await page.GotoAsync("/groups/new");
        await page.GetByLabel("Group name").FillAsync(group);
        await page.GetByRole(AriaRole.Button, new() { Name = "Create group" }).ClickAsync();
        await page.WaitForURLAsync("**/-/group/**");
        await page.GetByRole(AriaRole.Link, new() { Name = "New project" }).ClickAsync();
        await page.GetByLabel("Project name").FillAsync(project);
        await page.GetByRole(AriaRole.Button, new() { Name = "Create project" }).ClickAsync();
        await page.WaitForURLAsync("**/-/project/**");
        return new Uri(page.Url).AbsolutePath["/-/project/".Length..];
    }

    /// <summary>The project menu.</summary>
    public static ILocator ProjectMenu(IPage page) => page.GetByRole(AriaRole.Navigation, new() { Name = "Project" });

    /// <summary>Clicks the confirming button of the confirmation dialog after checking its text.</summary>
    public static async Task<string> ConfirmDialogAsync(IPage page, string button)
    {
        var dialog = page.Locator("dialog#confirm-dialog");
        await Assertions.Expect(dialog).ToBeVisibleAsync();
        var text = await dialog.InnerTextAsync();
        await dialog.GetByRole(AriaRole.Button, new() { Name = button, Exact = true }).ClickAsync();
        return text;
    }
}
