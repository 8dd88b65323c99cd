using System.Net;
using Berth.Auth;
using Berth.Auth.Accounts;
using Berth.Metadata;
using Berth.Server.Registry;
using Berth.Web.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Berth.Web.Tests;

/// <summary>
/// The project settings page's registry housekeeping: protected-tag rules and the cleanup policy are saved through
/// their forms, a cleanup run shows in the run log with what it deleted and what it kept, and a Developer's delete of
/// a protected tag in the UI is refused with the rule's message.
/// </summary>
public sealed class SettingsPageTests(InProcessFactory app) : IClassFixture<InProcessFactory>
{
    private static FormUrlEncodedContent Form(string token, params (string Key, string Value)[] fields) =>
        new(fields.Select(f => new KeyValuePair<string, string>(f.Key, f.Value)).Append(new("__RequestVerificationToken", token)));

    [Fact]
    public async Task Rules_and_the_cleanup_policy_are_saved_and_a_run_shows_in_the_log()
    {
        var project = await app.WithServicesAsync(async sp =>
        {
            var root = await sp.GetRequiredService<AccountService>().GetUserAsync("root", CancellationToken.None);
            var group = await sp.GetRequiredService<GroupService>().CreateGroupAsync(new NewGroup(null, "g" + Guid.NewGuid().ToString("N")[..8]), root.Id, CancellationToken.None);
            return await sp.GetRequiredService<ProjectService>().CreateProjectAsync(new NewProject(group.Id, "housekeeping", "p" + Guid.NewGuid().ToString("N")[..8]), root.Id, CancellationToken.None);
        });
        var repository = project.FullPath.ToLowerInvariant();
        await app.WithDbAsync(db => RegistrySeed.SeedAsync(db, repository, 5, 2)); // t00000 (oldest) … t00004 (newest)
        using var client = await app.SignedInClientAsync("root", InProcessFactory.RootPassword);
        var settings = "/-/settings/" + project.FullPath;

        var html = await client.GetStringAsync(settings);
        Assert.Contains("Cleanup policy", html, StringComparison.Ordinal);
        Assert.Contains("The cleanup policy has not run yet.", html, StringComparison.Ordinal);

        var token = await InProcessFactory.AntiforgeryTokenAsync(client, settings);
        using (var bad = await client.PostAsync(settings + "?handler=AddRule", Form(token, ("pattern", "("), ("push", "maintainer"), ("delete", "maintainer"))))
        {
            Assert.Equal(HttpStatusCode.OK, bad.StatusCode);
            Assert.Contains("invalid regexp", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        using (var added = await client.PostAsync(settings + "?handler=AddRule", Form(token, ("pattern", "^t00000$"), ("push", "maintainer"), ("delete", "maintainer"))))
            Assert.Equal(HttpStatusCode.Redirect, added.StatusCode);
        using (var saved = await client.PostAsync(settings + "?handler=CleanupPolicy", Form(token,
                   ("enabled", "true"), ("cadence", "7d"), ("keepN", "1"), ("olderThan", ""), ("nameRegex", "t.*"), ("nameRegexKeep", ""))))
            Assert.Equal(HttpStatusCode.Redirect, saved.StatusCode);
        html = await client.GetStringAsync(settings);
        Assert.Contains("<code>^t00000$</code>", html, StringComparison.Ordinal);
        Assert.Contains("next run", html, StringComparison.Ordinal);

        var policy = await app.WithServicesAsync(sp => sp.GetRequiredService<RegistryLifecycle>().GetPolicyAsync(project.Id, CancellationToken.None));
        Assert.True(policy.Enabled);
        Assert.Equal("7d", policy.Cadence);
        Assert.Equal(1, policy.KeepN);
        Assert.Null(policy.OlderThan);
        var run = await app.WithServicesAsync(sp => sp.GetRequiredService<RegistryLifecycle>().RunPolicyAsync(project, policy, CancellationToken.None));
        Assert.Equal(3, run.TagsDeleted); // t00001..t00003: t00004 is the newest (keep_n 1), t00000 is protected
        Assert.Equal(1, run.TagsProtected);
        var left = await app.WithDbAsync(db => db.Tags.Where(t => db.Repositories.Any(r => r.Id == t.RepositoryId && r.Name == repository)).Select(t => t.Name).OrderBy(n => n).ToListAsync());
        Assert.Equal(["t00000", "t00004"], left);

        html = await client.GetStringAsync(settings);
        Assert.DoesNotContain("has not run yet", html, StringComparison.Ordinal);
        Assert.Contains("<span class=\"badge\">finished</span>", html, StringComparison.Ordinal);
        Assert.Contains("<td>3</td>", html, StringComparison.Ordinal);
        Assert.Contains("<td>1</td>", html, StringComparison.Ordinal);

        // A Developer's UI delete of the protected tag is refused with the rule; nothing is deleted.
        var devName = "dev-" + Guid.NewGuid().ToString("N")[..6];
        var devId = await app.CreateUserAsync(devName, "developer-password-1");
        await app.WithServicesAsync(sp => sp.GetRequiredService<MemberService>().AddAsync(MemberTarget.Project(project.Id), devId, AccessLevel.Developer, null, CancellationToken.None));
        using var dev = await app.SignedInClientAsync(devName, "developer-password-1");
        var devToken = await InProcessFactory.AntiforgeryTokenAsync(dev, "/-/tags/" + repository);
        using (var refused = await dev.PostAsync("/-/tags/" + repository + "?handler=Delete", Form(devToken, ("tag", "t00000"), ("confirmed", "yes"))))
        {
            Assert.Equal(HttpStatusCode.Redirect, refused.StatusCode);
            var page = await dev.GetStringAsync(refused.Headers.Location!.ToString());
            Assert.Contains("is protected by rule", System.Net.WebUtility.HtmlDecode(page), StringComparison.Ordinal);
        }
        Assert.Equal(2, await app.WithDbAsync(db => db.Tags.CountAsync(t => db.Repositories.Any(r => r.Id == t.RepositoryId && r.Name == repository))));
        // The Developer does not see the settings page at all.
        using var forbidden = await dev.GetAsync(settings);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
    }
}
