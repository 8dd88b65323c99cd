using System.Net;
using Berth.Auth;
using Berth.Auth.Accounts;
using Berth.Metadata;
using Berth.Web.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Berth.Web.Tests;

/// <summary>XSS, CSRF and authorization of the pages, in process.</summary>
public sealed class SecurityTests : IClassFixture<InProcessFactory>
{
    private readonly InProcessFactory _app;

    public SecurityTests(InProcessFactory app) => _app = app;

    private async Task<ProjectEntity> CreateProjectAsync(string name, string? description = null) => await _app.WithServicesAsync(async sp =>
    {
        var root = await sp.GetRequiredService<AccountService>().GetUserAsync("root", CancellationToken.None);
        var group = await sp.GetRequiredService<GroupService>().CreateGroupAsync(new NewGroup(null, "g" + Guid.NewGuid().ToString("N")[..8]), root.Id, CancellationToken.None);
        return await sp.GetRequiredService<ProjectService>().CreateProjectAsync(
            new NewProject(group.Id, name, "p" + Guid.NewGuid().ToString("N")[..8], Description: description), root.Id, CancellationToken.None);
    });

    [Fact]
    public async Task Markup_in_a_project_name_and_description_is_shown_as_text()
    {
        const string name = "<script>alert('name')</script>";
        const string description = "<img src=x onerror=alert('description')>";
        var project = await CreateProjectAsync(name, description);
        using var client = await _app.SignedInClientAsync("root", InProcessFactory.RootPassword);

        foreach (var path in new[] { "/-/project/" + project.FullPath, "/", "/-/settings/" + project.FullPath, "/-/registry/" + project.FullPath })
        {
            using var response = await client.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var html = await response.Content.ReadAsStringAsync();
            Assert.DoesNotContain("<script>alert", html, StringComparison.Ordinal);
            Assert.DoesNotContain("<img src=x", html, StringComparison.Ordinal);
            Assert.Contains("&lt;script&gt;alert(", html, StringComparison.Ordinal);
            Assert.Contains("script-src 'self'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_form_post_without_the_antiforgery_token_is_refused()
    {
        var project = await CreateProjectAsync("csrf");
        using var client = await _app.SignedInClientAsync("root", InProcessFactory.RootPassword);
        using var forged = await client.PostAsync("/-/settings/" + project.FullPath, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["name"] = "csrf-renamed",
            ["visibility"] = "private",
        }));
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        var after = await _app.WithDbAsync(db => db.Projects.FirstAsync(p => p.Id == project.Id));
        Assert.True(after.RegistryEnabled);
        Assert.Equal("csrf", after.Name);

        // The same post with the token goes through.
        var token = await InProcessFactory.AntiforgeryTokenAsync(client, "/-/settings/" + project.FullPath);
        using var real = await client.PostAsync("/-/settings/" + project.FullPath, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["name"] = "csrf-renamed",
            ["visibility"] = "private",
            ["__RequestVerificationToken"] = token,
        }));
        Assert.Equal(HttpStatusCode.Redirect, real.StatusCode);
        after = await _app.WithDbAsync(db => db.Projects.FirstAsync(p => p.Id == project.Id));
        Assert.False(after.RegistryEnabled);
        Assert.Equal("csrf-renamed", after.Name);

        // Sign-in itself is protected too.
        using var anonymous = _app.NewClient();
        using var signIn = await anonymous.PostAsync("/users/sign_in", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["username"] = "root",
            ["password"] = InProcessFactory.RootPassword,
        }));
        Assert.Equal(HttpStatusCode.BadRequest, signIn.StatusCode);
    }

    [Theory]
    [InlineData(AccessLevel.Guest)]
    [InlineData(AccessLevel.Reporter)]
    public async Task Guests_and_Reporters_see_no_delete_controls_and_their_direct_posts_are_refused(AccessLevel level)
    {
        var project = await CreateProjectAsync("authz");
        var repository = project.FullPath.ToLowerInvariant();
        await _app.WithDbAsync(db => RegistrySeed.SeedAsync(db, repository, 3, 1));
        var username = $"{level.ToString().ToLowerInvariant()}-{Guid.NewGuid().ToString("N")[..6]}";
        var userId = await _app.CreateUserAsync(username, "member-password-1");
        await _app.WithServicesAsync(sp => sp.GetRequiredService<MemberService>().AddAsync(MemberTarget.Project(project.Id), userId, level, null, CancellationToken.None));
        using var client = await _app.SignedInClientAsync(username, "member-password-1");

        var html = await client.GetStringAsync("/-/tags/" + repository);
        Assert.Contains("t00000", html, StringComparison.Ordinal);
        Assert.DoesNotContain("Delete tag", html, StringComparison.Ordinal);
        Assert.DoesNotContain("Delete repository", html, StringComparison.Ordinal);
        Assert.DoesNotContain("name=\"selected\"", html, StringComparison.Ordinal);
        html = await client.GetStringAsync("/-/registry/" + project.FullPath);
        Assert.DoesNotContain("Delete image repository", html, StringComparison.Ordinal);

        var token = await InProcessFactory.AntiforgeryTokenAsync(client, "/-/tags/" + repository);
        using var deleteTag = await client.PostAsync("/-/tags/" + repository + "?handler=Delete", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["tag"] = "t00000",
            ["confirmed"] = "yes",
            ["__RequestVerificationToken"] = token,
        }));
        Assert.Equal(HttpStatusCode.Forbidden, deleteTag.StatusCode);
        using var deleteRepository = await client.PostAsync("/-/registry/" + project.FullPath + "?handler=DeleteRepository", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["name"] = repository,
            ["confirmed"] = "yes",
            ["__RequestVerificationToken"] = token,
        }));
        Assert.Equal(HttpStatusCode.Forbidden, deleteRepository.StatusCode);
        Assert.Equal(3, await _app.WithDbAsync(db => db.Tags.CountAsync(t => db.Repositories.Any(r => r.Id == t.RepositoryId && r.Name == repository))));

        // A Developer may.
        await _app.WithServicesAsync(sp => sp.GetRequiredService<MemberService>().UpdateAsync(MemberTarget.Project(project.Id), userId, AccessLevel.Developer, false, null, CancellationToken.None));
        token = await InProcessFactory.AntiforgeryTokenAsync(client, "/-/tags/" + repository);
        using var allowed = await client.PostAsync("/-/tags/" + repository + "?handler=Delete", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["tag"] = "t00000",
            ["confirmed"] = "yes",
            ["__RequestVerificationToken"] = token,
        }));
        Assert.Equal(HttpStatusCode.Redirect, allowed.StatusCode);
        Assert.Equal(2, await _app.WithDbAsync(db => db.Tags.CountAsync(t => db.Repositories.Any(r => r.Id == t.RepositoryId && r.Name == repository))));
    }

    [Fact]
    public async Task The_session_cookie_is_HttpOnly_and_SameSite_and_ignored_by_the_registry_API()
    {
        using var client = _app.NewClient();
        var token = await InProcessFactory.AntiforgeryTokenAsync(client, "/users/sign_in");
        using var response = await client.PostAsync("/users/sign_in", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["username"] = "root",
            ["password"] = InProcessFactory.RootPassword,
            ["__RequestVerificationToken"] = token,
        }));
        var cookie = response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("berth_session=", StringComparison.Ordinal));
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=lax", cookie, StringComparison.OrdinalIgnoreCase);

        // Signed in to the UI, but /v2 and /api/v4 still want their own credentials.
        using var v2 = await client.GetAsync("/v2/");
        Assert.Equal(HttpStatusCode.Unauthorized, v2.StatusCode);
        using var api = await client.GetAsync("/api/v4/user");
        Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode);
        using var page = await client.GetAsync("/profile");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
    }

    [Fact]
    public async Task Private_projects_are_404_for_strangers_and_pages_need_a_sign_in()
    {
        var project = await CreateProjectAsync("hidden");
        await _app.CreateUserAsync("stranger-" + project.Id, "stranger-password-1");
        using var stranger = await _app.SignedInClientAsync("stranger-" + project.Id, "stranger-password-1");
        foreach (var path in new[] { "/-/project/", "/-/registry/", "/-/settings/", "/-/members/" })
        {
            using var response = await stranger.GetAsync(path + project.FullPath);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Contains("Not found", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        using var admin = await stranger.GetAsync("/admin");
        Assert.Equal(HttpStatusCode.Forbidden, admin.StatusCode);
        using var anonymous = _app.NewClient();
        using var redirect = await anonymous.GetAsync("/profile");
        Assert.Equal(HttpStatusCode.Redirect, redirect.StatusCode);
        Assert.StartsWith("/users/sign_in", redirect.Headers.Location!.PathAndQuery, StringComparison.Ordinal);
    }
}
