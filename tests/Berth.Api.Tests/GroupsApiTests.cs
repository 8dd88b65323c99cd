using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

public sealed class GroupsApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Create_group_and_subgroup()
    {
        var (client, userId, _) = await factory.NewUserClientAsync();
        var path = ApiFactory.Unique("grp");
        var group = (await client.ApiPostAsync("/api/v4/groups", new { name = "Top Group", path })).Expect(201);
        Assert.Equal(path, group.Str("full_path"));
        Assert.Equal("private", group.Str("visibility"));
        Assert.Null(group["parent_id"]);
        var owner = (await client.ApiGetAsync($"/api/v4/groups/{group.Id()}/members/{userId}")).Expect(200);
        Assert.Equal(50, owner["access_level"]!.GetValue<int>());

        var sub = (await client.ApiPostAsync("/api/v4/groups", new { name = "Sub", path = "sub", parent_id = group.Id() })).Expect(201);
        Assert.Equal($"{path}/sub", sub.Str("full_path"));
        Assert.Equal(group.Id(), sub["parent_id"]!.GetValue<long>());
        Assert.Equal("Top Group / Sub", sub.Str("full_name"));
        var subsub = (await client.ApiPostAsync("/api/v4/groups", new { name = "Deep", path = "deep", parent_id = sub.Id() })).Expect(201);
        Assert.Equal($"{path}/sub/deep", subsub.Str("full_path"));
    }

    [Fact]
    public async Task Get_group_by_id_or_encoded_path()
    {
        var root = await factory.RootClientAsync();
        var group = await Setup.GroupAsync(root);
        var sub = await Setup.GroupAsync(root, "child", parentId: group.Id());
        Assert.Equal(group.Str("full_path"), (await root.ApiGetAsync($"/api/v4/groups/{group.Id()}")).Expect(200).Str("full_path"));
        Assert.Equal(sub.Id(), (await root.ApiGetAsync($"/api/v4/groups/{ApiHttp.Encode(sub.Str("full_path"))}")).Expect(200).Id());
        Assert.Equal(sub.Id(), (await root.ApiGetAsync($"/api/v4/groups/{ApiHttp.Encode(sub.Str("full_path").ToUpperInvariant())}")).Expect(200).Id());
        Assert.Equal("404 Group Not Found", (await root.ApiGetAsync("/api/v4/groups/no-such-group")).Expect(404).Str("message"));
    }

    [Fact]
    public async Task Subgroups_lists_direct_children()
    {
        var root = await factory.RootClientAsync();
        var group = await Setup.GroupAsync(root);
        var a = await Setup.GroupAsync(root, "a", parentId: group.Id());
        await Setup.GroupAsync(root, "b", parentId: group.Id());
        await Setup.GroupAsync(root, "inner", parentId: a.Id());
        var subs = (await root.ApiGetAsync($"/api/v4/groups/{group.Id()}/subgroups")).Expect(200).AsArray();
        Assert.Equal(["a", "b"], subs.Select(s => s!.Str("path")).Order());
    }

    [Fact]
    public async Task Subgroup_needs_Maintainer_in_the_parent()
    {
        var root = await factory.RootClientAsync();
        var group = await Setup.GroupAsync(root);
        var (dev, devId, _) = await factory.NewUserClientAsync("dev");
        var (maint, maintId, _) = await factory.NewUserClientAsync("maint");
        var (outsider, _, _) = await factory.NewUserClientAsync("out");
        await Setup.MemberAsync(root, "groups", group.Id(), devId, 30);
        await Setup.MemberAsync(root, "groups", group.Id(), maintId, 40);
        (await dev.ApiPostAsync("/api/v4/groups", new { name = "s", path = "s1", parent_id = group.Id() })).Expect(403);
        (await outsider.ApiPostAsync("/api/v4/groups", new { name = "s", path = "s2", parent_id = group.Id() })).Expect(404);
        (await maint.ApiPostAsync("/api/v4/groups", new { name = "s", path = "s3", parent_id = group.Id() })).Expect(201);
    }

    [Fact]
    public async Task Visibility_decides_who_sees_a_group()
    {
        var root = await factory.RootClientAsync();
        var priv = await Setup.GroupAsync(root, visibility: "private");
        var intern = await Setup.GroupAsync(root, visibility: "internal");
        var pub = await Setup.GroupAsync(root, visibility: "public");
        var (user, _, _) = await factory.NewUserClientAsync();
        var anonymous = factory.CreateClient();
        (await user.ApiGetAsync($"/api/v4/groups/{priv.Id()}")).Expect(404);
        (await user.ApiGetAsync($"/api/v4/groups/{intern.Id()}")).Expect(200);
        (await user.ApiGetAsync($"/api/v4/groups/{pub.Id()}")).Expect(200);
        (await anonymous.ApiGetAsync($"/api/v4/groups/{intern.Id()}")).Expect(404);
        (await anonymous.ApiGetAsync($"/api/v4/groups/{pub.Id()}")).Expect(200);

        var anonymousList = (await anonymous.ApiGetAsync("/api/v4/groups?per_page=100")).Expect(200).AsArray();
        Assert.All(anonymousList, g => Assert.Equal("public", g!.Str("visibility")));
        Assert.Empty((await user.ApiGetAsync("/api/v4/groups")).Expect(200).AsArray());
        var available = (await user.ApiGetAsync("/api/v4/groups?all_available=true&per_page=100")).Expect(200).AsArray();
        Assert.Contains(available, g => g!.Id() == intern.Id());
        Assert.DoesNotContain(available, g => g!.Id() == priv.Id());
    }

    [Fact]
    public async Task Members_of_a_subgroup_see_it_but_not_sibling_private_groups()
    {
        var root = await factory.RootClientAsync();
        var group = await Setup.GroupAsync(root);
        var sub = await Setup.GroupAsync(root, "mine", parentId: group.Id());
        var other = await Setup.GroupAsync(root, "other", parentId: group.Id());
        var (user, userId, _) = await factory.NewUserClientAsync();
        await Setup.MemberAsync(root, "groups", sub.Id(), userId, 20);
        (await user.ApiGetAsync($"/api/v4/groups/{sub.Id()}")).Expect(200);
        (await user.ApiGetAsync($"/api/v4/groups/{group.Id()}")).Expect(200);
        (await user.ApiGetAsync($"/api/v4/groups/{other.Id()}")).Expect(404);
        var mine = (await user.ApiGetAsync("/api/v4/groups")).Expect(200).AsArray();
        Assert.Equal([sub.Id()], mine.Select(g => g!.Id()));
    }

    [Fact]
    public async Task Delete_only_empty_groups_and_only_as_Owner()
    {
        var root = await factory.RootClientAsync();
        var group = await Setup.GroupAsync(root);
        var sub = await Setup.GroupAsync(root, "sub", parentId: group.Id());
        var (maint, maintId, _) = await factory.NewUserClientAsync();
        await Setup.MemberAsync(root, "groups", group.Id(), maintId, 40);
        (await maint.ApiDeleteAsync($"/api/v4/groups/{sub.Id()}")).Expect(403);
        Assert.Contains("subgroups", (await root.ApiDeleteAsync($"/api/v4/groups/{group.Id()}")).Expect(409).Str("message"));
        var project = await Setup.ProjectAsync(root, sub.Id());
        Assert.Contains("projects", (await root.ApiDeleteAsync($"/api/v4/groups/{sub.Id()}")).Expect(409).Str("message"));
        (await root.ApiDeleteAsync($"/api/v4/projects/{project.Id()}")).Expect(202);
        Assert.Equal("202 Accepted", (await root.ApiDeleteAsync($"/api/v4/groups/{sub.Id()}")).Expect(202).Str("message"));
        (await root.ApiGetAsync($"/api/v4/groups/{sub.Id()}")).Expect(404);
        (await root.ApiDeleteAsync($"/api/v4/groups/{group.Id()}")).Expect(202);
    }

    [Fact]
    public async Task Group_validation()
    {
        var root = await factory.RootClientAsync();
        Assert.Equal("name is missing", (await root.ApiPostAsync("/api/v4/groups", new { path = "x" })).Expect(400).Str("error"));
        Assert.Equal("path is missing", (await root.ApiPostAsync("/api/v4/groups", new { name = "x" })).Expect(400).Str("error"));
        Assert.NotNull((await root.ApiPostAsync("/api/v4/groups", new { name = "x", path = "bad path" })).Expect(400)["message"]!["path"]);
        (await root.ApiPostAsync("/api/v4/groups", new { name = "x", path = "v2" })).Expect(400);
        (await root.ApiPostAsync("/api/v4/groups", new { name = "x", path = "root" })).Expect(409);
        var group = await Setup.GroupAsync(root, visibility: "internal");
        (await root.ApiPostAsync("/api/v4/groups", new { name = "x", path = group.Str("path") })).Expect(409);
        (await root.ApiPostAsync("/api/v4/groups", new { name = "x", path = "pub", parent_id = group.Id(), visibility = "public" })).Expect(400);
        (await root.ApiPostAsync("/api/v4/groups", new { name = "x", path = "odd", visibility = "secret" })).Expect(400);
        (await root.ApiPostAsync("/api/v4/groups", new { name = "x", path = "orphan", parent_id = 999999 })).Expect(404);
    }

    [Fact]
    public async Task Search_groups()
    {
        var root = await factory.RootClientAsync();
        var group = await Setup.GroupAsync(root, ApiFactory.Unique("findme"));
        await Setup.GroupAsync(root);
        var found = (await root.ApiGetAsync($"/api/v4/groups?search={group.Str("path")}")).Expect(200).AsArray();
        Assert.Equal(group.Id(), Assert.Single(found)!.Id());
        var top = (await root.ApiGetAsync("/api/v4/groups?top_level_only=true&per_page=100")).Expect(200).AsArray();
        Assert.All(top, g => Assert.Null(g!["parent_id"]));
    }
}
