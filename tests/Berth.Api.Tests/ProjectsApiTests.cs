using Berth.Api.Tests.Infrastructure;
using Berth.Metadata;
using Microsoft.EntityFrameworkCore;

namespace Berth.Api.Tests;

public sealed class ProjectsApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Create_project_in_a_group()
    {
        var root = await factory.RootClientAsync();
        var group = (await root.ApiPostAsync("/api/v4/groups", new { name = "Platform", path = ApiFactory.Unique("plat"), visibility = "internal" })).Expect(201);
        var project = (await root.ApiPostAsync("/api/v4/projects", new { name = "Web App", path = "web-app", namespace_id = group.Id(), visibility = "internal", description = "d" })).Expect(201);
        Assert.Equal($"{group.Str("full_path")}/web-app", project.Str("path_with_namespace"));
        Assert.Equal("Platform / Web App", project.Str("name_with_namespace"));
        Assert.Equal("web-app", project.Str("path"));
        Assert.Equal("internal", project.Str("visibility"));
        Assert.True(project["container_registry_enabled"]!.GetValue<bool>());
        Assert.Equal("enabled", project.Str("container_registry_access_level"));
        Assert.Equal("group", project["namespace"]!.Str("kind"));
        Assert.Equal(group.Id(), project["namespace"]!.Id());
        Assert.Equal(group.Str("full_path"), project["namespace"]!.Str("full_path"));
        Assert.EndsWith($"/{group.Str("full_path")}/web-app", project.Str("container_registry_image_prefix"));
    }

    [Fact]
    public async Task Create_project_with_the_registry_off()
    {
        var root = await factory.RootClientAsync();
        var group = await Setup.GroupAsync(root);
        var a = (await root.ApiPostAsync("/api/v4/projects", new { name = "a", namespace_id = group.Id(), container_registry_enabled = false })).Expect(201);
        Assert.False(a["container_registry_enabled"]!.GetValue<bool>());
        var b = (await root.ApiPostAsync("/api/v4/projects", new { name = "b", namespace_id = group.Id(), container_registry_access_level = "disabled" })).Expect(201);
        Assert.Equal("disabled", b.Str("container_registry_access_level"));
    }

    [Fact]
    public async Task Create_project_in_own_personal_namespace()
    {
        var (client, _, username) = await factory.NewUserClientAsync();
        var project = (await client.ApiPostAsync("/api/v4/projects", new { name = "Mine" })).Expect(201);
        Assert.Equal($"{username}/Mine", project.Str("path_with_namespace"));
        Assert.Equal("user", project["namespace"]!.Str("kind"));
        Assert.Equal("private", project.Str("visibility"));
        var (other, _, _) = await factory.NewUserClientAsync();
        (await other.ApiPostAsync("/api/v4/projects", new { name = "x", namespace_id = project["namespace"]!.Id() })).Expect(404);
        var root = await factory.RootClientAsync();
        (await root.ApiPostAsync("/api/v4/projects", new { name = "by-admin", namespace_id = project["namespace"]!.Id() })).Expect(201);
    }

    [Fact]
    public async Task Creating_in_a_group_needs_Developer()
    {
        var root = await factory.RootClientAsync();
        var group = await Setup.GroupAsync(root);
        var (dev, devId, _) = await factory.NewUserClientAsync("dev");
        var (reporter, reporterId, _) = await factory.NewUserClientAsync("rep");
        var (outsider, _, _) = await factory.NewUserClientAsync("out");
        await Setup.MemberAsync(root, "groups", group.Id(), devId, 30);
        await Setup.MemberAsync(root, "groups", group.Id(), reporterId, 20);
        (await reporter.ApiPostAsync("/api/v4/projects", new { name = "r", namespace_id = group.Id() })).Expect(403);
        (await outsider.ApiPostAsync("/api/v4/projects", new { name = "o", namespace_id = group.Id() })).Expect(404);
        var project = (await dev.ApiPostAsync("/api/v4/projects", new { name = "d", namespace_id = group.Id() })).Expect(201);
        // The creating Developer becomes the project's Maintainer, so they can manage it.
        Assert.Equal(40, (await root.ApiGetAsync($"/api/v4/projects/{project.Id()}/members/{devId}")).Expect(200)["access_level"]!.GetValue<int>());
        (await dev.ApiPutAsync($"/api/v4/projects/{project.Id()}", new { description = "mine" })).Expect(200);
    }

    [Fact]
    public async Task Get_by_id_or_encoded_path()
    {
        var root = await factory.RootClientAsync();
        var group = await Setup.GroupAsync(root);
        var sub = await Setup.GroupAsync(root, "sub", parentId: group.Id());
        var project = await Setup.ProjectAsync(root, sub.Id(), "app");
        var path = project.Str("path_with_namespace");
        Assert.Equal(project.Id(), (await root.ApiGetAsync($"/api/v4/projects/{project.Id()}")).Expect(200).Id());
        Assert.Equal(project.Id(), (await root.ApiGetAsync($"/api/v4/projects/{ApiHttp.Encode(path)}")).Expect(200).Id());
        Assert.Equal("404 Project Not Found", (await root.ApiGetAsync($"/api/v4/projects/{ApiHttp.Encode(path + "x")}")).Expect(404).Str("message"));
        (await root.ApiGetAsync("/api/v4/projects/999999")).Expect(404);
    }

    [Fact]
    public async Task Visibility_decides_who_sees_a_project()
    {
        var root = await factory.RootClientAsync();
        var group = await Setup.GroupAsync(root, visibility: "public");
        var priv = await Setup.ProjectAsync(root, group.Id(), visibility: "private");
        var intern = await Setup.ProjectAsync(root, group.Id(), visibility: "internal");
        var pub = await Setup.ProjectAsync(root, group.Id(), visibility: "public");
        var (user, userId, _) = await factory.NewUserClientAsync();
        var anonymous = factory.CreateClient();

        (await user.ApiGetAsync($"/api/v4/projects/{priv.Id()}")).Expect(404);
        (await user.ApiGetAsync($"/api/v4/projects/{intern.Id()}")).Expect(200);
        (await user.ApiGetAsync($"/api/v4/projects/{pub.Id()}")).Expect(200);
        (await anonymous.ApiGetAsync($"/api/v4/projects/{priv.Id()}")).Expect(404);
        (await anonymous.ApiGetAsync($"/api/v4/projects/{intern.Id()}")).Expect(404);
        (await anonymous.ApiGetAsync($"/api/v4/projects/{pub.Id()}")).Expect(200);

        var listed = (await user.ApiGetAsync($"/api/v4/groups/{group.Id()}/projects")).Expect(200).AsArray().Select(p => p!.Id()).ToList();
        Assert.Equal([pub.Id(), intern.Id()], listed);
        var anonymousListed = (await anonymous.ApiGetAsync($"/api/v4/groups/{group.Id()}/projects")).Expect(200).AsArray().Select(p => p!.Id()).ToList();
        Assert.Equal([pub.Id()], anonymousListed);

        await Setup.MemberAsync(root, "projects", priv.Id(), userId, 10);
        (await user.ApiGetAsync($"/api/v4/projects/{priv.Id()}")).Expect(200);
        var mine = (await user.ApiGetAsync("/api/v4/projects?membership=true")).Expect(200).AsArray().Select(p => p!.Id()).ToList();
        Assert.Equal([priv.Id()], mine);
    }

    [Fact]
    public async Task Update_needs_Maintainer()
    {
        var root = await factory.RootClientAsync();
        var group = await Setup.GroupAsync(root, visibility: "internal");
        var project = await Setup.ProjectAsync(root, group.Id());
        var (dev, devId, _) = await factory.NewUserClientAsync("dev");
        var (maint, maintId, _) = await factory.NewUserClientAsync("maint");
        await Setup.MemberAsync(root, "projects", project.Id(), devId, 30);
        await Setup.MemberAsync(root, "projects", project.Id(), maintId, 40);
        (await dev.ApiPutAsync($"/api/v4/projects/{project.Id()}", new { container_registry_enabled = false })).Expect(403);

        var off = (await maint.ApiPutAsync($"/api/v4/projects/{project.Id()}", new { container_registry_enabled = false, name = "Renamed", description = "about" })).Expect(200);
        Assert.False(off["container_registry_enabled"]!.GetValue<bool>());
        Assert.Equal("disabled", off.Str("container_registry_access_level"));
        Assert.Equal("Renamed", off.Str("name"));
        Assert.Equal("about", off.Str("description"));
        var on = (await maint.ApiPutAsync($"/api/v4/projects/{project.Id()}", new { container_registry_access_level = "enabled" })).Expect(200);
        Assert.True(on["container_registry_enabled"]!.GetValue<bool>());
        Assert.Equal("internal", (await maint.ApiPutAsync($"/api/v4/projects/{project.Id()}", new { visibility = "internal" })).Expect(200).Str("visibility"));

        (await maint.ApiPutAsync($"/api/v4/projects/{project.Id()}", new { visibility = "public" })).Expect(400);
        (await maint.ApiPutAsync($"/api/v4/projects/{project.Id()}", new { visibility = "everyone" })).Expect(400);
        (await maint.ApiPutAsync($"/api/v4/projects/{project.Id()}", new { container_registry_access_level = "private" })).Expect(400);
        (await maint.ApiPutAsync($"/api/v4/projects/{project.Id()}", new { path = "moved" })).Expect(403); // changing the path (repositories follow) needs Owner

        var stored = await factory.WithDbAsync(d => d.Projects.SingleAsync(p => p.Id == project.Id()));
        Assert.True(stored.RegistryEnabled);
    }

    [Fact]
    public async Task Form_encoded_updates_work_too()
    {
        var root = await factory.RootClientAsync();
        var project = await Setup.ProjectAsync(root, null);
        using var response = await root.PutAsync($"/api/v4/projects/{project.Id()}",
            new FormUrlEncodedContent(new Dictionary<string, string> { ["container_registry_enabled"] = "false" }));
        Assert.Equal(200, (int)response.StatusCode);
        Assert.False((await root.ApiGetAsync($"/api/v4/projects/{project.Id()}")).Expect(200)["container_registry_enabled"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Delete_needs_Owner_and_removes_the_projects_repositories()
    {
        var root = await factory.RootClientAsync();
        var group = await Setup.GroupAsync(root);
        var project = await Setup.ProjectAsync(root, group.Id(), "app");
        var sibling = await Setup.ProjectAsync(root, group.Id(), "app-two");
        var (maint, maintId, _) = await factory.NewUserClientAsync();
        await Setup.MemberAsync(root, "projects", project.Id(), maintId, 40);
        var path = project.Str("path_with_namespace");
        var siblingPath = sibling.Str("path_with_namespace");
        await factory.WithDbAsync(async db =>
        {
            foreach (var name in new[] { path, path + "/api", path + "/api/build", siblingPath, siblingPath + "/x" })
                db.Repositories.Add(new RepositoryEntity { Name = name, CreatedAt = DateTime.UtcNow });
            return await db.SaveChangesAsync();
        });
        var token = (await root.ApiPostAsync($"/api/v4/projects/{project.Id()}/deploy_tokens", new { name = "d", scopes = new[] { "read_registry" } })).Expect(201);

        (await maint.ApiDeleteAsync($"/api/v4/projects/{project.Id()}")).Expect(403);
        Assert.Equal("202 Accepted", (await root.ApiDeleteAsync($"/api/v4/projects/{project.Id()}")).Expect(202).Str("message"));
        (await root.ApiGetAsync($"/api/v4/projects/{project.Id()}")).Expect(404);

        var left = await factory.WithDbAsync(db => db.Repositories.Where(r => r.Name.StartsWith(group.Str("full_path") + "/")).Select(r => r.Name).ToListAsync());
        Assert.Equal([siblingPath, siblingPath + "/x"], left.Order());
        Assert.False(await factory.WithDbAsync(db => db.DeployTokens.AnyAsync(t => t.Id == token.Id())));
    }

    [Fact]
    public async Task Project_validation()
    {
        var root = await factory.RootClientAsync();
        var group = await Setup.GroupAsync(root);
        await Setup.GroupAsync(root, "taken", parentId: group.Id());
        await Setup.ProjectAsync(root, group.Id(), "app");
        Assert.Contains("missing", (await root.ApiPostAsync("/api/v4/projects", new { namespace_id = group.Id() })).Expect(400).Str("error"));
        (await root.ApiPostAsync("/api/v4/projects", new { name = "x", path = "APP", namespace_id = group.Id() })).Expect(409);
        (await root.ApiPostAsync("/api/v4/projects", new { name = "x", path = "taken", namespace_id = group.Id() })).Expect(409);
        (await root.ApiPostAsync("/api/v4/projects", new { name = "x", path = "a b", namespace_id = group.Id() })).Expect(400);
        (await root.ApiPostAsync("/api/v4/projects", new { name = "x", path = "x.git", namespace_id = group.Id() })).Expect(400);
        (await root.ApiPostAsync("/api/v4/projects", new { name = "x", namespace_id = group.Id(), visibility = "public" })).Expect(400);
        (await root.ApiPostAsync("/api/v4/projects", new { name = "x", namespace_id = 999999 })).Expect(404);
        // A subgroup cannot take a project's path either.
        (await root.ApiPostAsync("/api/v4/groups", new { name = "x", path = "app", parent_id = group.Id() })).Expect(409);
    }

    [Fact]
    public async Task List_and_search_projects()
    {
        var root = await factory.RootClientAsync();
        var group = await Setup.GroupAsync(root);
        var needle = await Setup.ProjectAsync(root, group.Id(), ApiFactory.Unique("needle"));
        await Setup.ProjectAsync(root, group.Id());
        var found = (await root.ApiGetAsync($"/api/v4/projects?search={needle.Str("path")}")).Expect(200).AsArray();
        Assert.Equal(needle.Id(), Assert.Single(found)!.Id());
        var all = (await root.ApiGetAsync("/api/v4/projects?per_page=100&order_by=id&sort=asc")).Expect(200).AsArray().Select(p => p!.Id()).ToList();
        Assert.Equal(all.Order(), all);
        var (client, _, _) = await factory.NewUserClientAsync();
        var own = (await client.ApiPostAsync("/api/v4/projects", new { name = "own" })).Expect(201);
        Assert.Equal([own.Id()], (await client.ApiGetAsync("/api/v4/projects?owned=true")).Expect(200).AsArray().Select(p => p!.Id()));
    }
}
