using Berth.Web.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Berth.Web.Tests;

/// <summary>Sign-in, the dashboard, creating groups and projects, and the Registry link following the project's Container Registry checkbox.</summary>
[Collection(WebCollection.Name)]
public sealed class SignInAndProjectTests(WebFixture web)
{
    [Fact]
    public async Task Wrong_password_is_refused_and_the_right_one_signs_in()
    {
        var page = await web.NewPageAsync();
        await page.GotoAsync("/");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Berth container registry" })).ToBeVisibleAsync();
        await page.GotoAsync("/users/sign_in");
        await page.GetByLabel("Username or e-mail").FillAsync("root");
        await page.GetByLabel("Password").FillAsync("not-the-password");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("Invalid username or password");
        await WebFixture.ScreenshotAsync(page, "sign-in");

        await WebFixture.SignInAsync(page, "root", web.RootPassword);
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Projects", Exact = true })).ToBeVisibleAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await page.WaitForURLAsync("**/users/sign_in");
        await page.GotoAsync("/profile");
        Assert.Contains("/users/sign_in", page.Url, StringComparison.Ordinal);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Registry_link_appears_and_disappears_with_the_Container_Registry_checkbox()
    {
        var page = await web.NewPageAsync();
        await WebFixture.SignInAsync(page, "root", web.RootPassword);
        var id = BrowserHelpers.Unique();
        var path = await BrowserHelpers.CreateGroupAndProjectAsync(page, $"Team {id}", $"App {id}");
        Assert.Equal($"team-{id}/app-{id}", path);
        var menu = BrowserHelpers.ProjectMenu(page);
        await Expect(menu.GetByRole(AriaRole.Link, new() { Name = "Registry" })).ToBeVisibleAsync();
        await WebFixture.ScreenshotAsync(page, "project-overview");

        // Turn the Container Registry off: the link goes, the page answers 404.
        await menu.GetByRole(AriaRole.Link, new() { Name = "Settings" }).ClickAsync();
        var checkbox = page.GetByRole(AriaRole.Checkbox, new() { Name = "Container Registry" });
        await Expect(checkbox).ToBeCheckedAsync();
        await checkbox.UncheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Save changes" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Project settings were saved");
        await Expect(page.GetByRole(AriaRole.Checkbox, new() { Name = "Container Registry" })).Not.ToBeCheckedAsync();
        await Expect(BrowserHelpers.ProjectMenu(page).GetByRole(AriaRole.Link, new() { Name = "Registry" })).ToHaveCountAsync(0);
        await WebFixture.ScreenshotAsync(page, "project-settings");
        var response = await page.GotoAsync("/-/registry/" + path);
        Assert.Equal(404, response!.Status);

        // And on again.
        await page.GotoAsync("/-/settings/" + path);
        await page.GetByRole(AriaRole.Checkbox, new() { Name = "Container Registry" }).CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Save changes" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Container Registry on");
        await BrowserHelpers.ProjectMenu(page).GetByRole(AriaRole.Link, new() { Name = "Registry" }).ClickAsync();

        // The empty state has the exact commands for this host and project, with copy buttons.
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "There are no container images stored for this project" })).ToBeVisibleAsync();
        var image = $"{web.Host}/{path}";
        foreach (var command in new[] { $"docker login {web.Host}", $"docker build -t {image} .", $"docker push {image}" })
        {
            await Expect(page.Locator("pre code", new() { HasTextString = command })).ToHaveCountAsync(1);
            var copy = page.Locator($"button.copy[data-copy=\"{command}\"]");
            await copy.ClickAsync();
            await Expect(copy).ToHaveAttributeAsync("data-copied", "");
        }
        var clipboard = await page.EvaluateAsync<string>("() => navigator.clipboard.readText()");
        Assert.Equal($"docker push {image}", clipboard);
        await WebFixture.ScreenshotAsync(page, "registry-empty");

        await page.GotoAsync("/");
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = $"Team {id} / App {id}" })).ToBeVisibleAsync();
        await WebFixture.ScreenshotAsync(page, "dashboard");
        await page.Context.CloseAsync();
    }
}
