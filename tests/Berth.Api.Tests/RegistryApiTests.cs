using System.Net;
using System.Text.Json.Nodes;
using Berth.Api.Tests.Infrastructure;
using Berth.Metadata;
using Berth.Server.Registry;
using Microsoft.AspNetCore.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Berth.Api.Tests;

/// <summary>
/// GitLab's container registry REST API on Berth: repository and tag listings, repository details with the
/// deduplicated size, single and bulk tag deletes (GitLab's semantics: full-match regexes, <c>latest</c> kept,
/// <c>keep_n</c> by update time, <c>older_than</c>), asynchronous repository deletes finished by the lifecycle worker,
/// protected tags, cleanup policies run by the background scheduler on a test clock, and renames/transfers.
/// </summary>
public sealed class RegistryApiTests : IDisposable
{
    private readonly ApiFactory _factory;
    private readonly TestClock _clock = new();
    private HttpClient? _root;

    public RegistryApiTests()
    {
        _factory = new ApiFactory(b =>
        {
            b.UseSetting("Registry:Lifecycle:IntervalSeconds", "1");
            b.ConfigureServices(s => s.AddSingleton<TimeProvider>(_clock));
        });
    }

    public void Dispose() => _factory.Dispose();

    private HttpClient Root => _root ??= _factory.RootClientAsync().GetAwaiter().GetResult();

    private HttpClient RootV2 => _factory.V2Client("root", ApiFactory.RootPassword);

    private async Task<(long Id, string Path)> ProjectAsync(long? namespaceId = null)
    {
        var project = await Setup.ProjectAsync(Root, namespaceId);
        return (project["id"]!.GetValue<long>(), project.Str("path_with_namespace"));
    }

    private static List<string> Names(JsonNode list, string field = "name") => list.AsArray().Select(x => x![field]!.GetValue<string>()).ToList();

    private async Task<long> RepositoryIdAsync(long projectId, string name)
    {
        var list = (await Root.ApiGetAsync($"/api/v4/projects/{projectId}/registry/repositories")).Expect(200);
        return list.AsArray().Single(r => r!.Str("path") == name)!["id"]!.GetValue<long>();
    }

    private async Task<List<string>> TagsAsync(long projectId, long repositoryId)
    {
        var tags = (await Root.ApiGetAsync($"/api/v4/projects/{projectId}/registry/repositories/{repositoryId}/tags?per_page=100")).Expect(200);
        return Names(tags).Order(StringComparer.Ordinal).ToList();
    }

    [Fact]
    public async Task Repositories_and_tags_are_listed_detailed_and_deleted()
    {
        var (projectId, path) = await ProjectAsync();
        var v2 = RootV2;
        var app = $"{path}/app";
        var v1 = await TestRegistry.PushAsync(v2, app, "v1", "shared base layer", "v1 layer");
        _clock.Advance(TimeSpan.FromMinutes(1));
        var v2Image = await TestRegistry.PushAsync(v2, app, "v2", "shared base layer", "v2 layer");
        _clock.Advance(TimeSpan.FromMinutes(1));
        var latest = await TestRegistry.PushAsync(v2, app, "latest", "shared base layer", "v2 layer");
        await TestRegistry.PushAsync(v2, path, "root", "root image layer");

        var list = (await Root.ApiGetAsync($"/api/v4/projects/{projectId}/registry/repositories?tags=true&tags_count=true")).Expect(200);
        Assert.Equal([path, app], Names(list, "path").Order(StringComparer.Ordinal));
        var appJson = list.AsArray().Single(r => r!.Str("path") == app)!;
        Assert.Equal("app", appJson.Str("name"));
        Assert.Equal(projectId, appJson["project_id"]!.GetValue<long>());
        Assert.Equal(3, appJson["tags_count"]!.GetValue<int>());
        Assert.Equal(["latest", "v1", "v2"], Names(appJson["tags"]!));
        Assert.EndsWith($"/{app}", appJson.Str("location"));
        Assert.Null(appJson["status"]);
        var plain = (await Root.ApiGetAsync($"/api/v4/projects/{projectId}/registry/repositories")).Expect(200);
        Assert.Null(plain[0]!["tags"]);

        long repositoryId = appJson["id"]!.GetValue<long>();
        var details = (await Root.ApiGetAsync($"/api/v4/registry/repositories/{repositoryId}?size=true&tags_count=true")).Expect(200);
        long expected = v1.Blobs.Concat(v2Image.Blobs).Concat(latest.Blobs).DistinctBy(b => b.Key).Sum(b => b.Value);
        Assert.Equal(expected, details["size"]!.GetValue<long>());
        Assert.Equal(3, details["tags_count"]!.GetValue<int>());

        using (var page = await Root.GetAsync($"/api/v4/projects/{projectId}/registry/repositories/{repositoryId}/tags?per_page=2&order_by=name"))
        {
            Assert.Equal("3", page.Headers.GetValues("X-Total").Single());
            Assert.Equal(["latest", "v1"], Names(JsonNode.Parse(await page.Content.ReadAsStringAsync())!));
        }
        var newest = (await Root.ApiGetAsync($"/api/v4/projects/{projectId}/registry/repositories/{repositoryId}/tags?order_by=updated_at&sort=desc")).Expect(200);
        Assert.Equal(["latest", "v2", "v1"], Names(newest));
        (await Root.ApiGetAsync($"/api/v4/projects/{projectId}/registry/repositories/{repositoryId}/tags?order_by=size")).Expect(400);

        var tag = (await Root.ApiGetAsync($"/api/v4/projects/{projectId}/registry/repositories/{repositoryId}/tags/v1")).Expect(200);
        Assert.Equal(v1.Digest, tag.Str("digest"));
        Assert.Equal(v1.Blobs.Values.Sum(), tag["total_size"]!.GetValue<long>());
        Assert.Equal(9, tag.Str("short_revision").Length);

        (await Root.ApiDeleteAsync($"/api/v4/projects/{projectId}/registry/repositories/{repositoryId}/tags/v1")).Expect(200);
        (await Root.ApiGetAsync($"/api/v4/projects/{projectId}/registry/repositories/{repositoryId}/tags/v1")).Expect(404);
        (await Root.ApiDeleteAsync($"/api/v4/projects/{projectId}/registry/repositories/{repositoryId}/tags/v1")).Expect(404);
        Assert.Equal(HttpStatusCode.NotFound, (await TestRegistry.GetManifestAsync(v2, app, "v1")).Status);
        Assert.Equal(HttpStatusCode.OK, (await TestRegistry.GetManifestAsync(v2, app, "v2")).Status);

        // A repository of another project is not reachable through this project.
        var (otherId, _) = await ProjectAsync();
        (await Root.ApiGetAsync($"/api/v4/projects/{otherId}/registry/repositories/{repositoryId}/tags")).Expect(404);

        // Group listing: projects of the group and its subgroups.
        var group = await Setup.GroupAsync(Root);
        var (_, groupProject) = await ProjectAsync(group["id"]!.GetValue<long>());
        await TestRegistry.PushAsync(v2, $"{groupProject}/web", "1.0", "group image");
        var groupList = (await Root.ApiGetAsync($"/api/v4/groups/{group["id"]}/registry/repositories?tags_count=true")).Expect(200);
        Assert.Equal([$"{groupProject}/web"], Names(groupList, "path"));
        Assert.Equal(1, groupList[0]!["tags_count"]!.GetValue<int>());
    }

    [Fact]
    public async Task Bulk_delete_follows_gitlabs_rules()
    {
        var (projectId, path) = await ProjectAsync();
        var v2 = RootV2;
        var repo = $"{path}/bulk";
        foreach (var tag in new[] { "v1", "v2", "v3", "v4", "v5", "latest", "keep-me" })
        {
            await TestRegistry.PushAsync(v2, repo, tag, "layer " + tag);
            _clock.Advance(TimeSpan.FromHours(1));
        }
        long id = await RepositoryIdAsync(projectId, repo);
        var url = $"/api/v4/projects/{projectId}/registry/repositories/{id}/tags";

        (await Root.ApiDeleteAsync(url)).Expect(400); // name_regex_delete is required
        var unbalanced = (await Root.ApiDeleteAsync(url + "?name_regex_delete=(")).Expect(400);
        // The message quotes the pattern as the caller wrote it (not the anchored form Berth compiles) and
        // carries the component and request id like every /api/v4 error.
        Assert.Equal("name_regex_delete is an invalid regexp: '(': insufficient closing parentheses (at character 1)", unbalanced.Str("error"));
        Assert.Equal("api validation", unbalanced.Str("component"));
        Assert.False(string.IsNullOrEmpty(unbalanced.Str("request_id")));
        var backReference = (await Root.ApiDeleteAsync(url + "?name_regex_delete=" + Uri.EscapeDataString(@"(a)\1"))).Expect(400); // back-references: not RE2
        Assert.Contains("'(a)\\1' uses a construct RE2 syntax does not have", backReference.Str("error"), StringComparison.Ordinal);
        // A pattern that would close the anchoring group early is refused, not silently rewritten.
        (await Root.ApiDeleteAsync(url + "?name_regex_delete=" + Uri.EscapeDataString("a)(b"))).Expect(400);
        (await Root.ApiDeleteAsync(url + "?name_regex_delete=.*&keep_n=-1")).Expect(400);
        (await Root.ApiDeleteAsync(url + "?name_regex_delete=.*&older_than=soon")).Expect(400);
        // A pattern that backtracks catastrophically elsewhere is linear here.
        (await Root.ApiDeleteAsync(url + "?name_regex_delete=" + Uri.EscapeDataString("(a+)+b"))).Expect(202);
        Assert.Equal(7, (await TagsAsync(projectId, id)).Count);

        // Full match: "v" alone matches nothing; v.* with keep_n=2 keeps the two most recent (v4, v5).
        (await Root.ApiDeleteAsync(url + "?name_regex_delete=v")).Expect(202);
        Assert.Equal(7, (await TagsAsync(projectId, id)).Count);
        (await Root.ApiDeleteAsync(url + "?name_regex_delete=" + Uri.EscapeDataString("v.*") + "&keep_n=2")).Expect(202);
        Assert.Equal(["keep-me", "latest", "v4", "v5"], await TagsAsync(projectId, id));

        // .* with name_regex_keep: latest is never deleted by bulk delete unless named explicitly.
        (await Root.ApiDeleteAsync(url + "?name_regex_delete=" + Uri.EscapeDataString(".*") + "&name_regex_keep=keep-.*&older_than=200m")).Expect(202);
        Assert.Equal(["keep-me", "latest", "v5"], await TagsAsync(projectId, id)); // v5 is 3 h old, v4 4 h
        (await Root.ApiDeleteAsync(url + "?name_regex_delete=latest")).Expect(202);
        Assert.Equal(["keep-me", "v5"], await TagsAsync(projectId, id));

        // python-gitlab's older spelling name_regex works too.
        (await Root.ApiDeleteAsync(url + "?name_regex=v5")).Expect(202);
        Assert.Equal(["keep-me"], await TagsAsync(projectId, id));
    }

    [Fact]
    public async Task Repository_delete_is_scheduled_visible_and_finished_by_the_worker()
    {
        var (projectId, path) = await ProjectAsync();
        var v2 = RootV2;
        var repo = $"{path}/gone";
        await TestRegistry.PushAsync(v2, repo, "v1", "to be deleted");
        await TestRegistry.PushAsync(v2, $"{path}/stays", "v1", "stays");
        long id = await RepositoryIdAsync(projectId, repo);

        // Hold the worker's lease so the scheduled state is observable, as another replica would.
        var until = _clock.GetUtcNow().UtcDateTime.AddMinutes(10);
        await _factory.WithDbAsync(db => db.Database.ExecuteSqlInterpolatedAsync($"""
            INSERT INTO job_leases ("Name", "Holder", "ExpiresAt") VALUES ({RegistryLifecycleWorker.LeaseName}, 'another-replica', {until})
            ON CONFLICT ("Name") DO UPDATE SET "Holder" = excluded."Holder", "ExpiresAt" = excluded."ExpiresAt"
            """));
        (await Root.ApiDeleteAsync($"/api/v4/projects/{projectId}/registry/repositories/{id}")).Expect(202);
        var list = (await Root.ApiGetAsync($"/api/v4/projects/{projectId}/registry/repositories")).Expect(200);
        Assert.Equal("delete_scheduled", list.AsArray().Single(r => r!.Str("path") == repo)!.Str("status"));
        var worker = _factory.Services.GetRequiredService<RegistryLifecycleWorker>();
        Assert.False(await worker.RunOnceAsync(default)); // the lease is held elsewhere: nothing happens here

        await _factory.WithDbAsync(async db => { await db.ReleaseLeaseAsync(RegistryLifecycleWorker.LeaseName, "another-replica", default); return 0; });
        Assert.True(await worker.RunOnceAsync(default));
        list = (await Root.ApiGetAsync($"/api/v4/projects/{projectId}/registry/repositories")).Expect(200);
        Assert.Equal([$"{path}/stays"], Names(list, "path"));
        Assert.Equal(HttpStatusCode.NotFound, (await TestRegistry.GetManifestAsync(v2, repo, "v1")).Status);
        (await Root.ApiGetAsync($"/api/v4/registry/repositories/{id}")).Expect(404);
    }

    [Fact]
    public async Task A_failing_repository_delete_shows_delete_failed_and_is_retried_until_it_succeeds()
    {
        var (projectId, path) = await ProjectAsync();
        // A repository whose stored name the registry cannot parse makes the deletion fail, as a broken database would.
        var broken = $"{path}/Broken";
        var now = _clock.GetUtcNow().UtcDateTime;
        long id = await _factory.WithDbAsync(async db =>
        {
            await db.Database.ExecuteSqlInterpolatedAsync($"INSERT INTO repositories (\"Name\", \"CreatedAt\") VALUES ({broken}, {now})");
            return await db.Repositories.Where(r => r.Name == broken).Select(r => r.Id).SingleAsync();
        });
        // (The API refuses to address a repository with an invalid name, so the deletion is scheduled directly.)
        await _factory.WithDbAsync(db => db.Database.ExecuteSqlInterpolatedAsync($"""
            INSERT INTO repository_deletions ("RepositoryId", "Status", "Attempts", "LastError", "ScheduledAt", "NextAttemptAt")
            VALUES ({id}, 'delete_scheduled', 0, NULL, {now}, {now})
            """));
        var worker = _factory.Services.GetRequiredService<RegistryLifecycleWorker>();
        Assert.True(await worker.RunOnceAsync(default));

        var listed = (await Root.ApiGetAsync($"/api/v4/projects/{projectId}/registry/repositories")).Expect(200).AsArray().Single()!;
        Assert.Equal("delete_failed", listed.Str("status"));
        Assert.Contains("not a valid repository name", listed.Str("delete_error"));
        var deletion = await _factory.WithDbAsync(db => db.RepositoryDeletions.SingleAsync(d => d.RepositoryId == id));
        Assert.Equal(1, deletion.Attempts);
        Assert.InRange(deletion.NextAttemptAt - _clock.GetUtcNow().UtcDateTime, TimeSpan.FromSeconds(50), TimeSpan.FromMinutes(1));

        // Not due yet: nothing happens; due: retried, fails again, backs off twice as long.
        Assert.True(await worker.RunOnceAsync(default));
        Assert.Equal(1, (await _factory.WithDbAsync(db => db.RepositoryDeletions.SingleAsync(d => d.RepositoryId == id))).Attempts);
        _clock.Advance(TimeSpan.FromMinutes(1));
        Assert.True(await worker.RunOnceAsync(default));
        deletion = await _factory.WithDbAsync(db => db.RepositoryDeletions.SingleAsync(d => d.RepositoryId == id));
        Assert.Equal(2, deletion.Attempts);
        Assert.InRange(deletion.NextAttemptAt - _clock.GetUtcNow().UtcDateTime, TimeSpan.FromMinutes(1.9), TimeSpan.FromMinutes(2));

        // Once the cause is gone, the next attempt finishes it.
        var fixedName = broken.ToLowerInvariant();
        await _factory.WithDbAsync(db => db.Repositories.Where(r => r.Id == id).ExecuteUpdateAsync(u => u.SetProperty(r => r.Name, fixedName)));
        _clock.Advance(TimeSpan.FromMinutes(2));
        Assert.True(await worker.RunOnceAsync(default));
        Assert.Empty((await Root.ApiGetAsync($"/api/v4/projects/{projectId}/registry/repositories")).Expect(200).AsArray());
        Assert.False(await _factory.WithDbAsync(db => db.RepositoryDeletions.AnyAsync(d => d.RepositoryId == id)));
    }

    [Fact]
    public async Task Cleanup_policy_run_by_the_scheduler_on_a_test_clock_deletes_exactly_the_expected_tags()
    {
        var (projectId, path) = await ProjectAsync();
        var v2 = RootV2;
        var repo = $"{path}/ci";
        // Ages when the policy runs (one day after it is enabled): dev-1 40 d, dev-2 30 d, dev-3 20 d, dev-4 10 d,
        // dev-5 3 d, dev-keep 40 d, release-1 40 d, latest 40 d.
        var schedule = new (string Tag, int DaysBeforeRun)[]
        {
            ("dev-1", 40), ("dev-keep", 40), ("release-1", 40), ("latest", 40), ("dev-2", 30), ("dev-3", 20), ("dev-4", 10), ("dev-5", 3),
        };
        int at = 40;
        foreach (var (tag, days) in schedule)
        {
            _clock.Advance(TimeSpan.FromDays(at - days));
            at = days;
            await TestRegistry.PushAsync(v2, repo, tag, "layer " + tag);
        }
        // dev-3 is protected: the cleanup skips it.
        (await Root.ApiPostAsync($"/api/v4/projects/{projectId}/registry/protection/tag/rules",
            new { tag_name_pattern = "^dev-3$", minimum_access_level_for_push = "maintainer", minimum_access_level_for_delete = "maintainer" })).Expect(201);

        // Enabled one day before the run: the scheduler runs it one cadence (1d) later.
        _clock.Advance(TimeSpan.FromDays(at - 1));
        var project = (await Root.ApiPutAsync($"/api/v4/projects/{projectId}", new
        {
            container_expiration_policy_attributes = new { enabled = true, cadence = "1d", keep_n = 1, older_than = "7d", name_regex = "dev-.*", name_regex_keep = "dev-keep" },
        })).Expect(200);
        var policy = project["container_expiration_policy"]!;
        Assert.True(policy["enabled"]!.GetValue<bool>());
        Assert.Equal("dev-.*", policy.Str("name_regex"));
        Assert.NotNull(policy["next_run_at"]);
        (await Root.ApiPutAsync($"/api/v4/projects/{projectId}", new { container_expiration_policy_attributes = new { cadence = "2d" } })).Expect(400);
        (await Root.ApiPutAsync($"/api/v4/projects/{projectId}", new { container_expiration_policy_attributes = new { name_regex = "(" } })).Expect(400);

        await Task.Delay(2500); // the worker ticks every second: nothing is due yet
        Assert.Empty((await Root.ApiGetAsync($"/api/v4/projects/{projectId}/registry/cleanup_policy/runs")).Expect(200).AsArray());

        _clock.Advance(TimeSpan.FromDays(1) + TimeSpan.FromMinutes(1));
        JsonNode? run = null;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var runs = (await Root.ApiGetAsync($"/api/v4/projects/{projectId}/registry/cleanup_policy/runs")).Expect(200).AsArray();
            run = runs.FirstOrDefault(r => r!.Str("status") != "running");
            if (run is not null) break;
            await Task.Delay(200);
        }
        Assert.NotNull(run);
        // dev-* matches dev-1..dev-5 and dev-keep; dev-keep is kept by name_regex_keep; keep_n=1 keeps dev-5 (newest);
        // older than 7 days: dev-1, dev-2, dev-3, dev-4; dev-3 is protected. So dev-1, dev-2, dev-4 go.
        Assert.Equal("finished", run!.Str("status"));
        Assert.Equal(3, run["tags_deleted"]!.GetValue<int>());
        Assert.Equal(1, run["tags_protected"]!.GetValue<int>());
        Assert.Equal(0, run["failures"]!.GetValue<int>());
        long id = await RepositoryIdAsync(projectId, repo);
        Assert.Equal(["dev-3", "dev-5", "dev-keep", "latest", "release-1"], await TagsAsync(projectId, id));

        // It ran once: the next run is a cadence later.
        var after = (await Root.ApiGetAsync($"/api/v4/projects/{projectId}")).Expect(200)["container_expiration_policy"]!;
        Assert.True(DateTime.Parse(after.Str("next_run_at"), null, System.Globalization.DateTimeStyles.AdjustToUniversal) > _clock.GetUtcNow().UtcDateTime.AddHours(23));
        Assert.Single((await Root.ApiGetAsync($"/api/v4/projects/{projectId}/registry/cleanup_policy/runs")).Expect(200).AsArray());
    }

    [Fact]
    public async Task Protected_tags_stop_developers_but_not_maintainers()
    {
        var (projectId, path) = await ProjectAsync();
        var repo = $"{path}/app";
        var devName = ApiFactory.Unique("dev");
        var maintName = ApiFactory.Unique("maint");
        var devId = await _factory.CreateUserAsync(devName, "dev-password-1");
        var maintId = await _factory.CreateUserAsync(maintName, "maint-password-1");
        await Setup.MemberAsync(Root, "projects", projectId, devId, 30);
        await Setup.MemberAsync(Root, "projects", projectId, maintId, 40);
        var dev = _factory.V2Client(devName, "dev-password-1");
        var maint = _factory.V2Client(maintName, "maint-password-1");
        var devApi = _factory.ClientWithToken(await _factory.TokenAsync(devName, "api"));
        var maintApi = _factory.ClientWithToken(await _factory.TokenAsync(maintName, "api"));

        await TestRegistry.PushAsync(dev, repo, "v1", "first");
        var rulesUrl = $"/api/v4/projects/{projectId}/registry/protection/tag/rules";
        (await devApi.ApiPostAsync(rulesUrl, new { tag_name_pattern = "^v", minimum_access_level_for_push = "maintainer", minimum_access_level_for_delete = "maintainer" })).Expect(403);
        (await maintApi.ApiPostAsync(rulesUrl, new { tag_name_pattern = "^v", minimum_access_level_for_push = "owner", minimum_access_level_for_delete = "owner" })).Expect(403); // cannot lock itself out
        (await maintApi.ApiPostAsync(rulesUrl, new { tag_name_pattern = "(", minimum_access_level_for_push = "maintainer", minimum_access_level_for_delete = "maintainer" })).Expect(400);
        (await maintApi.ApiPostAsync(rulesUrl, new { tag_name_pattern = "^v", minimum_access_level_for_push = "developer", minimum_access_level_for_delete = "maintainer" })).Expect(400);
        var rule = (await maintApi.ApiPostAsync(rulesUrl, new { tag_name_pattern = "^v", minimum_access_level_for_push = "maintainer", minimum_access_level_for_delete = "maintainer" })).Expect(201);
        Assert.Equal("^v", rule.Str("tag_name_pattern"));
        Assert.Equal("maintainer", rule.Str("minimum_access_level_for_push"));
        Assert.Single((await maintApi.ApiGetAsync(rulesUrl)).Expect(200).AsArray());

        // Push: the Developer cannot overwrite v1 or create v2; other tags are fine; the Maintainer can.
        var (status, body, _) = await TestRegistry.TryPushAsync(dev, repo, "v1", "developer overwrite");
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Contains("DENIED", body);
        Assert.Contains($"protected by rule {rule["id"]}", body);
        Assert.Equal(HttpStatusCode.Forbidden, (await TestRegistry.TryPushAsync(dev, repo, "v2", "developer new")).Status);
        await TestRegistry.PushAsync(dev, repo, "dev-build", "developer build");
        var overwritten = await TestRegistry.PushAsync(maint, repo, "v1", "maintainer overwrite");

        // Delete: v2 by tag and by digest, through the API and the registry API.
        long id = await RepositoryIdAsync(projectId, repo);
        (await devApi.ApiDeleteAsync($"/api/v4/projects/{projectId}/registry/repositories/{id}/tags/v1")).Expect(403);
        using (var request = new HttpRequestMessage(HttpMethod.Delete, $"/v2/{repo}/manifests/v1"))
            Assert.Equal(HttpStatusCode.Forbidden, (await dev.SendAsync(request)).StatusCode);
        using (var request = new HttpRequestMessage(HttpMethod.Delete, $"/v2/{repo}/manifests/{overwritten.Digest}"))
            Assert.Equal(HttpStatusCode.Forbidden, (await dev.SendAsync(request)).StatusCode);
        (await devApi.ApiDeleteAsync($"/api/v4/projects/{projectId}/registry/repositories/{id}/tags?name_regex_delete=.*")).Expect(403);
        (await devApi.ApiDeleteAsync($"/api/v4/projects/{projectId}/registry/repositories/{id}")).Expect(403);
        Assert.Equal(["dev-build", "v1"], await TagsAsync(projectId, id));
        (await devApi.ApiDeleteAsync($"/api/v4/projects/{projectId}/registry/repositories/{id}/tags/dev-build")).Expect(200);
        (await maintApi.ApiDeleteAsync($"/api/v4/projects/{projectId}/registry/repositories/{id}/tags/v1")).Expect(200);
        Assert.Empty(await TagsAsync(projectId, id));

        (await maintApi.ApiDeleteAsync($"{rulesUrl}/{rule["id"]}")).Expect(204);
        await TestRegistry.PushAsync(dev, repo, "v3", "no rule any more");
    }

    /// <summary>The blob files in storage with their sizes and write times.</summary>
    private List<string> StoredBlobFiles() =>
        Directory.GetFiles(Path.Combine(_factory.DataDir, "storage"), "*", SearchOption.AllDirectories)
            .Where(f => f.Contains("blobs", StringComparison.Ordinal))
            .Select(f => $"{f} {new FileInfo(f).Length} {File.GetLastWriteTimeUtc(f):O}").Order(StringComparer.Ordinal).ToList();

    [Fact]
    public async Task Renamed_and_transferred_projects_take_their_images_along()
    {
        var (projectId, path) = await ProjectAsync();
        var v2 = RootV2;
        var image = await TestRegistry.PushAsync(v2, $"{path}/app", "v1", "rename me");
        await TestRegistry.PushAsync(v2, path, "v1", "root repository");
        var blobsBefore = await _factory.WithDbAsync(db => db.Blobs.OrderBy(b => b.Digest).Select(b => b.Digest).ToListAsync());
        var files = StoredBlobFiles();

        var newPath = ApiFactory.Unique("renamed");
        var renamed = (await Root.ApiPutAsync($"/api/v4/projects/{projectId}", new { path = newPath })).Expect(200);
        var newFull = renamed.Str("path_with_namespace");
        Assert.EndsWith("/" + newPath, newFull);
        Assert.Equal(HttpStatusCode.OK, (await TestRegistry.GetManifestAsync(v2, $"{newFull}/app", image.Digest)).Status);
        Assert.Equal(HttpStatusCode.OK, (await TestRegistry.GetManifestAsync(v2, newFull, "v1")).Status);
        var old = await TestRegistry.GetManifestAsync(v2, $"{path}/app", "v1");
        Assert.Equal(HttpStatusCode.NotFound, old.Status);
        Assert.Contains("NAME_UNKNOWN", old.Body);
        Assert.Equal([newFull, $"{newFull}/app"], Names((await Root.ApiGetAsync($"/api/v4/projects/{projectId}/registry/repositories")).Expect(200), "path").Order(StringComparer.Ordinal));

        // Transfer into a group, then rename the group: the names follow each time.
        var group = await Setup.GroupAsync(Root);
        var moved = (await Root.ApiPutAsync($"/api/v4/projects/{projectId}/transfer?namespace={group["id"]}", new { })).Expect(200);
        Assert.Equal($"{group.Str("full_path")}/{newPath}", moved.Str("path_with_namespace"));
        Assert.Equal(HttpStatusCode.OK, (await TestRegistry.GetManifestAsync(v2, $"{moved.Str("path_with_namespace")}/app", "v1")).Status);
        var groupPath = ApiFactory.Unique("team");
        (await Root.ApiPutAsync($"/api/v4/groups/{group["id"]}", new { path = groupPath })).Expect(200);
        Assert.Equal(HttpStatusCode.OK, (await TestRegistry.GetManifestAsync(v2, $"{groupPath}/{newPath}/app", "v1")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await TestRegistry.GetManifestAsync(v2, $"{moved.Str("path_with_namespace")}/app", "v1")).Status);
        Assert.Equal($"{groupPath}/{newPath}", (await Root.ApiGetAsync($"/api/v4/projects/{projectId}")).Expect(200).Str("path_with_namespace"));

        // No blob was copied or removed.
        Assert.Equal(blobsBefore, await _factory.WithDbAsync(db => db.Blobs.OrderBy(b => b.Digest).Select(b => b.Digest).ToListAsync()));
        Assert.Equal(files, StoredBlobFiles());

        // A name taken by left-over repositories is refused, nothing changes.
        var (otherId, otherPath) = await ProjectAsync();
        await TestRegistry.PushAsync(v2, $"{otherPath}/x", "v1", "other");
        (await Root.ApiDeleteAsync($"/api/v4/projects/{otherId}")).Expect(202);
        await _factory.WithDbAsync(db => db.Database.ExecuteSqlInterpolatedAsync($"INSERT INTO repositories (\"Name\", \"CreatedAt\") VALUES ({otherPath.ToLowerInvariant()}, {DateTime.UtcNow})"));
        var (thirdId, _) = await ProjectAsync();
        (await Root.ApiPutAsync($"/api/v4/projects/{thirdId}", new { path = otherPath.Split('/')[^1] })).Expect(409);
    }
}

