using System.Net;
using System.Text;
using System.Text.Json;
using Berth.Auth;
using Berth.Ci.Tests.Infrastructure;
using Berth.Metadata;
using Microsoft.EntityFrameworkCore;

namespace Berth.Ci.Tests;

/// <summary>
/// CI job tokens in process: a runner asks for a token for one job of one project; the token is the password of
/// <c>gitlab-ci-token</c> at <c>/jwt/auth</c> and <c>/v2</c>; it pushes only to its own project, pulls from
/// projects whose allowlist holds its project, never does more than the user who started the job, stops
/// working when the job finishes, is stored hashed and leaves audit log lines.
/// </summary>
public sealed class JobTokenTests(JobTokenTests.World world) : IClassFixture<JobTokenTests.World>
{
    /// <summary>One factory for the class; every test makes its own group, projects and users.</summary>
    public sealed class World : IDisposable
    {
        public CiFactory Factory { get; } = new();

        public void Dispose() => Factory.Dispose();
    }

    private CiFactory F => world.Factory;

    /// <summary>A group with the job's project (private) and another private project, a developer who starts jobs
    /// (Developer in both), a maintainer of the job's project with an API token, and a runner of the job's project.</summary>
    private sealed record Setup(ProjectEntity App, ProjectEntity Other, UserEntity Developer, UserEntity Maintainer, string MaintainerToken, string Runner);

    private async Task<Setup> SetupAsync()
    {
        var group = await F.AddGroupAsync(CiFactory.Unique("g"));
        var app = await F.AddProjectAsync(group, "app");
        var other = await F.AddProjectAsync(group, "other");
        var developer = await F.AddUserAsync(CiFactory.Unique("dev"));
        var maintainer = await F.AddUserAsync(CiFactory.Unique("maint"));
        await F.AddMemberAsync(developer, app, AccessLevel.Developer);
        await F.AddMemberAsync(developer, other, AccessLevel.Developer);
        await F.AddMemberAsync(maintainer, app, AccessLevel.Maintainer);
        var token = await F.ApiTokenAsync(maintainer);
        var runner = await F.CreateProjectRunnerAsync(app, token);
        return new Setup(app, other, developer, maintainer, token, runner);
    }

    [Fact]
    public async Task Job_token_logs_in_as_gitlab_ci_token_and_pushes_to_its_own_project()
    {
        var s = await SetupAsync();
        var job = await F.CreateJobAsync(s.Runner, s.App, s.Developer);
        Assert.StartsWith(SecretTokens.JobTokenPrefix, job.Token, StringComparison.Ordinal);

        // /jwt/auth (what docker/podman login and push do).
        var repo = s.App.FullPath + "/image";
        var (status, bearer, granted, body) = await F.RequestTokenAsync(CiFactory.JobBasic(job.Token), $"repository:{repo}:pull,push");
        Assert.True(status == 200, body);
        Assert.Equal(["pull", "push"], granted[repo]);
        var claims = CiFactory.DecodePayload(bearer!);
        Assert.Equal("JobToken", claims.GetProperty("berth_kind").GetString());
        Assert.Equal(s.Developer.Id, claims.GetProperty("berth_uid").GetInt64());
        Assert.Equal(s.App.Id, claims.GetProperty("berth_pid").GetInt64());
        Assert.Equal(job.Id, claims.GetProperty("berth_cid").GetInt64());

        // The registry token pushes; so does Basic straight at /v2.
        var pushed = await F.PushImageAsync(repo, "bearer", new("Bearer", bearer));
        Assert.True(pushed.Status == HttpStatusCode.Created, pushed.Body);
        pushed = await F.PushImageAsync(repo, "basic", CiFactory.JobBasic(job.Token));
        Assert.True(pushed.Status == HttpStatusCode.Created, pushed.Body);
        var pulled = await F.PullManifestAsync(repo, "basic", CiFactory.JobBasic(job.Token));
        Assert.Equal(HttpStatusCode.OK, pulled.Status);
    }

    [Fact]
    public async Task Push_to_another_project_is_denied_with_a_DENIED_json_error()
    {
        var s = await SetupAsync();
        var job = await F.CreateJobAsync(s.Runner, s.App, s.Developer);
        // The developer may push to "other" themself, but the job token may not.
        var repo = s.Other.FullPath + "/image";
        var (status, body) = await F.PushImageAsync(repo, "v1", CiFactory.JobBasic(job.Token));
        Assert.Equal(HttpStatusCode.Forbidden, status);
        var (code, message) = CiFactory.FirstError(body);
        Assert.Equal("DENIED", code);
        Assert.Contains("job token", message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("own project", message, StringComparison.Ordinal);

        // The token service grants nothing there either (not even pull: "other" has no allowlist entry).
        var (tokenStatus, _, granted, _) = await F.RequestTokenAsync(CiFactory.JobBasic(job.Token), $"repository:{repo}:pull,push");
        Assert.Equal(200, tokenStatus);
        Assert.Empty(granted[repo]);
    }

    [Fact]
    public async Task Pull_from_an_allowlisted_project_works_and_from_a_non_allowlisted_private_one_not()
    {
        var s = await SetupAsync();
        var group = await F.AddGroupAsync(CiFactory.Unique("base"));
        var allowlisted = await F.AddProjectAsync(group, "images");
        var closed = await F.AddProjectAsync(group, "closed");
        // The developer may pull both themself (Reporter).
        await F.AddMemberAsync(s.Developer, allowlisted, AccessLevel.Reporter);
        await F.AddMemberAsync(s.Developer, closed, AccessLevel.Reporter);
        // So does the Maintainer who created the project runner (a project runner lends at most its creator's rights).
        await F.AddMemberAsync(s.Maintainer, allowlisted, AccessLevel.Reporter);
        await F.AddMemberAsync(s.Maintainer, closed, AccessLevel.Reporter);
        var baseMaintainer = await F.AddUserAsync(CiFactory.Unique("bm"));
        await F.AddMemberAsync(baseMaintainer, allowlisted, AccessLevel.Maintainer);
        await F.AddMemberAsync(baseMaintainer, s.App, AccessLevel.Guest); // must see the project it allows in
        var baseToken = await F.ApiTokenAsync(baseMaintainer);
        await F.PushAsRootAsync(allowlisted.FullPath + "/base");
        await F.PushAsRootAsync(closed.FullPath + "/base");

        var job = await F.CreateJobAsync(s.Runner, s.App, s.Developer);
        var before = await F.PullManifestAsync(allowlisted.FullPath + "/base", "v1", CiFactory.JobBasic(job.Token));
        Assert.Equal(HttpStatusCode.Forbidden, before.Status);
        Assert.Contains("allowlist", CiFactory.FirstError(before.Body).Message, StringComparison.Ordinal);

        // A Maintainer of the base project adds the job's project to its allowlist (GitLab's API shape).
        var (added, addBody) = await F.ApiAsync(HttpMethod.Post, $"projects/{allowlisted.Id}/job_token_scope/allowlist", baseToken, new { target_project_id = s.App.Id });
        Assert.True(added == HttpStatusCode.Created, addBody?.ToJsonString());
        Assert.Equal(allowlisted.Id, addBody!["source_project_id"]!.GetValue<long>());
        Assert.Equal(s.App.Id, addBody["target_project_id"]!.GetValue<long>());
        var (listed, list) = await F.ApiAsync(HttpMethod.Get, $"projects/{allowlisted.Id}/job_token_scope/allowlist", baseToken);
        Assert.Equal(HttpStatusCode.OK, listed);
        Assert.Equal(s.App.FullPath, list!.AsArray().Single()!["path_with_namespace"]!.GetValue<string>());

        var after = await F.PullManifestAsync(allowlisted.FullPath + "/base", "v1", CiFactory.JobBasic(job.Token));
        Assert.True(after.Status == HttpStatusCode.OK, after.Body);
        var (_, _, granted, _) = await F.RequestTokenAsync(CiFactory.JobBasic(job.Token), $"repository:{allowlisted.FullPath}/base:pull,push");
        Assert.Equal(["pull"], granted[$"{allowlisted.FullPath}/base"]);
        var push = await F.PushImageAsync(allowlisted.FullPath + "/base", "ci", CiFactory.JobBasic(job.Token));
        Assert.Equal(HttpStatusCode.Forbidden, push.Status);

        var refused = await F.PullManifestAsync(closed.FullPath + "/base", "v1", CiFactory.JobBasic(job.Token));
        Assert.Equal(HttpStatusCode.Forbidden, refused.Status);
        Assert.Equal("DENIED", CiFactory.FirstError(refused.Body).Code);

        // Removing the entry closes it again.
        var (removed, _) = await F.ApiAsync(HttpMethod.Delete, $"projects/{allowlisted.Id}/job_token_scope/allowlist/{s.App.Id}", baseToken);
        Assert.Equal(HttpStatusCode.NoContent, removed);
        Assert.Equal(HttpStatusCode.Forbidden, (await F.PullManifestAsync(allowlisted.FullPath + "/base", "v1", CiFactory.JobBasic(job.Token))).Status);
    }

    [Fact]
    public async Task Allowlisted_pull_is_capped_by_the_user_who_started_the_job()
    {
        var s = await SetupAsync();
        var group = await F.AddGroupAsync(CiFactory.Unique("base"));
        var images = await F.AddProjectAsync(group, "images");
        await F.PushAsRootAsync(images.FullPath + "/base");
        var stranger = await F.AddUserAsync(CiFactory.Unique("stranger"));
        await F.AddMemberAsync(stranger, s.App, AccessLevel.Developer);
        var rootToken = await F.WithDbAsync(async (db, _) => await db.Users.FirstAsync(u => u.Username == "root")).ContinueWith(t => F.ApiTokenAsync(t.Result)).Unwrap();
        var (added, _) = await F.ApiAsync(HttpMethod.Post, $"projects/{images.Id}/job_token_scope/allowlist", rootToken, new { target_project_id = s.App.FullPath });
        Assert.Equal(HttpStatusCode.Created, added);

        // The stranger has no role in "images": their job cannot pull it even though the project is allowlisted.
        var job = await F.CreateJobAsync(s.Runner, s.App, stranger);
        var pulled = await F.PullManifestAsync(images.FullPath + "/base", "v1", CiFactory.JobBasic(job.Token));
        Assert.Equal(HttpStatusCode.Forbidden, pulled.Status);
        Assert.Contains("no role", CiFactory.FirstError(pulled.Body).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_Reporters_job_cannot_push_to_its_own_project()
    {
        var s = await SetupAsync();
        var reporter = await F.AddUserAsync(CiFactory.Unique("rep"));
        await F.AddMemberAsync(reporter, s.App, AccessLevel.Reporter);
        var job = await F.CreateJobAsync(s.Runner, s.App, reporter);
        var repo = s.App.FullPath + "/image";

        var (_, _, granted, _) = await F.RequestTokenAsync(CiFactory.JobBasic(job.Token), $"repository:{repo}:pull,push,delete");
        Assert.Equal(["pull"], granted[repo]);
        var (status, body) = await F.PushImageAsync(repo, "v1", CiFactory.JobBasic(job.Token));
        Assert.Equal(HttpStatusCode.Forbidden, status);
        var (code, message) = CiFactory.FirstError(body);
        Assert.Equal("DENIED", code);
        Assert.Contains("Reporter", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_project_runner_cannot_lend_its_jobs_more_than_its_creator_has()
    {
        var s = await SetupAsync();
        var group = await F.AddGroupAsync(CiFactory.Unique("base"));
        var images = await F.AddProjectAsync(group, "images");
        await F.PushAsRootAsync(images.FullPath + "/base");
        // The developer may pull "images"; the maintainer who made the runner may not.
        await F.AddMemberAsync(s.Developer, images, AccessLevel.Reporter);
        var rootUser = await F.WithDbAsync(async (db, _) => await db.Users.FirstAsync(u => u.Username == "root"));
        var (added, _) = await F.ApiAsync(HttpMethod.Post, $"projects/{images.Id}/job_token_scope/allowlist", await F.ApiTokenAsync(rootUser), new { target_project_id = s.App.Id });
        Assert.Equal(HttpStatusCode.Created, added);

        var job = await F.CreateJobAsync(s.Runner, s.App, s.Developer);
        var pulled = await F.PullManifestAsync(images.FullPath + "/base", "v1", CiFactory.JobBasic(job.Token));
        Assert.Equal(HttpStatusCode.Forbidden, pulled.Status);
        Assert.Contains("project runner", CiFactory.FirstError(pulled.Body).Message, StringComparison.Ordinal);

        // An instance runner (made by an admin) is not capped.
        var (created, runner) = await F.ApiAsync(HttpMethod.Post, "runners", await F.ApiTokenAsync(rootUser), new { description = "shared" });
        Assert.Equal(HttpStatusCode.Created, created);
        Assert.Equal("instance_type", runner!["runner_type"]!.GetValue<string>());
        var shared = await F.CreateJobAsync(runner["token"]!.GetValue<string>(), s.App, s.Developer);
        Assert.Equal(HttpStatusCode.OK, (await F.PullManifestAsync(images.FullPath + "/base", "v1", CiFactory.JobBasic(shared.Token))).Status);
    }

    [Fact]
    public async Task Token_is_refused_after_the_job_finishes_also_its_registry_and_refresh_tokens()
    {
        var s = await SetupAsync();
        var job = await F.CreateJobAsync(s.Runner, s.App, s.Developer);
        var repo = s.App.FullPath + "/image";
        var (_, bearer, _, _) = await F.RequestTokenAsync(CiFactory.JobBasic(job.Token), $"repository:{repo}:pull,push");
        using var client = F.CreateClient();
        using var offline = new HttpRequestMessage(HttpMethod.Get, $"/jwt/auth?service=container_registry&offline_token=true&scope=repository:{repo}:pull");
        offline.Headers.Authorization = CiFactory.JobBasic(job.Token);
        using var offlineResponse = await client.SendAsync(offline);
        var refresh = JsonDocument.Parse(await offlineResponse.Content.ReadAsStringAsync()).RootElement.GetProperty("refresh_token").GetString()!;
        Assert.Equal(HttpStatusCode.Created, (await F.PushImageAsync(repo, "v1", CiFactory.JobBasic(job.Token))).Status);

        await F.FinishJobAsync(s.Runner, job);

        var (status, _, _, body) = await F.RequestTokenAsync(CiFactory.JobBasic(job.Token), $"repository:{repo}:pull");
        Assert.Equal(401, status);
        Assert.Contains("finished", CiFactory.FirstError(body).Message, StringComparison.Ordinal);

        var basic = await F.PullManifestAsync(repo, "v1", CiFactory.JobBasic(job.Token));
        Assert.Equal(HttpStatusCode.Unauthorized, basic.Status);
        Assert.Contains("finished", CiFactory.FirstError(basic.Body).Message, StringComparison.Ordinal);

        var viaBearer = await F.PullManifestAsync(repo, "v1", new("Bearer", bearer));
        Assert.Equal(HttpStatusCode.Unauthorized, viaBearer.Status);
        Assert.Contains("no longer valid", CiFactory.FirstError(viaBearer.Body).Message, StringComparison.Ordinal);

        using var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = refresh, ["service"] = "container_registry", ["scope"] = $"repository:{repo}:pull",
        });
        using var refreshed = await client.PostAsync("/jwt/auth", form);
        Assert.Equal(HttpStatusCode.Unauthorized, refreshed.StatusCode);
        Assert.Contains("finished", await refreshed.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // Finishing again is harmless; the job reads as finished.
        await F.FinishJobAsync(s.Runner, job);
    }

    [Fact]
    public async Task The_job_can_finish_itself_with_its_token_but_not_another_job()
    {
        var s = await SetupAsync();
        var job = await F.CreateJobAsync(s.Runner, s.App, s.Developer);
        var other = await F.CreateJobAsync(s.Runner, s.App, s.Developer);
        var jobHeader = new Dictionary<string, string> { ["JOB-TOKEN"] = job.Token };
        var (wrong, _) = await F.ApiAsync(HttpMethod.Post, $"ci/jobs/{other.Id}/finish", null, null, jobHeader);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong);
        var (ok, body) = await F.ApiAsync(HttpMethod.Post, $"ci/jobs/{job.Id}/finish", null, null, jobHeader);
        Assert.Equal(HttpStatusCode.OK, ok);
        Assert.Equal("finished", body!["status"]!.GetValue<string>());
        Assert.Equal(401, (await F.RequestTokenAsync(CiFactory.JobBasic(job.Token))).Status);
        Assert.Equal(200, (await F.RequestTokenAsync(CiFactory.JobBasic(other.Token))).Status);
    }

    [Fact]
    public async Task Job_variables_are_named_as_GitLab_names_them()
    {
        var s = await SetupAsync();
        var job = await F.CreateJobAsync(s.Runner, s.App, s.Developer);
        var host = F.Server.BaseAddress.Authority;
        Assert.Equal(host, job.Variables["CI_REGISTRY"]);
        Assert.Equal($"{host}/{s.App.FullPath.ToLowerInvariant()}", job.Variables["CI_REGISTRY_IMAGE"]);
        Assert.Equal("gitlab-ci-token", job.Variables["CI_REGISTRY_USER"]);
        Assert.Equal(job.Token, job.Variables["CI_REGISTRY_PASSWORD"]);
        Assert.Equal(job.Token, job.Variables["CI_JOB_TOKEN"]);
        using var auth = JsonDocument.Parse(job.Variables["DOCKER_AUTH_CONFIG"]);
        var entry = auth.RootElement.GetProperty("auths").GetProperty(host).GetProperty("auth").GetString()!;
        Assert.Equal($"gitlab-ci-token:{job.Token}", Encoding.UTF8.GetString(Convert.FromBase64String(entry)));
    }

    [Fact]
    public async Task Job_tokens_are_stored_hashed_and_audited_without_the_secret()
    {
        var s = await SetupAsync();
        var job = await F.CreateJobAsync(s.Runner, s.App, s.Developer);
        await F.RequestTokenAsync(CiFactory.JobBasic(job.Token), $"repository:{s.App.FullPath}/x:pull");
        await F.RequestTokenAsync(CiFactory.JobBasic("bjob-not-a-real-token"), $"repository:{s.App.FullPath}/x:pull");
        await F.FinishJobAsync(s.Runner, job);
        await F.RequestTokenAsync(CiFactory.JobBasic(job.Token), $"repository:{s.App.FullPath}/x:pull");

        var row = await F.WithDbAsync(async (db, _) => await db.CiJobs.FirstAsync(j => j.Id == job.Id));
        Assert.Equal(SecretTokens.Hash(job.Token), row.TokenHash);
        Assert.Equal(s.Developer.Id, row.UserId);
        Assert.NotNull(row.FinishedAt);
        var dbBytes = await File.ReadAllBytesAsync(Path.Combine(F.DataDir, "berth.db"));
        var walPath = Path.Combine(F.DataDir, "berth.db-wal");
        var all = Encoding.ASCII.GetString(dbBytes) + (File.Exists(walPath) ? Encoding.ASCII.GetString(await ReadSharedAsync(walPath)) : "");
        Assert.DoesNotContain(job.Token, all, StringComparison.Ordinal);

        var audit = F.Logs.Lines.Where(l => l.Category == "Berth.Audit").ToList();
        Assert.Contains(audit, l => l.EventId.Name == "JobTokenIssued" && l.Message.Contains($"job {job.Id} ", StringComparison.Ordinal));
        Assert.Contains(audit, l => l.EventId.Name == "JobTokenUsed" && l.State.Any(kv => kv.Key == "JobId" && Equals(kv.Value, job.Id)));
        Assert.Contains(audit, l => l.EventId.Name == "JobTokenFinished" && l.State.Any(kv => kv.Key == "JobId" && Equals(kv.Value, job.Id)));
        Assert.Contains(audit, l => l.EventId.Name == "JobTokenRefused" && l.Message.Contains("finished", StringComparison.Ordinal));
        Assert.Contains(audit, l => l.EventId.Name == "JobTokenRefused" && l.Message.Contains("no job has this token", StringComparison.Ordinal));
        Assert.DoesNotContain(F.Logs.Lines, l => l.Message.Contains(job.Token, StringComparison.Ordinal));
    }

    private static async Task<byte[]> ReadSharedAsync(string path)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    [Fact]
    public async Task Job_requests_are_checked()
    {
        var s = await SetupAsync();
        // No runner token, a wrong one.
        var (none, _) = await F.ApiAsync(HttpMethod.Post, "ci/jobs", null, new { project = s.App.Id, user = s.Developer.Id });
        Assert.Equal(HttpStatusCode.Unauthorized, none);
        var (bad, _) = await F.RequestJobAsync("brnr-wrong", new { project = s.App.Id, user = s.Developer.Id });
        Assert.Equal(HttpStatusCode.Unauthorized, bad);
        // A project runner serves its own project only.
        var (other, otherBody) = await F.RequestJobAsync(s.Runner, new { project = s.Other.Id, user = s.Developer.Id });
        Assert.Equal(HttpStatusCode.Forbidden, other);
        Assert.Contains("another project", otherBody!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        // A user with no access to the (private) project cannot start its jobs.
        var outsider = await F.AddUserAsync(CiFactory.Unique("out"));
        var (outside, outsideBody) = await F.RequestJobAsync(s.Runner, new { project = s.App.Id, user = outsider.Username });
        Assert.Equal(HttpStatusCode.Forbidden, outside);
        Assert.Contains("no access", outsideBody!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        // Missing fields.
        var (missing, missingBody) = await F.RequestJobAsync(s.Runner, new { project = s.App.Id });
        Assert.Equal(HttpStatusCode.BadRequest, missing);
        Assert.Contains("user is missing", missingBody!.ToJsonString(), StringComparison.Ordinal);
        // A job token with the wrong username is refused with a hint.
        var job = await F.CreateJobAsync(s.Runner, s.App, s.Developer);
        var (status, _, _, body) = await F.RequestTokenAsync(CiFactory.Basic(s.Developer.Username, job.Token));
        Assert.Equal(401, status);
        Assert.Contains("gitlab-ci-token", body, StringComparison.Ordinal);
        // Only Maintainers create project runners.
        var devToken = await F.ApiTokenAsync(s.Developer);
        var (forbidden, _) = await F.ApiAsync(HttpMethod.Post, $"projects/{s.App.Id}/runners", devToken, new { description = "x" });
        Assert.Equal(HttpStatusCode.Forbidden, forbidden);
        // Only admins create instance runners.
        var (notAdmin, _) = await F.ApiAsync(HttpMethod.Post, "runners", s.MaintainerToken, new { description = "x" });
        Assert.Equal(HttpStatusCode.Forbidden, notAdmin);
        // Only Maintainers manage the allowlist.
        var (allowlist, _) = await F.ApiAsync(HttpMethod.Post, $"projects/{s.Other.Id}/job_token_scope/allowlist", devToken, new { target_project_id = s.App.Id });
        Assert.Equal(HttpStatusCode.Forbidden, allowlist);
    }

    [Fact]
    public async Task A_Maintainer_lists_and_deletes_the_project_runners()
    {
        var s = await SetupAsync();
        var (listed, list) = await F.ApiAsync(HttpMethod.Get, $"projects/{s.App.Id}/runners", s.MaintainerToken);
        Assert.Equal(HttpStatusCode.OK, listed);
        var runner = list!.AsArray().Single()!;
        Assert.Equal("project_type", runner["runner_type"]!.GetValue<string>());
        Assert.Null(runner["token"]);
        var (deleted, _) = await F.ApiAsync(HttpMethod.Delete, $"runners/{runner["id"]!.GetValue<long>()}", s.MaintainerToken);
        Assert.Equal(HttpStatusCode.NoContent, deleted);
        var (refused, _) = await F.RequestJobAsync(s.Runner, new { project = s.App.Id, user = s.Developer.Id });
        Assert.Equal(HttpStatusCode.Unauthorized, refused);
    }
}

/// <summary>The maximum lifetime, with a fake clock (its own server, so moving the clock disturbs no other test).</summary>
public sealed class JobTokenLifetimeTests : IDisposable
{
    private readonly CiFactory _factory = new(new Dictionary<string, string> { ["Ci:JobTokenMaxLifetimeMinutes"] = "90" });

    [Fact]
    public async Task Token_is_refused_after_its_maximum_lifetime()
    {
        var f = _factory;
        var group = await f.AddGroupAsync("life");
        var app = await f.AddProjectAsync(group, "app");
        var developer = await f.AddUserAsync("dev");
        await f.AddMemberAsync(developer, app, AccessLevel.Maintainer);
        var runner = await f.CreateProjectRunnerAsync(app, await f.ApiTokenAsync(developer));

        // Asking for more than the maximum gets the maximum.
        var job = await f.CreateJobAsync(runner, app, developer, timeoutMinutes: 600);
        Assert.InRange(job.ExpiresAt - f.Clock.GetUtcNow().UtcDateTime, TimeSpan.FromMinutes(89), TimeSpan.FromMinutes(90));
        var shorter = await f.CreateJobAsync(runner, app, developer, timeoutMinutes: 30);

        var repo = app.FullPath + "/image";
        Assert.Equal(HttpStatusCode.Created, (await f.PushImageAsync(repo, "v1", CiFactory.JobBasic(job.Token))).Status);

        f.Clock.Advance(TimeSpan.FromMinutes(31));
        Assert.Equal(401, (await f.RequestTokenAsync(CiFactory.JobBasic(shorter.Token))).Status);
        Assert.Equal(200, (await f.RequestTokenAsync(CiFactory.JobBasic(job.Token))).Status);

        f.Clock.Advance(TimeSpan.FromMinutes(60));
        var (status, _, _, body) = await f.RequestTokenAsync(CiFactory.JobBasic(job.Token), $"repository:{repo}:pull");
        Assert.Equal(401, status);
        Assert.Contains("maximum lifetime", CiFactory.FirstError(body).Message, StringComparison.Ordinal);
        var basic = await f.PullManifestAsync(repo, "v1", CiFactory.JobBasic(job.Token));
        Assert.Equal(HttpStatusCode.Unauthorized, basic.Status);
        Assert.Contains("expired", CiFactory.FirstError(basic.Body).Message, StringComparison.Ordinal);
        var (_, jobBody) = await f.ApiAsync(HttpMethod.Get, $"ci/jobs/{job.Id}", null, null, new Dictionary<string, string> { ["RUNNER-TOKEN"] = runner });
        Assert.Equal("expired", jobBody!["status"]!.GetValue<string>());
    }

    public void Dispose() => _factory.Dispose();
}
