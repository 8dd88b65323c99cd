using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Berth.Auth;
using Berth.Metadata;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Berth.Ci.Tests.Infrastructure;

/// <summary>A job created through <c>POST /api/v4/ci/jobs</c>: its id, token and registry variables.</summary>
public sealed record TestJob(long Id, string Token, DateTime ExpiresAt, Dictionary<string, string> Variables);

/// <summary>
/// Berth in process with token authentication, fast password hashing, a <see cref="TestClock"/> as its
/// <see cref="TimeProvider"/> and every log line captured (<see cref="Logs"/>). Seeds users, groups, projects
/// and memberships straight into the database; drives runners, jobs and the rest through the real endpoints.
/// </summary>
public sealed class CiFactory : WebApplicationFactory<Program>
{
    public const string Password = "correct horse battery";

    public string DataDir { get; } = Path.Combine(Path.GetTempPath(), "berth-ci-tests", Guid.NewGuid().ToString("N"));

    public TestClock Clock { get; } = new();

    public CapturingLoggerProvider Logs { get; } = new();

    private readonly Dictionary<string, string> _settings;

    public CiFactory() : this([]) { }

    public CiFactory(Dictionary<string, string> settings) => _settings = settings;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("DataDir", DataDir);
        builder.UseSetting("Auth:Mode", "token");
        builder.UseSetting("Auth:Passwords:Iterations", "1000");
        builder.UseSetting("Auth:SignInLimits:PerAccount", "1000");
        builder.UseSetting("Auth:SignInLimits:PerAddress", "100000");
        builder.UseSetting("RootPassword", "root-password-for-tests");
        foreach (var (key, value) in _settings) builder.UseSetting(key, value);
        builder.ConfigureLogging(l =>
        {
            l.ClearProviders();
            l.AddProvider(Logs);
            l.SetMinimumLevel(LogLevel.Information);
        });
        builder.ConfigureTestServices(services =>
        {
            services.RemoveAll<TimeProvider>();
            services.AddSingleton<TimeProvider>(Clock);
        });
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(DataDir, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>A unique lower-case name.</summary>
    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..8]}";

    public async Task<T> WithDbAsync<T>(Func<BerthDbContext, IServiceProvider, Task<T>> action)
    {
        _ = Server;
        await using var scope = Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BerthDbContext>();
        return await action(db, scope.ServiceProvider);
    }

    public Task<UserEntity> AddUserAsync(string username, bool admin = false) =>
        WithDbAsync(async (db, sp) =>
        {
            var user = new UserEntity
            {
                Username = username, NormalizedUsername = username.ToLowerInvariant(), Email = username + "@example.com", Name = username,
                IsAdmin = admin, CreatedAt = DateTime.UtcNow,
            };
            user.PasswordHash = sp.GetRequiredService<PasswordHashing>().Hash(user, Password);
            db.Users.Add(user);
            await db.SaveChangesAsync();
            db.Namespaces.Add(new NamespaceEntity { Name = username, Path = username, FullPath = username, Kind = "user", OwnerId = user.Id, Visibility = "private", CreatedAt = DateTime.UtcNow });
            await db.SaveChangesAsync();
            return user;
        });

    public Task<NamespaceEntity> AddGroupAsync(string path) =>
        WithDbAsync(async (db, _) =>
        {
            var ns = new NamespaceEntity { Name = path, Path = path, FullPath = path, Kind = "group", Visibility = "private", CreatedAt = DateTime.UtcNow };
            db.Namespaces.Add(ns);
            await db.SaveChangesAsync();
            return ns;
        });

    public Task<ProjectEntity> AddProjectAsync(NamespaceEntity ns, string path, string visibility = "private") =>
        WithDbAsync(async (db, _) =>
        {
            var p = new ProjectEntity { NamespaceId = ns.Id, Name = path, Path = path, FullPath = ns.FullPath + "/" + path, Visibility = visibility, CreatedAt = DateTime.UtcNow };
            db.Projects.Add(p);
            await db.SaveChangesAsync();
            return p;
        });

    public Task AddMemberAsync(UserEntity user, ProjectEntity project, AccessLevel level) =>
        WithDbAsync(async (db, _) =>
        {
            db.Members.Add(new MemberEntity { UserId = user.Id, ProjectId = project.Id, AccessLevel = (int)level, CreatedAt = DateTime.UtcNow });
            await db.SaveChangesAsync();
            return 0;
        });

    /// <summary>A personal access token with the <c>api</c> scope, for <c>/api/v4</c> calls as <paramref name="user"/>.</summary>
    public Task<string> ApiTokenAsync(UserEntity user) =>
        WithDbAsync(async (db, _) =>
        {
            var secret = SecretTokens.Generate(SecretTokens.PersonalAccessTokenPrefix);
            db.PersonalAccessTokens.Add(new PersonalAccessTokenEntity { UserId = user.Id, Name = "ci-tests", Scopes = "api", TokenHash = SecretTokens.Hash(secret), CreatedAt = DateTime.UtcNow });
            await db.SaveChangesAsync();
            return secret;
        });

    /// <summary>Sends an <c>/api/v4</c> request with a <c>PRIVATE-TOKEN</c> and a JSON body.</summary>
    public async Task<(HttpStatusCode Status, JsonNode? Body)> ApiAsync(HttpMethod method, string path, string? privateToken, object? body = null, IDictionary<string, string>? headers = null)
    {
        using var client = CreateClient();
        using var request = new HttpRequestMessage(method, "/api/v4/" + path.TrimStart('/'));
        if (privateToken is not null) request.Headers.Add("PRIVATE-TOKEN", privateToken);
        foreach (var (k, v) in headers ?? new Dictionary<string, string>()) request.Headers.TryAddWithoutValidation(k, v);
        if (body is not null) request.Content = JsonContent.Create(body);
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    /// <summary>Creates a project runner as <paramref name="maintainerToken"/>; returns its secret.</summary>
    public async Task<string> CreateProjectRunnerAsync(ProjectEntity project, string maintainerToken)
    {
        var (status, body) = await ApiAsync(HttpMethod.Post, $"projects/{project.Id}/runners", maintainerToken, new { description = "test runner" });
        Assert.True(status == HttpStatusCode.Created, $"runner creation: {(int)status} {body}");
        return body!["token"]!.GetValue<string>();
    }

    /// <summary>Asks for a job token as a runner.</summary>
    public async Task<(HttpStatusCode Status, JsonNode? Body)> RequestJobAsync(string runnerToken, object body) =>
        await ApiAsync(HttpMethod.Post, "ci/jobs", null, body, new Dictionary<string, string> { ["RUNNER-TOKEN"] = runnerToken });

    /// <summary>Asks for a job token as a runner; asserts 201.</summary>
    public async Task<TestJob> CreateJobAsync(string runnerToken, ProjectEntity project, UserEntity user, int? timeoutMinutes = null)
    {
        var (status, body) = await RequestJobAsync(runnerToken, new { project = project.FullPath, user = user.Username, name = "build", timeout_minutes = timeoutMinutes });
        Assert.True(status == HttpStatusCode.Created, $"job creation: {(int)status} {body}");
        var variables = body!["variables"]!.AsObject().ToDictionary(kv => kv.Key, kv => kv.Value!.GetValue<string>());
        return new TestJob(body["id"]!.GetValue<long>(), body["token"]!.GetValue<string>(), body["expires_at"]!.GetValue<DateTime>(), variables);
    }

    /// <summary>Finishes a job as its runner; asserts 200.</summary>
    public async Task FinishJobAsync(string runnerToken, TestJob job)
    {
        var (status, body) = await ApiAsync(HttpMethod.Post, $"ci/jobs/{job.Id}/finish", null, null, new Dictionary<string, string> { ["RUNNER-TOKEN"] = runnerToken });
        Assert.True(status == HttpStatusCode.OK, $"finish: {(int)status} {body}");
        Assert.Equal("finished", body!["status"]!.GetValue<string>());
    }

    public static AuthenticationHeaderValue Basic(string user, string secret) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{secret}")));

    public static AuthenticationHeaderValue JobBasic(string token) => Basic(CredentialValidator.JobTokenUsername, token);

    /// <summary>Asks /jwt/auth for a token; returns the status, the token, the granted actions per scope name and the body.</summary>
    public async Task<(int Status, string? Token, Dictionary<string, string[]> Granted, string Body)> RequestTokenAsync(AuthenticationHeaderValue? auth, params string[] scopes)
    {
        using var client = CreateClient();
        var query = "/jwt/auth?service=container_registry" + string.Concat(scopes.Select(s => "&scope=" + Uri.EscapeDataString(s)));
        using var request = new HttpRequestMessage(HttpMethod.Get, query);
        request.Headers.Authorization = auth;
        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        var granted = new Dictionary<string, string[]>();
        if (!response.IsSuccessStatusCode) return ((int)response.StatusCode, null, granted, body);
        using var doc = JsonDocument.Parse(body);
        var token = doc.RootElement.GetProperty("token").GetString()!;
        foreach (var entry in DecodePayload(token).GetProperty("access").EnumerateArray())
        {
            granted[entry.GetProperty("name").GetString()!] = entry.GetProperty("actions").EnumerateArray().Select(a => a.GetString()!).ToArray();
        }
        return ((int)response.StatusCode, token, granted, body);
    }

    public static JsonElement DecodePayload(string jwt)
    {
        var part = jwt.Split('.')[1].Replace('-', '+').Replace('_', '/');
        part = part.PadRight(part.Length + (4 - part.Length % 4) % 4, '=');
        return JsonDocument.Parse(Convert.FromBase64String(part)).RootElement.Clone();
    }

    /// <summary>
    /// Pushes a tiny OCI image (config + one layer + manifest) to <paramref name="repository"/>:<paramref name="tag"/>
    /// with <paramref name="auth"/> on every request; returns the first refused response, or the manifest PUT's.
    /// </summary>
    public async Task<(HttpStatusCode Status, string Body)> PushImageAsync(string repository, string tag, AuthenticationHeaderValue? auth)
    {
        using var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = auth;
        var config = Encoding.UTF8.GetBytes("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}");
        var layer = RandomNumberGenerator.GetBytes(64);
        foreach (var blob in new[] { config, layer })
        {
            using var response = await client.PostAsync($"/v2/{repository}/blobs/uploads/?digest={Sha256(blob)}", new ByteArrayContent(blob));
            if (response.StatusCode != HttpStatusCode.Created) return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        var manifest = JsonSerializer.SerializeToUtf8Bytes(new
        {
            schemaVersion = 2,
            mediaType = "application/vnd.oci.image.manifest.v1+json",
            config = new { mediaType = "application/vnd.oci.image.config.v1+json", digest = Sha256(config), size = config.Length },
            layers = new[] { new { mediaType = "application/vnd.oci.image.layer.v1.tar+gzip", digest = Sha256(layer), size = layer.Length } },
        });
        var content = new ByteArrayContent(manifest);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/vnd.oci.image.manifest.v1+json");
        using var put = await client.PutAsync($"/v2/{repository}/manifests/{tag}", content);
        return (put.StatusCode, await put.Content.ReadAsStringAsync());
    }

    /// <summary>GET of a manifest with <paramref name="auth"/>: its status and body.</summary>
    public async Task<(HttpStatusCode Status, string Body)> PullManifestAsync(string repository, string tag, AuthenticationHeaderValue? auth)
    {
        using var client = CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v2/{repository}/manifests/{tag}");
        request.Headers.Authorization = auth;
        request.Headers.Accept.ParseAdd("application/vnd.oci.image.manifest.v1+json");
        using var response = await client.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Pushes an image as root (admin password), so tests have something to pull.</summary>
    public async Task PushAsRootAsync(string repository, string tag = "v1")
    {
        var (status, body) = await PushImageAsync(repository, tag, Basic("root", "root-password-for-tests"));
        Assert.True(status == HttpStatusCode.Created, $"root push: {(int)status} {body}");
    }

    public static string Sha256(byte[] content) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));

    /// <summary>The code and message of the first error of an OCI error body.</summary>
    public static (string Code, string Message) FirstError(string body)
    {
        using var doc = JsonDocument.Parse(body);
        var error = doc.RootElement.GetProperty("errors")[0];
        return (error.GetProperty("code").GetString()!, error.GetProperty("message").GetString()!);
    }
}
