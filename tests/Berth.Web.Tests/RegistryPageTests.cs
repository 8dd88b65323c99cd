using System.Text.Json;
using Berth.Server.Web;
using Berth.Web.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Berth.Web.Tests;

/// <summary>
/// Images pushed with podman show on the Registry page with the right digest and size; tags deleted in the
/// browser (one, several, a whole repository) are gone for skopeo too.
/// </summary>
[Collection(WebCollection.Name)]
public sealed class RegistryPageTests(WebFixture web, ITestOutputHelper output) : IDisposable
{
    private readonly ContainerSandbox _tools = new(output.WriteLine);

    [Fact]
    public async Task Pushed_tags_show_with_digest_and_size_and_deleting_them_in_the_UI_reaches_skopeo()
    {
        var page = await web.NewPageAsync();
        await WebFixture.SignInAsync(page, "root", web.RootPassword);
        var id = BrowserHelpers.Unique();
        var path = await BrowserHelpers.CreateGroupAndProjectAsync(page, $"Shipyard {id}", $"Backend {id}");
        var creds = $"root:{web.RootPassword}";
        var image = $"{web.Host}/{path}";

        // Push: the project's root repository with v1 and v2 on the same digest (and v3, v4 on it too),
        // and a second repository below the project.
        var digest = await _tools.BuildAndPushAsync(image + ":v1", $"hello {id}\n", creds);
        foreach (var tag in new[] { "v2", "v3", "v4" })
        {
            await _tools.PodmanAsync(["tag", image + ":v1", image + ":" + tag]);
            await _tools.PodmanAsync(["push", "--tls-verify=false", "--signature-policy", _tools.Policy, "--creds", creds, image + ":" + tag]);
        }
        await _tools.BuildAndPushAsync(image + "/api:1.0", $"api {id}\n", creds);

        // The expected compressed size: config + layers of the pushed manifest.
        var raw = await _tools.SkopeoAsync(["inspect", "--raw", "--tls-verify=false", "--creds", creds, $"docker://{image}:v1"]);
        using var manifest = JsonDocument.Parse(raw.StandardOutput);
        long size = manifest.RootElement.GetProperty("config").GetProperty("size").GetInt64()
                    + manifest.RootElement.GetProperty("layers").EnumerateArray().Sum(l => l.GetProperty("size").GetInt64());

        await BrowserHelpers.ProjectMenu(page).GetByRole(AriaRole.Link, new() { Name = "Registry" }).ClickAsync();
        var rows = page.Locator("tbody tr");
        await Expect(rows).ToHaveCountAsync(2);
        await Expect(rows.Nth(1)).ToContainTextAsync("api");
        await Expect(rows.First).ToContainTextAsync("4");
        await Expect(rows.First).ToContainTextAsync(WebFormat.Bytes(size));
        var pushed = DateTime.Parse((await rows.First.Locator("time").GetAttributeAsync("datetime"))!, null, System.Globalization.DateTimeStyles.AdjustToUniversal);
        Assert.InRange(DateTime.UtcNow - pushed, TimeSpan.FromSeconds(-5), TimeSpan.FromMinutes(10));
        await WebFixture.ScreenshotAsync(page, "registry-page", "docs/images/registry-page.png");

        // Search.
        await page.GetByLabel("Filter image repositories by name").FillAsync("api");
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        await Expect(rows).ToHaveCountAsync(1);
        await page.GotoAsync("/-/registry/" + path);

        // The tags of the root repository.
        await rows.First.GetByRole(AriaRole.Link).ClickAsync();
        await Expect(page.Locator("tbody tr")).ToHaveCountAsync(4);
        var v1 = page.Locator("tbody tr", new() { Has = page.Locator(".tag-name", new() { HasTextString = "v1" }) });
        var shortDigest = v1.Locator(".digest code");
        await Expect(shortDigest).ToHaveTextAsync(digest["sha256:".Length..][..12]);
        await Expect(shortDigest).ToHaveAttributeAsync("title", digest);
        await Expect(v1.Locator("button[data-copy^='sha256:']")).ToHaveAttributeAsync("data-copy", digest);
        await Expect(v1.Locator("td.num")).ToHaveTextAsync(WebFormat.Bytes(size));
        await Expect(v1.Locator("td.num")).ToHaveAttributeAsync("title", WebFormat.ExactBytes(size));

        // Sort by date: the last pushed (v4) first.
        await page.GetByLabel("Sort by").SelectOptionAsync("newest");
        await page.WaitForURLAsync("**sort=newest**");
        await Expect(page.Locator("tbody tr").First.Locator(".tag-name")).ToHaveTextAsync("v4");
        await page.GetByLabel("Sort by").SelectOptionAsync("name");
        await page.WaitForURLAsync(url => !url.Contains("newest", StringComparison.Ordinal));
        await WebFixture.ScreenshotAsync(page, "repository-tags");

        // Delete one tag: the dialog names it and says the other tags on the digest stay.
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete tag v1" }).ClickAsync();
        await Expect(page.Locator("dialog#confirm-dialog")).ToBeVisibleAsync();
        await WebFixture.ScreenshotAsync(page, "delete-tag-dialog");
        var text = await BrowserHelpers.ConfirmDialogAsync(page, "Delete tag");
        Assert.Contains("Delete the tag v1", text, StringComparison.Ordinal);
        Assert.Contains("3 other tags on the same digest", text, StringComparison.Ordinal);
        Assert.Contains("stay", text, StringComparison.Ordinal);
        await Expect(page.GetByRole(AriaRole.Status).First).ToContainTextAsync("Tag v1 was deleted.");
        Assert.Equal(["v2", "v3", "v4"], await ListTagsAsync(image, creds));

        // Select two and delete them together.
        await page.GetByLabel("Select tag v3").CheckAsync();
        await page.GetByLabel("Select tag v4").CheckAsync();
        await Expect(page.Locator("[data-selected-count]")).ToHaveTextAsync("2 tags selected");
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete selected" }).ClickAsync();
        text = await BrowserHelpers.ConfirmDialogAsync(page, "Delete tags");
        Assert.Contains("v3, v4", text, StringComparison.Ordinal);
        await Expect(page.Locator("tbody tr")).ToHaveCountAsync(1);
        Assert.Equal(["v2"], await ListTagsAsync(image, creds));

        // Delete the api repository from the Registry page.
        await page.GotoAsync("/-/registry/" + path);
        await page.GetByRole(AriaRole.Button, new() { Name = $"Delete image repository {path}/api" }).ClickAsync();
        await BrowserHelpers.ConfirmDialogAsync(page, "Delete repository");
        await Expect(page.Locator("tbody tr")).ToHaveCountAsync(1);
        var gone = await _tools.SkopeoAsync(["list-tags", "--tls-verify=false", "--creds", creds, $"docker://{image}/api"], check: false);
        Assert.False(gone.Succeeded);
        await page.Context.CloseAsync();
    }

    private async Task<string[]> ListTagsAsync(string image, string creds)
    {
        var result = await _tools.SkopeoAsync(["list-tags", "--tls-verify=false", "--creds", creds, $"docker://{image}"]);
        using var doc = JsonDocument.Parse(result.StandardOutput);
        return doc.RootElement.GetProperty("Tags").EnumerateArray().Select(t => t.GetString()!).Order(StringComparer.Ordinal).ToArray();
    }

    public void Dispose() => _tools.Dispose();
}
