using System.Diagnostics;
using System.Net;
using Berth.Auth.Accounts;
using Berth.Server.Web;
using Berth.Web.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Berth.Web.Tests;

/// <summary>Runs alone (no other test in parallel), so the timings measure the page, not the neighbours.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingCollection
{
    /// <summary>Collection name.</summary>
    public const string Name = "timing";
}

/// <summary>The tag list with 10,000 tags: sizes, platforms, paging and how long a page takes to render.</summary>
[Collection(TimingCollection.Name)]
public sealed class TagListTests(InProcessFactory app, ITestOutputHelper output) : IClassFixture<InProcessFactory>
{
    [Fact]
    public async Task A_page_of_10000_tags_renders_in_under_200_ms_with_sizes_and_platforms()
    {
        var project = await app.WithServicesAsync(async sp =>
        {
            var root = await sp.GetRequiredService<AccountService>().GetUserAsync("root", CancellationToken.None);
            var group = await sp.GetRequiredService<GroupService>().CreateGroupAsync(new NewGroup("big", "big"), root.Id, CancellationToken.None);
            return await sp.GetRequiredService<ProjectService>().CreateProjectAsync(new NewProject(group.Id, "many", "many"), root.Id, CancellationToken.None);
        });
        var repository = project.FullPath + "/app";
        var (repositoryId, images) = await app.WithDbAsync(db => RegistrySeed.SeedAsync(db, repository, 10_000, 20));
        var indexDigest = await app.WithDbAsync(db => RegistrySeed.SeedIndexAsync(db, repositoryId, "zz-multi", images));
        using var client = await app.SignedInClientAsync("root", InProcessFactory.RootPassword);

        // Warm up (Razor, EF query compilation), then time each page a few times.
        await client.GetStringAsync("/-/tags/" + repository);
        var timings = new List<(string Page, double Median, double Max)>();
        foreach (var query in new[] { "", "?page=2", "?page=100", "?page=201", "?sort=newest", "?sort=oldest&page=150", "?sort=-name&per=100", "?q=t099" })
        {
            var runs = new List<double>();
            (await client.GetAsync("/-/tags/" + repository + query)).Dispose(); // first use of this query shape
            for (int i = 0; i < 7; i++)
            {
                var watch = Stopwatch.StartNew();
                using var response = await client.GetAsync("/-/tags/" + repository + query);
                var html = await response.Content.ReadAsStringAsync();
                watch.Stop();
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Contains("<table>", html, StringComparison.Ordinal);
                runs.Add(watch.Elapsed.TotalMilliseconds);
            }
            runs.Sort();
            timings.Add((query == "" ? "(first page)" : query, runs[runs.Count / 2], runs[^1]));
        }
        foreach (var (page, median, max) in timings)
            output.WriteLine($"10,001 tags, GET /-/tags/…{page}: median {median:F1} ms, max {max:F1} ms");
        Assert.All(timings, t => Assert.True(t.Median < 200, $"{t.Page} took {t.Median:F1} ms (median)"));

        // Page 1: 50 rows of 10,001, sizes of config + layers.
        var first = WebUtility.HtmlDecode(await client.GetStringAsync("/-/tags/" + repository));
        Assert.Contains("1–50 of 10,001", first, StringComparison.Ordinal);
        Assert.Contains($"title=\"{images[0].Digest}\"", first, StringComparison.Ordinal);
        Assert.Contains(WebFormat.Bytes(images[0].Size), first, StringComparison.Ordinal);

        // The index: its platforms and the distinct blobs of both platforms (the shared layer once).
        var last = WebUtility.HtmlDecode(await client.GetStringAsync("/-/tags/" + repository + "?q=zz-multi"));
        Assert.Contains("linux/amd64", last, StringComparison.Ordinal);
        Assert.Contains("linux/arm64/v8", last, StringComparison.Ordinal);
        Assert.Contains($"title=\"{indexDigest}\"", last, StringComparison.Ordinal);
        long indexSize = images[0].Size + images[1].Size - 1_000_000;
        Assert.Contains(WebFormat.ExactBytes(indexSize), last, StringComparison.Ordinal);

        // The repository list: 10,001 tags, the size of the distinct blobs.
        var list = WebUtility.HtmlDecode(await client.GetStringAsync("/-/registry/" + project.FullPath));
        long total = images.Sum(i => i.Size) - (images.Count - 1) * 1_000_000L;
        Assert.Contains("10,001", list, StringComparison.Ordinal);
        Assert.Contains(WebFormat.ExactBytes(total), list, StringComparison.Ordinal);
    }

    [Fact]
    public void Sizes_are_human_readable()
    {
        Assert.Equal("512 B", WebFormat.Bytes(512));
        Assert.Equal("1.5 KiB", WebFormat.Bytes(1536));
        Assert.Equal("2.9 MiB", WebFormat.Bytes(3_000_000));
        Assert.Equal("120 MiB", WebFormat.Bytes(120 * 1024 * 1024));
        Assert.Equal("abcdef012345", WebFormat.ShortDigest("sha256:abcdef0123456789"));
    }
}
