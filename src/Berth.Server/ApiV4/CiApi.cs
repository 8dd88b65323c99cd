using System.Text;
using System.Text.Json;
using Berth.Auth;
using Berth.Auth.Ci;
using Berth.Auth.Tokens;
using Berth.Distribution;
using Berth.Metadata;
using Berth.Server.Configuration;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Berth.Server.ApiV4;

internal sealed record RunnerJson(long Id, string Description, string RunnerType, long? ProjectId, bool Active, bool Paused, DateTime CreatedAt, DateTime? ContactedAt)
{
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? Token { get; init; }
}

internal sealed record CiJobUserJson(long Id, string Username);

internal sealed record CiJobJson(
    long Id, string Status, long ProjectId, string ProjectPath, CiJobUserJson? User, long? RunnerId, long? TrustedIdentityId,
    string? Name, DateTime CreatedAt, DateTime ExpiresAt, DateTime? FinishedAt)
{
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? Token { get; init; }

    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, string>? Variables { get; init; }
}

internal sealed record TrustedIdentityJson(
    long Id, long ProjectId, string Issuer, string Audience, string? JwksUrl, bool JwksInline, IReadOnlyList<ClaimRule> Rules,
    string? Description, DateTime CreatedAt);

public static partial class ApiV4Endpoints
{
    /// <summary>
    /// CI: runners (<c>/projects/:id/runners</c>, <c>/runners</c>), job tokens (<c>/ci/jobs</c>), the job-token
    /// allowlist (<c>/projects/:id/job_token_scope/allowlist</c>, GitLab's shape), trusted OIDC identities
    /// (<c>/projects/:id/ci_trust</c>) and the token exchange <c>POST /jwt/oidc/exchange</c> (docs/ci.md).
    /// </summary>
    private static void MapCi(IEndpointRouteBuilder app, RouteGroupBuilder api)
    {
        api.MapGet("/projects/{id}/runners", ListProjectRunnersAsync);
        api.MapPost("/projects/{id}/runners", CreateProjectRunnerAsync);
        api.MapGet("/runners", Handler(ListRunnersAsync));
        api.MapGet("/runners/all", Handler(ListRunnersAsync));
        api.MapPost("/runners", Handler(CreateInstanceRunnerAsync));
        api.MapGet("/runners/{runnerId:long}", GetRunnerAsync);
        api.MapDelete("/runners/{runnerId:long}", DeleteRunnerAsync);

        api.MapPost("/ci/jobs", Handler(CreateJobAsync));
        api.MapGet("/ci/jobs/{jobId:long}", GetJobAsync);
        api.MapPost("/ci/jobs/{jobId:long}/finish", FinishJobAsync);

        api.MapGet("/projects/{id}/job_token_scope/allowlist", ListAllowlistAsync);
        api.MapPost("/projects/{id}/job_token_scope/allowlist", AddToAllowlistAsync);
        api.MapDelete("/projects/{id}/job_token_scope/allowlist/{targetId}", RemoveFromAllowlistAsync);

        api.MapGet("/projects/{id}/ci_trust", ListTrustedIdentitiesAsync);
        api.MapPost("/projects/{id}/ci_trust", CreateTrustedIdentityAsync);
        api.MapGet("/projects/{id}/ci_trust/{trustId:long}", GetTrustedIdentityAsync);
        api.MapDelete("/projects/{id}/ci_trust/{trustId:long}", DeleteTrustedIdentityAsync);

        app.MapPost("/jwt/oidc/exchange", Handler(ExchangeOidcTokenAsync)).AddEndpointFilter(HandleErrorsAsync).ExcludeFromDescription().DisableAntiforgery();
    }

    // ---- runners ----

    private static RunnerJson RunnerView(RunnerEntity r, string? secret = null) =>
        new(r.Id, r.Description, r.ProjectId is null ? "instance_type" : "project_type", r.ProjectId, r.Active, !r.Active, r.CreatedAt, r.ContactedAt) { Token = secret };

    private static async Task<IResult> ListProjectRunnersAsync(HttpContext context, string id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Read);
        var project = await caller.ProjectWithLevelAsync(id, AccessLevel.Maintainer);
        var runners = await caller.Get<RunnerService>().ListAsync(project.Id, caller.Aborted);
        return Ok(Pagination.Page(context, runners.ToList()).Select(r => RunnerView(r)));
    }

    private static async Task<IResult> CreateProjectRunnerAsync(HttpContext context, string id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        var project = await caller.ProjectWithLevelAsync(id, AccessLevel.Maintainer);
        var p = await ParamsAsync(caller);
        var created = await caller.Get<RunnerService>().CreateAsync(project.Id, p.String("description"), caller.UserId, caller.Aborted);
        return Created(RunnerView(created.Entity, created.Secret));
    }

    private static async Task<IResult> ListRunnersAsync(HttpContext context)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Read);
        caller.RequireAdmin();
        var p = await ParamsAsync(caller);
        IEnumerable<RunnerEntity> runners = await caller.Get<RunnerService>().ListAsync(null, caller.Aborted);
        runners = p.String("type") switch
        {
            "instance_type" => runners.Where(r => r.ProjectId is null),
            "project_type" => runners.Where(r => r.ProjectId is not null),
            null or "" => runners,
            _ => throw ApiException.BadRequest("type does not have a valid value (instance_type, project_type)"),
        };
        return Ok(Pagination.Page(context, runners.ToList()).Select(r => RunnerView(r)));
    }

    private static async Task<IResult> CreateInstanceRunnerAsync(HttpContext context)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        caller.RequireAdmin();
        var p = await ParamsAsync(caller);
        var created = await caller.Get<RunnerService>().CreateAsync(null, p.String("description"), caller.UserId, caller.Aborted);
        return Created(RunnerView(created.Entity, created.Secret));
    }

    /// <summary>A runner the caller manages: admins all; Maintainers their projects' runners.</summary>
    private static async Task<RunnerEntity> ManagedRunnerAsync(ApiCaller caller, long runnerId)
    {
        var runner = await caller.Get<RunnerService>().GetAsync(runnerId, caller.Aborted);
        if (caller.IsAdmin) return runner;
        if (runner.ProjectId is not { } projectId) throw ApiException.NotFound("Runner");
        try
        {
            await caller.ProjectWithLevelAsync(projectId.ToString(System.Globalization.CultureInfo.InvariantCulture), AccessLevel.Maintainer);
        }
        catch (ApiException ex) when (ex.Status == 404)
        {
            throw ApiException.NotFound("Runner");
        }
        return runner;
    }

    private static async Task<IResult> GetRunnerAsync(HttpContext context, long runnerId)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Read);
        return Ok(RunnerView(await ManagedRunnerAsync(caller, runnerId)));
    }

    private static async Task<IResult> DeleteRunnerAsync(HttpContext context, long runnerId)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        var runner = await ManagedRunnerAsync(caller, runnerId);
        await caller.Get<RunnerService>().DeleteAsync(runner.Id, caller.UserId, caller.Aborted);
        return Results.NoContent();
    }

    // ---- jobs ----

    /// <summary>The runner of a request: <c>RUNNER-TOKEN</c> header, <c>Authorization: Bearer brnr-…</c>, or a <c>token</c> parameter.</summary>
    private static async Task<RunnerEntity?> FindRunnerAsync(HttpContext context, ApiParams? p)
    {
        var secret = RunnerSecret(context, p);
        if (secret is null) return null;
        return await context.RequestServices.GetRequiredService<RunnerService>().AuthenticateAsync(secret, context.RequestAborted)
            ?? throw new ApiException(401, new { message = "401 Unauthorized - invalid runner token" });
    }

    private static string? RunnerSecret(HttpContext context, ApiParams? p)
    {
        var header = context.Request.Headers["RUNNER-TOKEN"].ToString().Trim();
        if (header.Length > 0) return header;
        var authorization = context.Request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer " + RunnerService.TokenPrefix, StringComparison.OrdinalIgnoreCase)) return authorization[7..].Trim();
        return p?.String("token") is { } token && token.StartsWith(RunnerService.TokenPrefix, StringComparison.Ordinal) ? token : null;
    }

    /// <summary>The job token of a request: <c>JOB-TOKEN</c> header or <c>Authorization: Bearer bjob-…</c>.</summary>
    private static string? JobTokenSecret(HttpContext context)
    {
        var header = context.Request.Headers["JOB-TOKEN"].ToString().Trim();
        if (header.Length > 0) return header;
        var authorization = context.Request.Headers.Authorization.ToString();
        return authorization.StartsWith("Bearer " + SecretTokens.JobTokenPrefix, StringComparison.OrdinalIgnoreCase) ? authorization[7..].Trim() : null;
    }

    private static string RegistryHostOf(HttpContext context)
    {
        var external = context.RequestServices.GetRequiredService<IOptions<BerthOptions>>().Value.ExternalUrl;
        return !string.IsNullOrEmpty(external) && Uri.TryCreate(external, UriKind.Absolute, out var uri) ? uri.Authority : context.Request.Host.ToString();
    }

    /// <summary>A job's registry variables, named as GitLab names them, plus <c>DOCKER_AUTH_CONFIG</c>.</summary>
    private static Dictionary<string, string> JobVariables(HttpContext context, CreatedJob job)
    {
        var host = RegistryHostOf(context);
        var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{CredentialValidator.JobTokenUsername}:{job.Token}"));
        var dockerAuthConfig = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["auths"] = new Dictionary<string, object> { [host] = new Dictionary<string, string> { ["auth"] = auth } },
        });
        return new Dictionary<string, string>
        {
            ["CI_REGISTRY"] = host,
            ["CI_REGISTRY_IMAGE"] = $"{host}/{job.Project.FullPath.ToLowerInvariant()}",
            ["CI_REGISTRY_USER"] = CredentialValidator.JobTokenUsername,
            ["CI_REGISTRY_PASSWORD"] = job.Token,
            ["CI_JOB_TOKEN"] = job.Token,
            ["CI_JOB_ID"] = job.Job.Id.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["CI_PROJECT_ID"] = job.Project.Id.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["CI_PROJECT_PATH"] = job.Project.FullPath,
            ["DOCKER_AUTH_CONFIG"] = dockerAuthConfig,
        };
    }

    private static async Task<CiJobJson> JobViewAsync(HttpContext context, CiJobEntity job, CreatedJob? created = null)
    {
        var db = context.RequestServices.GetRequiredService<BerthDbContext>();
        var projectPath = created?.Project.FullPath ?? await db.Projects.Where(p => p.Id == job.ProjectId).Select(p => p.FullPath).FirstAsync(context.RequestAborted);
        CiJobUserJson? user = null;
        if (created?.User is { } u) user = new CiJobUserJson(u.Id, u.Username);
        else if (job.UserId is { } uid)
            user = await db.Users.Where(x => x.Id == uid).Select(x => new CiJobUserJson(x.Id, x.Username)).FirstOrDefaultAsync(context.RequestAborted);
        var status = context.RequestServices.GetRequiredService<CiJobService>().StatusOf(job).ToString().ToLowerInvariant();
        return new CiJobJson(job.Id, status, job.ProjectId, projectPath, user, job.RunnerId, job.TrustId, job.Name, job.CreatedAt, job.ExpiresAt, job.FinishedAt)
        {
            Token = created?.Token,
            Variables = created is null ? null : JobVariables(context, created),
        };
    }

    /// <summary><c>POST /api/v4/ci/jobs</c> (runner): a job token for one job of <c>project</c> started by <c>user</c>.</summary>
    private static async Task<IResult> CreateJobAsync(HttpContext context)
    {
        var p = await ApiParams.ReadAsync(context.Request, context.RequestAborted);
        var runner = await FindRunnerAsync(context, p)
            ?? throw new ApiException(401, new { message = $"401 Unauthorized - send the runner token ({RunnerService.TokenPrefix}…) in the RUNNER-TOKEN header" });
        var project = p.String("project") ?? p.String("project_id") ?? throw ApiException.BadRequest("project is missing (the project's id or full path)");
        var user = p.String("user") ?? p.String("user_id") ?? p.String("username") ?? throw ApiException.BadRequest("user is missing (the id or username of the user who started the job)");
        var timeout = p.Long("timeout_minutes");
        if (timeout is > int.MaxValue or < int.MinValue) throw ApiException.BadRequest("timeout_minutes is invalid");
        var jobs = context.RequestServices.GetRequiredService<CiJobService>();
        var created = await jobs.CreateForRunnerAsync(runner, project, user, p.String("name"), (int?)timeout, context.RequestAborted);
        context.Response.Headers.CacheControl = "no-store";
        return Created(await JobViewAsync(context, created.Job, created));
    }

    /// <summary>A job the request may see or finish: by its own job token (<c>JOB-TOKEN</c>), by the runner that
    /// asked for it (<c>RUNNER-TOKEN</c>), or by a Maintainer of its project (API token).</summary>
    private static async Task<(CiJobEntity Job, string By)> AuthorizedJobAsync(HttpContext context, long jobId)
    {
        var jobs = context.RequestServices.GetRequiredService<CiJobService>();
        if (JobTokenSecret(context) is { } secret)
        {
            var own = await jobs.FindByTokenAsync(secret, context.RequestAborted);
            if (own is null || own.Id != jobId) throw new ApiException(401, new { message = "401 Unauthorized - this job token is not the token of job " + jobId });
            return (own, "its job token");
        }
        if (await FindRunnerAsync(context, null) is { } runner)
        {
            var job = await jobs.GetAsync(jobId, context.RequestAborted);
            if (job.RunnerId != runner.Id) throw ApiException.NotFound("Job");
            return (job, $"runner {runner.Id}");
        }
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        var found = await jobs.GetAsync(jobId, context.RequestAborted);
        try
        {
            await caller.ProjectWithLevelAsync(found.ProjectId.ToString(System.Globalization.CultureInfo.InvariantCulture), AccessLevel.Maintainer);
        }
        catch (ApiException ex) when (ex.Status == 404)
        {
            throw ApiException.NotFound("Job");
        }
        return (found, $"user {caller.Principal.Name}");
    }

    private static async Task<IResult> GetJobAsync(HttpContext context, long jobId)
    {
        var (job, _) = await AuthorizedJobAsync(context, jobId);
        return Ok(await JobViewAsync(context, job));
    }

    /// <summary><c>POST /api/v4/ci/jobs/:id/finish</c>: the job is over; its token (and registry tokens issued for it) stop working.</summary>
    private static async Task<IResult> FinishJobAsync(HttpContext context, long jobId)
    {
        var (job, by) = await AuthorizedJobAsync(context, jobId);
        var finished = await context.RequestServices.GetRequiredService<CiJobService>().FinishAsync(job, by, context.RequestAborted);
        return Ok(await JobViewAsync(context, finished));
    }

    // ---- job token allowlist ----

    private static async Task<IResult> ListAllowlistAsync(HttpContext context, string id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Read);
        var project = await caller.ProjectWithLevelAsync(id, AccessLevel.Maintainer);
        var list = await caller.Get<CiJobService>().ListAllowlistAsync(project.Id, caller.Aborted);
        var page = Pagination.Page(context, list.ToList());
        return Ok(await Represent(caller).ProjectsAsync(page, caller.Aborted));
    }

    private static async Task<IResult> AddToAllowlistAsync(HttpContext context, string id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        var project = await caller.ProjectWithLevelAsync(id, AccessLevel.Maintainer);
        var p = await ParamsAsync(caller);
        var targetId = p.String("target_project_id") ?? throw ApiException.BadRequest("target_project_id is missing");
        var target = await caller.ReadableProjectAsync(targetId);
        await caller.Get<CiJobService>().AddToAllowlistAsync(project.Id, target.Id, caller.UserId, caller.Aborted);
        return Created(new { source_project_id = project.Id, target_project_id = target.Id });
    }

    private static async Task<IResult> RemoveFromAllowlistAsync(HttpContext context, string id, string targetId)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        var project = await caller.ProjectWithLevelAsync(id, AccessLevel.Maintainer);
        var target = await caller.Get<CiJobService>().FindProjectAsync(targetId, caller.Aborted) ?? throw ApiException.NotFound("Project");
        await caller.Get<CiJobService>().RemoveFromAllowlistAsync(project.Id, target.Id, caller.UserId, caller.Aborted);
        return Results.NoContent();
    }

    // ---- trusted OIDC identities ----

    private static TrustedIdentityJson TrustView(TrustedIdentityEntity t) =>
        new(t.Id, t.ProjectId, t.Issuer, t.Audience, t.JwksUrl, t.JwksJson is not null, ClaimRule.FromJson(t.RulesJson), t.Description, t.CreatedAt);

    private static async Task<IResult> ListTrustedIdentitiesAsync(HttpContext context, string id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Read);
        var project = await caller.ProjectWithLevelAsync(id, AccessLevel.Maintainer);
        var list = await caller.Get<TrustedIdentityService>().ListAsync(project.Id, caller.Aborted);
        return Ok(Pagination.Page(context, list.ToList()).Select(TrustView));
    }

    private static async Task<IResult> GetTrustedIdentityAsync(HttpContext context, string id, long trustId)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Read);
        var project = await caller.ProjectWithLevelAsync(id, AccessLevel.Maintainer);
        return Ok(TrustView(await caller.Get<TrustedIdentityService>().GetAsync(project.Id, trustId, caller.Aborted)));
    }

    private static async Task<IResult> DeleteTrustedIdentityAsync(HttpContext context, string id, long trustId)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        var project = await caller.ProjectWithLevelAsync(id, AccessLevel.Maintainer);
        await caller.Get<TrustedIdentityService>().DeleteAsync(project.Id, trustId, caller.UserId, caller.Aborted);
        return Results.NoContent();
    }

    /// <summary>
    /// <c>POST /api/v4/projects/:id/ci_trust</c> (Maintainer+): <c>issuer</c>, <c>audience</c>, <c>jwks_url</c> or
    /// <c>jwks</c> (the document, as a JSON object or a string; neither: OpenID discovery from the issuer),
    /// <c>rules</c> (a JSON array of <c>{claim, operator, value}</c>, or that array as a string), <c>description</c>.
    /// </summary>
    private static async Task<IResult> CreateTrustedIdentityAsync(HttpContext context, string id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        var project = await caller.ProjectWithLevelAsync(id, AccessLevel.Maintainer);
        context.Request.EnableBuffering();
        var p = await ParamsAsync(caller);
        string? jwks = p.String("jwks");
        IReadOnlyList<ClaimRule>? rules = null;
        JsonElement? rulesElement = null;
        if (context.Request.ContentType?.Contains("json", StringComparison.OrdinalIgnoreCase) == true && context.Request.Body.CanSeek)
        {
            context.Request.Body.Position = 0;
            using var doc = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: caller.Aborted);
            if (doc.RootElement.ValueKind == JsonValueKind.Object)
            {
                if (doc.RootElement.TryGetProperty("jwks", out var j) && j.ValueKind == JsonValueKind.Object) jwks = j.GetRawText();
                if (doc.RootElement.TryGetProperty("rules", out var r) && r.ValueKind == JsonValueKind.Array) rulesElement = r.Clone();
            }
        }
        try
        {
            if (rulesElement is { } array) rules = array.Deserialize<List<ClaimRule>>();
            else if (p.String("rules") is { Length: > 0 } text) rules = JsonSerializer.Deserialize<List<ClaimRule>>(text);
        }
        catch (JsonException)
        {
            throw ApiException.BadRequest("rules is invalid: give a JSON array of {\"claim\",\"operator\",\"value\"} objects");
        }
        var request = new NewTrustedIdentity(p.String("issuer"), p.String("audience"), p.String("jwks_url"), jwks, rules, p.String("description"));
        var trust = await caller.Get<TrustedIdentityService>().CreateAsync(project.Id, request, caller.UserId, caller.Aborted);
        return Created(TrustView(trust));
    }

    /// <summary>
    /// <c>POST /jwt/oidc/exchange</c> (OAuth 2.0 token exchange, RFC 8693, unauthenticated): <c>project</c> and the
    /// CI's OIDC ID token as <c>subject_token</c> (or <c>id_token</c>, or <c>Authorization: Bearer</c>); optional
    /// <c>scope</c> (registry scopes for the extra <c>registry_token</c>; default push/pull on the project's
    /// repository). Answers the job token (the password of <c>gitlab-ci-token</c>) with the job's registry
    /// variables; refusals are <c>400 {"error","error_description"}</c> saying which check failed.
    /// </summary>
    private static async Task<IResult> ExchangeOidcTokenAsync(HttpContext context)
    {
        var p = await ApiParams.ReadAsync(context.Request, context.RequestAborted);
        var grant = p.String("grant_type");
        if (!string.IsNullOrEmpty(grant) && grant != "urn:ietf:params:oauth:grant-type:token-exchange")
            return OAuthError(400, "unsupported_grant_type", "grant_type must be urn:ietf:params:oauth:grant-type:token-exchange (or left out)");
        var idToken = p.String("subject_token") ?? p.String("id_token") ?? p.String("token");
        if (string.IsNullOrEmpty(idToken) && context.Request.Headers.Authorization.ToString() is { } auth && auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            idToken = auth[7..].Trim();
        var project = p.String("project") ?? p.String("project_id") ?? p.String("audience_project");
        ExchangeResult result;
        try
        {
            result = await context.RequestServices.GetRequiredService<TrustedIdentityService>().ExchangeAsync(project, idToken, context.RequestAborted);
        }
        catch (TokenExchangeException ex)
        {
            context.Response.Headers.CacheControl = "no-store";
            return OAuthError(400, ex.Error, ex.Message);
        }

        var job = result.Job;
        var principal = new Principal(PrincipalKind.JobToken, CredentialValidator.JobTokenUsername)
        {
            ProjectId = job.Project.Id,
            CredentialId = job.Job.Id,
            Via = "oidc",
        };
        var scopes = p.List("scope") is { Count: > 0 } asked
            ? TokenScope.ParseList(asked.SelectMany(s => s.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray())
            : TokenScope.ParseList([$"repository:{job.Project.FullPath.ToLowerInvariant()}:pull,push"]);
        var tokens = context.RequestServices.GetRequiredService<RegistryTokenService>();
        var access = await tokens.GrantAsync(principal, scopes, context.RequestAborted);
        var registryToken = await tokens.IssueAsync(principal, access, context.RequestAborted);
        context.Response.Headers.CacheControl = "no-store";
        var expiresIn = (int)Math.Max(0, (job.Job.ExpiresAt - job.Job.CreatedAt).TotalSeconds);
        return Ok(new
        {
            access_token = job.Token,
            issued_token_type = "urn:ietf:params:oauth:token-type:access_token",
            token_type = "N_A",
            expires_in = expiresIn,
            expires_at = job.Job.ExpiresAt,
            username = CredentialValidator.JobTokenUsername,
            job_id = job.Job.Id,
            project_id = job.Project.Id,
            project = job.Project.FullPath,
            trusted_identity_id = result.Trust.Id,
            variables = JobVariables(context, job),
            registry_token = registryToken.Token,
            registry_token_expires_in = registryToken.ExpiresIn,
        });
    }
}
