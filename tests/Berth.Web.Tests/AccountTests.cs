using Berth.Web.Tests.Infrastructure;
using Microsoft.Playwright;
using OtpNet;
using static Microsoft.Playwright.Assertions;

namespace Berth.Web.Tests;

/// <summary>Personal access tokens and two-factor authentication, set up in the browser and used by podman.</summary>
[Collection(WebCollection.Name)]
public sealed class AccountTests(WebFixture web, ITestOutputHelper output) : IDisposable
{
    private readonly ContainerSandbox _tools = new(output.WriteLine);

    [Fact]
    public async Task A_token_created_in_the_UI_signs_podman_in_until_it_is_revoked()
    {
        var page = await web.NewPageAsync();
        await WebFixture.SignInAsync(page, "root", web.RootPassword);
        await page.GotoAsync("/profile/personal_access_tokens");
        var name = "podman " + BrowserHelpers.Unique();
        await page.GetByLabel("Token name").FillAsync(name);
        await page.GetByRole(AriaRole.Checkbox, new() { Name = "write_registry" }).CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Create personal access token" }).ClickAsync();
        var token = await page.Locator("#new-token").InputValueAsync();
        Assert.StartsWith("bpat-", token, StringComparison.Ordinal);
        await page.GetByRole(AriaRole.Button, new() { Name = "Copy token" }).ClickAsync();
        Assert.Equal(token, await page.EvaluateAsync<string>("() => navigator.clipboard.readText()"));
        await WebFixture.ScreenshotAsync(page, "personal-access-tokens");

        var login = await _tools.PodmanAsync(["login", "--tls-verify=false", "-u", "root", "-p", token, web.Host]);
        Assert.Contains("Login Succeeded", login.StandardOutput, StringComparison.Ordinal);

        // Shown once: a reload shows the list, not the value.
        await page.GotoAsync("/profile/personal_access_tokens");
        Assert.DoesNotContain(token, await page.ContentAsync(), StringComparison.Ordinal);
        await page.GetByRole(AriaRole.Button, new() { Name = $"Revoke token {name}" }).ClickAsync();
        await BrowserHelpers.ConfirmDialogAsync(page, "Revoke");
        await Expect(page.GetByRole(AriaRole.Status).First).ToContainTextAsync("was revoked");
        var refused = await _tools.PodmanAsync(["login", "--tls-verify=false", "-u", "root", "-p", token, web.Host], check: false);
        Assert.False(refused.Succeeded);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Two_factor_enrollment_from_the_manual_key_then_sign_in_with_a_code()
    {
        // An administrator creates the user in the admin area.
        var admin = await web.NewPageAsync();
        await WebFixture.SignInAsync(admin, "root", web.RootPassword);
        var username = "alice-" + BrowserHelpers.Unique();
        const string password = "alice-password-1";
        await admin.GotoAsync("/admin/users");
        await admin.GetByLabel("Full name").FillAsync("Alice Example");
        await admin.GetByLabel("Username").FillAsync(username);
        await admin.GetByLabel("E-mail").FillAsync(username + "@example.com");
        await admin.GetByLabel("Password").FillAsync(password);
        await admin.GetByRole(AriaRole.Button, new() { Name = "Create user" }).ClickAsync();
        await Expect(admin.GetByRole(AriaRole.Status).First).ToContainTextAsync($"User {username} was created");
        await WebFixture.ScreenshotAsync(admin, "admin-users");
        await admin.GotoAsync("/admin");
        await Expect(admin.GetByText("All checks pass")).ToBeVisibleAsync();
        await WebFixture.ScreenshotAsync(admin, "admin-health");
        await admin.Context.CloseAsync();

        // Alice enrolls: reads the manual key, computes the current code.
        var page = await web.NewPageAsync();
        await WebFixture.SignInAsync(page, username, password);
        await page.GotoAsync("/profile/two_factor_auth");
        await Expect(page.GetByRole(AriaRole.Img, new() { Name = "QR code" })).ToBeVisibleAsync();
        var key = await page.Locator("#manual-key").GetAttributeAsync("data-key");
        Assert.Equal((await page.Locator("#manual-key").InnerTextAsync()).Replace(" ", "", StringComparison.Ordinal), key);
        await WebFixture.ScreenshotAsync(page, "two-factor-setup");
        await page.GetByLabel("Verification code").FillAsync("000000" == Code(key!) ? "111111" : "000000");
        await page.GetByRole(AriaRole.Button, new() { Name = "Verify and enable" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("not right");
        key = await page.Locator("#manual-key").GetAttributeAsync("data-key");
        await page.GetByLabel("Verification code").FillAsync(Code(key!));
        await page.GetByRole(AriaRole.Button, new() { Name = "Verify and enable" }).ClickAsync();
        var codes = page.Locator("#recovery-codes li");
        await Expect(codes).ToHaveCountAsync(10);
        var recovery = await codes.First.InnerTextAsync();
        await WebFixture.ScreenshotAsync(page, "two-factor-recovery-codes");

        // The password alone no longer works for registry clients.
        var refused = await _tools.PodmanAsync(["login", "--tls-verify=false", "-u", username, "-p", password, web.Host], check: false);
        Assert.False(refused.Succeeded);

        // Sign out, sign in again: password, then the TOTP code.
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await page.GetByLabel("Username or e-mail").FillAsync(username);
        await page.GetByLabel("Password").FillAsync(password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.WaitForURLAsync("**/users/sign_in/two_factor**");
        await page.GetByLabel("Authentication code").FillAsync("12345x");
        await page.GetByRole(AriaRole.Button, new() { Name = "Verify and sign in" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("Invalid code");
        await WebFixture.ScreenshotAsync(page, "two-factor-sign-in");
        await page.GetByLabel("Authentication code").FillAsync(Code(key!));
        await page.GetByRole(AriaRole.Button, new() { Name = "Verify and sign in" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Projects", Exact = true })).ToBeVisibleAsync();
        await page.Context.CloseAsync();

        // A recovery code works once.
        var other = await web.NewPageAsync();
        await other.GotoAsync("/users/sign_in");
        await other.GetByLabel("Username or e-mail").FillAsync(username);
        await other.GetByLabel("Password").FillAsync(password);
        await other.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await other.GetByLabel("Authentication code").FillAsync(recovery);
        await other.GetByRole(AriaRole.Button, new() { Name = "Verify and sign in" }).ClickAsync();
        await Expect(other.GetByRole(AriaRole.Heading, new() { Name = "Projects", Exact = true })).ToBeVisibleAsync();
        await other.Context.CloseAsync();
    }

    [Fact]
    public async Task Sign_up_page_exists_only_while_the_admin_switch_is_on()
    {
        var anonymous = await web.NewPageAsync();
        Assert.Equal(404, (await anonymous.GotoAsync("/users/sign_up"))!.Status);

        var admin = await web.NewPageAsync();
        await WebFixture.SignInAsync(admin, "root", web.RootPassword);
        await admin.GotoAsync("/admin/settings");
        await admin.GetByRole(AriaRole.Checkbox, new() { Name = "Sign-up" }).CheckAsync();
        await admin.GetByRole(AriaRole.Button, new() { Name = "Save changes" }).ClickAsync();
        await Expect(admin.GetByRole(AriaRole.Status).First).ToContainTextAsync("sign-up on");
        await WebFixture.ScreenshotAsync(admin, "admin-settings");

        var username = "bob-" + BrowserHelpers.Unique();
        Assert.Equal(200, (await anonymous.GotoAsync("/users/sign_up"))!.Status);
        await anonymous.GetByLabel("Full name").FillAsync("Bob");
        await anonymous.GetByLabel("Username").FillAsync(username);
        await anonymous.GetByLabel("E-mail").FillAsync(username + "@example.com");
        await anonymous.GetByLabel("Password").FillAsync("bob-password-1");
        await WebFixture.ScreenshotAsync(anonymous, "sign-up");
        await anonymous.GetByRole(AriaRole.Button, new() { Name = "Create account" }).ClickAsync();
        await Expect(anonymous.GetByRole(AriaRole.Status).First).ToContainTextAsync("Welcome to Berth");

        await admin.GotoAsync("/admin/settings");
        await admin.GetByRole(AriaRole.Checkbox, new() { Name = "Sign-up" }).UncheckAsync();
        await admin.GetByRole(AriaRole.Button, new() { Name = "Save changes" }).ClickAsync();
        await Expect(admin.GetByRole(AriaRole.Status).First).ToContainTextAsync("sign-up off");
        var fresh = await web.NewPageAsync();
        Assert.Equal(404, (await fresh.GotoAsync("/users/sign_up"))!.Status);
        await fresh.Context.CloseAsync();
        await admin.Context.CloseAsync();
        await anonymous.Context.CloseAsync();
    }

    private static string Code(string key) => new Totp(Base32Encoding.ToBytes(key)).ComputeTotp(DateTime.UtcNow);

    public void Dispose() => _tools.Dispose();
}
