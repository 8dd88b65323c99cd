using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

public sealed class MembersApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Theory]
    [InlineData("projects")]
    [InlineData("groups")]
    public async Task Add_get_update_remove(string kind)
    {
        var root = await factory.RootClientAsync();
        var group = await Setup.GroupAsync(root);
        var id = kind == "groups" ? group.Id() : (await Setup.ProjectAsync(root, group.Id())).Id();
        var (_, userId, username) = await factory.NewUserClientAsync();

        var added = (await root.ApiPostAsync($"/api/v4/{kind}/{id}/members", new { user_id = userId, access_level = 30, expires_at = "2099-12-31" })).Expect(201);
        Assert.Equal(userId, added.Id());
        Assert.Equal(username, added.Str("username"));
        Assert.Equal(30, added["access_level"]!.GetValue<int>());
        Assert.Equal("2099-12-31", added.Str("expires_at"));
        Assert.Equal("active", added.Str("state"));

        var list = (await root.ApiGetAsync($"/api/v4/{kind}/{id}/members")).Expect(200).AsArray();
        Assert.Contains(list, m => m!.Id() == userId);
        Assert.Equal(30, (await root.ApiGetAsync($"/api/v4/{kind}/{id}/members/{userId}")).Expect(200)["access_level"]!.GetValue<int>());

        var updated = (await root.ApiPutAsync($"/api/v4/{kind}/{id}/members/{userId}", new { access_level = 40 })).Expect(200);
        Assert.Equal(40, updated["access_level"]!.GetValue<int>());
        Assert.Equal("2099-12-31", updated.Str("expires_at"));

        (await root.ApiDeleteAsync($"/api/v4/{kind}/{id}/members/{userId}")).Expect(204);
        Assert.Equal("404 Member Not Found", (await root.ApiGetAsync($"/api/v4/{kind}/{id}/members/{userId}")).Expect(404).Str("message"));
    }

    [Fact]
    public async Task Member_validation()
    {
        var root = await factory.RootClientAsync();
        var project = await Setup.ProjectAsync(root, (await Setup.GroupAsync(root)).Id());
        var (_, userId, _) = await factory.NewUserClientAsync();
        var url = $"/api/v4/projects/{project.Id()}/members";
        Assert.Equal("user_id is missing", (await root.ApiPostAsync(url, new { access_level = 30 })).Expect(400).Str("error"));
        Assert.Equal("access_level is missing", (await root.ApiPostAsync(url, new { user_id = userId })).Expect(400).Str("error"));
        (await root.ApiPostAsync(url, new { user_id = userId, access_level = 35 })).Expect(400);
        (await root.ApiPostAsync(url, new { user_id = 999999, access_level = 30 })).Expect(404);
        (await root.ApiPostAsync(url, new { user_id = userId, access_level = 30, expires_at = "2000-01-01" })).Expect(400);
        (await root.ApiPostAsync(url, new { user_id = userId, access_level = 30 })).Expect(201);
        Assert.Equal("Member already exists", (await root.ApiPostAsync(url, new { user_id = userId, access_level = 30 })).Expect(409).Str("message"));
    }

    [Fact]
    public async Task Managing_members_needs_Maintainer_and_Owner_for_Owners()
    {
        var root = await factory.RootClientAsync();
        var group = await Setup.GroupAsync(root);
        var project = await Setup.ProjectAsync(root, group.Id());
        var (dev, devId, _) = await factory.NewUserClientAsync("dev");
        var (maint, maintId, _) = await factory.NewUserClientAsync("maint");
        var (owner, ownerId, _) = await factory.NewUserClientAsync("owner");
        var (_, otherId, _) = await factory.NewUserClientAsync("other");
        await Setup.MemberAsync(root, "projects", project.Id(), devId, 30);
        await Setup.MemberAsync(root, "projects", project.Id(), maintId, 40);
        await Setup.MemberAsync(root, "groups", group.Id(), ownerId, 50);
        var url = $"/api/v4/projects/{project.Id()}/members";

        (await dev.ApiPostAsync(url, new { user_id = otherId, access_level = 10 })).Expect(403);
        (await maint.ApiPostAsync(url, new { user_id = otherId, access_level = 50 })).Expect(403);
        (await maint.ApiPostAsync(url, new { user_id = otherId, access_level = 40 })).Expect(201);
        (await maint.ApiPutAsync($"{url}/{otherId}", new { access_level = 50 })).Expect(403);
        (await owner.ApiPutAsync($"{url}/{otherId}", new { access_level = 50 })).Expect(200);
        (await maint.ApiDeleteAsync($"{url}/{otherId}")).Expect(403);
        (await owner.ApiDeleteAsync($"{url}/{otherId}")).Expect(204);
        (await dev.ApiDeleteAsync($"{url}/{maintId}")).Expect(403);
        // Anyone may leave.
        (await dev.ApiDeleteAsync($"{url}/{devId}")).Expect(204);
    }

    [Fact]
    public async Task A_group_keeps_its_last_Owner()
    {
        var (client, userId, _) = await factory.NewUserClientAsync();
        var group = await Setup.GroupAsync(client);
        var body = (await client.ApiDeleteAsync($"/api/v4/groups/{group.Id()}/members/{userId}")).Expect(403);
        Assert.Contains("Owner", body.Str("message"));
        (await client.ApiPutAsync($"/api/v4/groups/{group.Id()}/members/{userId}", new { access_level = 40 })).Expect(403);
    }

    [Fact]
    public async Task All_members_include_inherited_ones()
    {
        var root = await factory.RootClientAsync();
        var group = await Setup.GroupAsync(root);
        var sub = await Setup.GroupAsync(root, "sub", parentId: group.Id());
        var project = await Setup.ProjectAsync(root, sub.Id());
        var (_, a, _) = await factory.NewUserClientAsync("a");
        var (_, b, _) = await factory.NewUserClientAsync("b");
        await Setup.MemberAsync(root, "groups", group.Id(), a, 20);
        await Setup.MemberAsync(root, "projects", project.Id(), a, 40);
        await Setup.MemberAsync(root, "groups", sub.Id(), b, 30);
        var direct = (await root.ApiGetAsync($"/api/v4/projects/{project.Id()}/members")).Expect(200).AsArray();
        Assert.Equal([a], direct.Select(m => m!.Id()));
        var all = (await root.ApiGetAsync($"/api/v4/projects/{project.Id()}/members/all")).Expect(200).AsArray();
        Assert.Equal(40, all.Single(m => m!.Id() == a)!["access_level"]!.GetValue<int>());
        Assert.Equal(30, all.Single(m => m!.Id() == b)!["access_level"]!.GetValue<int>());
        Assert.Contains(all, m => m!.Str("username") == "root");
        var subAll = (await root.ApiGetAsync($"/api/v4/groups/{sub.Id()}/members/all")).Expect(200).AsArray();
        Assert.Equal(20, subAll.Single(m => m!.Id() == a)!["access_level"]!.GetValue<int>());
    }

    [Fact]
    public async Task Group_membership_is_inherited_by_projects()
    {
        var root = await factory.RootClientAsync();
        var group = await Setup.GroupAsync(root);
        var sub = await Setup.GroupAsync(root, "sub", parentId: group.Id());
        var project = await Setup.ProjectAsync(root, sub.Id());
        var (maint, maintId, _) = await factory.NewUserClientAsync();
        (await maint.ApiGetAsync($"/api/v4/projects/{project.Id()}")).Expect(404);
        await Setup.MemberAsync(root, "groups", group.Id(), maintId, 40);
        (await maint.ApiPutAsync($"/api/v4/projects/{project.Id()}", new { description = "inherited" })).Expect(200);
    }

    [Fact]
    public async Task Members_of_personal_namespaces_are_not_groups()
    {
        var (client, _, username) = await factory.NewUserClientAsync();
        (await client.ApiGetAsync($"/api/v4/groups/{username}/members")).Expect(404);
    }
}
