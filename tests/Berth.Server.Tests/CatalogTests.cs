using System.Net;
using Berth.Server.Tests.Infrastructure;
using static Berth.Server.Tests.Infrastructure.Registry;

namespace Berth.Server.Tests;

/// <summary><c>GET /v2/_catalog</c> on an app of its own: repositories holding manifests, lexical order, pagination.</summary>
public sealed class CatalogTests(BerthFactory factory) : IClassFixture<BerthFactory>, IAsyncLifetime
{
    private static readonly string[] Repositories = ["zeta", "alpha/one", "alpha", "group/sub/project/image", "alpha-b", "beta/x"];
    private readonly HttpClient _client = factory.CreateRegistryClient();

    private static List<string> Sorted => Repositories.Order(StringComparer.Ordinal).ToList();

    public async Task InitializeAsync()
    {
        using var probe = await _client.GetAsync("/v2/_catalog");
        if ((await probe.ReadJsonAsync()).GetProperty("repositories").GetArrayLength() > 0) return; // the fixture is shared by this class's tests
        foreach (var repo in Repositories) await _client.PushImageAsync(repo, "latest");
        await _client.PushBlobAsync("blobs-only", [1, 2, 3]); // holds no manifest: not listed
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private static List<string> Names(System.Text.Json.JsonElement json) =>
        json.GetProperty("repositories").EnumerateArray().Select(r => r.GetString()!).ToList();

    [Fact]
    public async Task Catalog_lists_repositories_with_manifests_in_lexical_order()
    {
        using var response = await _client.GetAsync("/v2/_catalog");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Null(response.Header("Link"));
        Assert.Equal(Sorted, Names(await response.ReadJsonAsync()));
    }

    [Fact]
    public async Task Catalog_pages_follow_the_Link_header()
    {
        var all = new List<string>();
        string? next = "/v2/_catalog?n=4";
        while (next is not null)
        {
            using var response = await _client.GetAsync(next);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var page = Names(await response.ReadJsonAsync());
            all.AddRange(page);
            var link = response.Header("Link");
            if (link is null) break;
            Assert.Equal($"</v2/_catalog?n=4&last={Uri.EscapeDataString(page[^1])}>; rel=\"next\"", link);
            next = link[1..link.IndexOf('>')];
        }

        Assert.Equal(Sorted, all);
    }

    [Fact]
    public async Task Catalog_last_skips_to_the_names_after_it()
    {
        using var response = await _client.GetAsync("/v2/_catalog?n=2&last=alpha-b");

        Assert.Equal(["alpha/one", "beta/x"], Names(await response.ReadJsonAsync()));
        Assert.Equal("</v2/_catalog?n=2&last=beta%2Fx>; rel=\"next\"", response.Header("Link"));
    }

    [Fact]
    public async Task Catalog_n_zero_is_empty_and_invalid_n_is_400()
    {
        using (var zero = await _client.GetAsync("/v2/_catalog?n=0"))
        {
            Assert.Equal(HttpStatusCode.OK, zero.StatusCode);
            Assert.Empty(Names(await zero.ReadJsonAsync()));
            Assert.Null(zero.Header("Link"));
        }
        using var invalid = await _client.GetAsync("/v2/_catalog?n=many");
        await invalid.AssertErrorAsync(HttpStatusCode.BadRequest, "PAGINATION_NUMBER_INVALID");
    }
}
