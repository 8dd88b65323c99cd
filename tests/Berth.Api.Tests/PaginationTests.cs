using Berth.Api.Tests.Infrastructure;

namespace Berth.Api.Tests;

public sealed class PaginationTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : throw new Xunit.Sdk.XunitException($"no {name} header");

    [Fact]
    public async Task Headers_and_links()
    {
        var root = await factory.RootClientAsync();
        var group = await Setup.GroupAsync(root);
        for (int i = 0; i < 25; i++) await Setup.ProjectAsync(root, group.Id(), $"p{i:00}");
        var url = $"/api/v4/groups/{group.Id()}/projects?order_by=path&sort=asc";

        using (var response = await root.GetAsync(url + "&per_page=10&page=2"))
        {
            Assert.Equal(200, (int)response.StatusCode);
            Assert.Equal("2", Header(response, "X-Page"));
            Assert.Equal("10", Header(response, "X-Per-Page"));
            Assert.Equal("25", Header(response, "X-Total"));
            Assert.Equal("3", Header(response, "X-Total-Pages"));
            Assert.Equal("3", Header(response, "X-Next-Page"));
            Assert.Equal("1", Header(response, "X-Prev-Page"));
            var link = Header(response, "Link");
            Assert.Contains("rel=\"next\"", link);
            Assert.Contains("rel=\"prev\"", link);
            Assert.Contains("rel=\"first\"", link);
            Assert.Contains("rel=\"last\"", link);
            Assert.Contains("page=3", link);
            Assert.Contains("order_by=path", link);
            Assert.StartsWith("<http://", link);
            var items = System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsArray();
            Assert.Equal(Enumerable.Range(10, 10).Select(i => $"p{i:00}"), items.Select(p => p!.Str("path")));
        }

        using (var response = await root.GetAsync(url + "&per_page=10&page=3"))
        {
            Assert.Equal("", Header(response, "X-Next-Page"));
            Assert.Equal("2", Header(response, "X-Prev-Page"));
            Assert.DoesNotContain("rel=\"next\"", Header(response, "Link"));
            Assert.Equal(5, System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsArray().Count);
        }

        using (var response = await root.GetAsync(url))
        {
            Assert.Equal("20", Header(response, "X-Per-Page"));
            Assert.Equal("1", Header(response, "X-Page"));
            Assert.Equal("", Header(response, "X-Prev-Page"));
            Assert.Equal(20, System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsArray().Count);
        }

        using (var response = await root.GetAsync(url + "&per_page=1000"))
            Assert.Equal("100", Header(response, "X-Per-Page"));

        Assert.Equal("page is invalid", (await root.ApiGetAsync(url + "&page=abc")).Expect(400).Str("error"));
    }

    [Theory]
    [InlineData("/api/v4/users")]
    [InlineData("/api/v4/groups")]
    [InlineData("/api/v4/projects")]
    [InlineData("/api/v4/personal_access_tokens")]
    [InlineData("/api/v4/namespaces")]
    public async Task Every_list_is_paginated(string url)
    {
        var root = await factory.RootClientAsync();
        await Setup.ProjectAsync(root, (await Setup.GroupAsync(root)).Id());
        using var response = await root.GetAsync(url + "?per_page=1");
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("1", Header(response, "X-Per-Page"));
        Assert.True(int.Parse(Header(response, "X-Total")) >= 1);
    }
}
