using System.Net;
using System.Text.RegularExpressions;
using Berth.Server.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using static Berth.Server.Tests.Infrastructure.Registry;

namespace Berth.Server.Tests;

/// <summary><c>GET /v2/&lt;name&gt;/tags/list</c>: lexical order, <c>n</c>/<c>last</c> pagination with <c>Link</c>, errors.</summary>
public sealed partial class TagListTests(BerthFactory factory) : IClassFixture<BerthFactory>
{
    private static readonly string[] Tags = ["b", "a", "C", "a1", "_x", "10", "9", "latest", "v1.0.0", "v1.0.0-rc.1", "A-"];
    private readonly HttpClient _client = factory.CreateRegistryClient();

    [GeneratedRegex("^</v2/(?<path>[^>]+)>; rel=\"next\"$")]
    internal static partial Regex NextLink();

    private async Task<string> RepoWithTagsAsync()
    {
        var repo = NewRepo();
        var image = await _client.PushImageAsync(repo, Tags[0]);
        foreach (var tag in Tags.Skip(1)) await _client.PushManifestAsync(repo, tag, image.Content, image.MediaType);
        return repo;
    }

    private static List<string> Sorted => Tags.Order(StringComparer.Ordinal).ToList();

    [Fact]
    public async Task A_large_repository_lists_completely_streamed_and_pages_without_gaps()
    {
        const int count = 20_000;
        var repo = NewRepo();
        await _client.PushImageAsync(repo, "seed");
        var expected = new List<string> { "seed" };
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            // Seeded straight into the database: 20,000 pushes would take minutes and test nothing more.
            var db = scope.ServiceProvider.GetRequiredService<Berth.Metadata.BerthDbContext>();
            var (repositoryId, manifestId) = db.Tags.Where(t => t.Name == "seed" && db.Repositories.Any(r => r.Id == t.RepositoryId && r.Name == repo))
                .Select(t => new { t.RepositoryId, t.ManifestId }).AsEnumerable().Select(x => (x.RepositoryId, x.ManifestId)).Single();
            var names = Enumerable.Range(0, count).Select(i => $"v{i % 97}.{i}-{(char)('a' + i % 26)}").ToList();
            await using var tx = await db.Database.BeginTransactionAsync();
            foreach (var chunk in names.Chunk(500))
            {
                // Tag names are generated above ([A-Za-z0-9.-] only), so they are safe inside the statement.
                var sql = "INSERT INTO tags (\"RepositoryId\", \"Name\", \"ManifestId\", \"UpdatedAt\") VALUES "
                    + string.Join(",", chunk.Select(n => $"({repositoryId}, '{n}', {manifestId}, '2026-01-01 00:00:00')"));
                await db.Database.ExecuteSqlRawAsync(sql);
            }
            await tx.CommitAsync();
            expected.AddRange(names);
        }
        expected.Sort(StringComparer.Ordinal);

        using (var all = await _client.GetAsync($"/v2/{repo}/tags/list"))
        {
            Assert.Equal(HttpStatusCode.OK, all.StatusCode);
            Assert.Null(all.Header("Link"));
            var json = await all.ReadJsonAsync();
            Assert.Equal(repo, json.GetProperty("name").GetString());
            Assert.Equal(expected, json.GetProperty("tags").EnumerateArray().Select(t => t.GetString()!).ToList());
        }

        // Paged with n=1000, following Link: every tag once, in order. Also "last" alone (no n) streams the rest.
        var paged = new List<string>();
        string? next = $"/v2/{repo}/tags/list?n=1000";
        int pages = 0;
        while (next is not null && pages++ < 100)
        {
            using var response = await _client.GetAsync(next);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var page = (await response.ReadJsonAsync()).GetProperty("tags").EnumerateArray().Select(t => t.GetString()!).ToList();
            Assert.True(page.Count <= 1000);
            paged.AddRange(page);
            next = response.Header("Link") is { } link ? "/v2/" + NextLink().Match(link).Groups["path"].Value : null;
        }
        Assert.Equal(expected, paged);
        using (var rest = await _client.GetAsync($"/v2/{repo}/tags/list?last={Uri.EscapeDataString(expected[count - 10])}"))
            Assert.Equal(expected.Skip(count - 9), (await rest.ReadJsonAsync()).GetProperty("tags").EnumerateArray().Select(t => t.GetString()!));
    }

    [Fact]
    public async Task Tags_are_listed_in_lexical_order()
    {
        var repo = await RepoWithTagsAsync();

        using var response = await _client.GetAsync($"/v2/{repo}/tags/list");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Null(response.Header("Link"));
        var json = await response.ReadJsonAsync();
        Assert.Equal(repo, json.GetProperty("name").GetString());
        Assert.Equal(Sorted, json.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
    }

    [Fact]
    public async Task Pages_follow_the_Link_header_and_the_last_page_has_none()
    {
        var repo = await RepoWithTagsAsync();
        var all = new List<string>();
        string? next = $"/v2/{repo}/tags/list?n=3";
        int pages = 0;
        string? last = null;

        while (next is not null)
        {
            using var response = await _client.GetAsync(next);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var page = (await response.ReadJsonAsync()).GetProperty("tags").EnumerateArray().Select(t => t.GetString()!).ToList();
            Assert.InRange(page.Count, 1, 3);
            all.AddRange(page);
            pages++;
            var link = response.Header("Link");
            if (link is null)
            {
                next = null;
                continue;
            }
            Assert.Equal(3, page.Count);
            Assert.Equal($"</v2/{repo}/tags/list?n=3&last={Uri.EscapeDataString(page[^1])}>; rel=\"next\"", link);
            next = "/v2/" + NextLink().Match(link).Groups["path"].Value;
            last = page[^1];
        }

        Assert.Equal(Sorted, all);
        Assert.Equal(4, pages); // 11 tags: 3 + 3 + 3 + 2
        Assert.NotNull(last);
    }

    [Fact]
    public async Task Exact_last_page_has_no_link()
    {
        var repo = await RepoWithTagsAsync();

        using var response = await _client.GetAsync($"/v2/{repo}/tags/list?n={Tags.Length}");

        Assert.Null(response.Header("Link"));
        Assert.Equal(Tags.Length, (await response.ReadJsonAsync()).GetProperty("tags").GetArrayLength());
    }

    [Fact]
    public async Task Last_alone_lists_the_tags_after_it()
    {
        var repo = await RepoWithTagsAsync();

        using var response = await _client.GetAsync($"/v2/{repo}/tags/list?last=a1");

        var tags = (await response.ReadJsonAsync()).GetProperty("tags").EnumerateArray().Select(t => t.GetString());
        Assert.Equal(Sorted.Where(t => string.CompareOrdinal(t, "a1") > 0), tags);
        Assert.Null(response.Header("Link"));
    }

    [Fact]
    public async Task N_zero_is_an_empty_list_without_link()
    {
        var repo = await RepoWithTagsAsync();

        using var response = await _client.GetAsync($"/v2/{repo}/tags/list?n=0");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Null(response.Header("Link"));
        var json = await response.ReadJsonAsync();
        Assert.Equal(repo, json.GetProperty("name").GetString());
        Assert.Equal(0, json.GetProperty("tags").GetArrayLength());
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("99999999999999999999")]
    public async Task Invalid_n_is_400(string n)
    {
        var repo = await RepoWithTagsAsync();

        using var response = await _client.GetAsync($"/v2/{repo}/tags/list?n={n}");

        await response.AssertErrorAsync(HttpStatusCode.BadRequest, "PAGINATION_NUMBER_INVALID");
    }

    [Fact]
    public async Task Unknown_repository_is_NAME_UNKNOWN()
    {
        using var response = await _client.GetAsync($"/v2/{NewRepo()}/tags/list");

        await response.AssertErrorAsync(HttpStatusCode.NotFound, "NAME_UNKNOWN");
    }

    [Fact]
    public async Task Deleted_tags_disappear_from_the_list()
    {
        var repo = await RepoWithTagsAsync();

        using (var delete = await _client.DeleteAsync($"/v2/{repo}/manifests/latest"))
            Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);

        Assert.Equal(Sorted.Where(t => t != "latest"), await _client.GetTagsAsync(repo));
    }
}
