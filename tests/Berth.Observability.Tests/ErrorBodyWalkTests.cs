using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;

namespace Berth.Observability.Tests;

/// <summary>Walks the error paths of <c>/v2</c> and <c>/jwt/auth</c>: every refusal is JSON (never empty, never
/// HTML), names the refusing component, and carries the request id the caller sent.</summary>
public sealed class ErrorBodyWalkTests : IClassFixture<ErrorBodyWalkTests.Fixture>
{
    public sealed class Fixture : IAsyncLifetime
    {
        public ObsFactory Factory { get; } = new(new() { ["Auth:SignInLimits:PerAccount"] = "3" });
        public string? RootToken { get; private set; }
        public string? AliceToken { get; private set; }

        public async Task InitializeAsync()
        {
            var alice = await Factory.AddUserAsync("alice", "alice-password-1");
            var group = await Factory.AddGroupAsync("walk");
            await Factory.AddProjectAsync(group, "app", "private");
            RootToken = (await Factory.RequestTokenAsync("root", ObsFactory.RootPassword, "repository:walk/app:pull,push,delete")).Token;
            AliceToken = (await Factory.RequestTokenAsync("alice", "alice-password-1", "repository:walk/app:pull,push")).Token;
        }

        public Task DisposeAsync() { Factory.Dispose(); return Task.CompletedTask; }
    }

    private static readonly string[] Components = ["token service", "access policy", "registry validation", "storage", "database", "rate limit", "registry"];

    private readonly Fixture _fixture;

    public ErrorBodyWalkTests(Fixture fixture) => _fixture = fixture;

    public static TheoryData<string, string, string, int, string, string> V2Paths => new()
    {
        // method, path, who (none | root | alice | garbage), expected status, code, component
        { "GET", "/v2/", "none", 401, "UNAUTHORIZED", "access policy" },
        { "GET", "/v2/_catalog", "none", 401, "UNAUTHORIZED", "access policy" },
        { "GET", "/v2/walk/app/manifests/latest", "garbage", 401, "UNAUTHORIZED", "access policy" },
        { "GET", "/v2/walk/app/manifests/latest", "none", 401, "UNAUTHORIZED", "access policy" },
        { "PUT", "/v2/walk/app/manifests/latest", "alice", 403, "DENIED", "access policy" },
        { "GET", "/v2/Walk/UPPER/manifests/latest", "root", 400, "NAME_INVALID", "registry validation" },
        { "GET", "/v2/walk/app/manifests/bad!tag", "root", 400, "TAG_INVALID", "registry validation" },
        { "GET", "/v2/walk/app/blobs/sha256:xyz", "root", 400, "DIGEST_INVALID", "registry validation" },
        { "GET", "/v2/walk/app/manifests/missing", "root", 404, "MANIFEST_UNKNOWN", "registry validation" },
        { "GET", "/v2/walk/app/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000", "root", 404, "BLOB_UNKNOWN", "registry validation" },
        { "GET", "/v2/walk/app/blobs/uploads/3f2504e0-4f89-11d3-9a0c-0305e82c3301", "root", 404, "BLOB_UPLOAD_UNKNOWN", "registry validation" },
        { "PATCH", "/v2/walk/app/blobs/uploads/not-a-uuid", "root", 404, "BLOB_UPLOAD_UNKNOWN", "registry validation" },
        { "OPTIONS", "/v2/walk/app/manifests/latest", "root", 405, "UNSUPPORTED", "registry validation" },
        { "GET", "/v2/walk/app/unknown-thing", "root", 404, "UNSUPPORTED", "registry validation" },
        { "PUT", "/v2/walk/app/manifests/v1", "root", 400, "MANIFEST_INVALID", "registry validation" },
        { "GET", "/v2/walk/app/tags/list?n=-1", "root", 400, "PAGINATION_NUMBER_INVALID", "registry validation" },
    };

    [Theory]
    [MemberData(nameof(V2Paths))]
    public async Task V2_errors_are_oci_envelopes_naming_the_component(string method, string path, string who, int status, string code, string component)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        request.Headers.Add("X-Request-Id", "walk-" + code.ToLowerInvariant());
        request.Headers.Authorization = who switch
        {
            "root" => new AuthenticationHeaderValue("Bearer", _fixture.RootToken),
            "alice" => new AuthenticationHeaderValue("Bearer", _fixture.AliceToken),
            "garbage" => new AuthenticationHeaderValue("Bearer", "not.a.jwt"),
            _ => null,
        };
        if (method == "PUT") request.Content = new StringContent("{not json", Encoding.UTF8, "application/vnd.oci.image.manifest.v1+json");
        using var response = await _fixture.Factory.CreateClient().SendAsync(request);
        var error = await AssertEnvelopeAsync(response, status, "walk-" + code.ToLowerInvariant());
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Equal(component, error.GetProperty("detail").GetProperty("component").GetString());
        Assert.Equal("registry/2.0", response.Headers.GetValues("Docker-Distribution-API-Version").Single());
    }

    [Fact]
    public async Task Token_service_errors_are_json_naming_the_token_service()
    {
        var client = _fixture.Factory.CreateClient();

        using var wrongPassword = new HttpRequestMessage(HttpMethod.Get, "/jwt/auth?service=container_registry&scope=repository:walk/app:pull");
        wrongPassword.Headers.Authorization = ObsFactory.Basic("alice", "wrong-password");
        wrongPassword.Headers.Add("X-Request-Id", "tok-1");
        using var r1 = await client.SendAsync(wrongPassword);
        var e1 = await AssertEnvelopeAsync(r1, 401, "tok-1");
        Assert.Equal("token service", e1.GetProperty("detail").GetProperty("component").GetString());

        using var wrongService = new HttpRequestMessage(HttpMethod.Get, "/jwt/auth?service=someone-else");
        wrongService.Headers.Add("X-Request-Id", "tok-2");
        using var r2 = await client.SendAsync(wrongService);
        var e2 = await AssertEnvelopeAsync(r2, 400, "tok-2");
        Assert.Equal("token service", e2.GetProperty("detail").GetProperty("component").GetString());

        foreach (var (content, expected) in new (HttpContent, int)[]
        {
            (new StringContent("grant_type=password", Encoding.UTF8, "text/plain"), 400),
            (new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "magic" }), 400),
            (new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["refresh_token"] = "nope" }), 401),
        })
        {
            using var post = new HttpRequestMessage(HttpMethod.Post, "/jwt/auth") { Content = content };
            post.Headers.Add("X-Request-Id", "tok-post");
            using var r = await client.SendAsync(post);
            Assert.Equal(expected, (int)r.StatusCode);
            Assert.StartsWith("application/json", r.Content.Headers.ContentType!.MediaType);
            using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
            Assert.False(string.IsNullOrEmpty(doc.RootElement.GetProperty("error").GetString()));
            Assert.False(string.IsNullOrEmpty(doc.RootElement.GetProperty("error_description").GetString()));
            Assert.Equal("token service", doc.RootElement.GetProperty("component").GetString());
            Assert.Equal("tok-post", doc.RootElement.GetProperty("requestId").GetString());
        }
    }

    [Fact]
    public async Task V2_errors_of_requests_with_bodies_are_oci_envelopes_naming_the_component()
    {
        var client = _fixture.Factory.CreateClient();
        var token = _fixture.RootToken;
        var zeros = "sha256:" + new string('0', 64);

        // NAME_UNKNOWN: the repository has no manifest yet (this walk never pushes into walk/app).
        using (var r = await client.SendAsync(Registry.Request(HttpMethod.Get, "/v2/walk/app/tags/list", token, "body-name")))
            Assert.Equal("NAME_UNKNOWN", (await AssertEnvelopeAsync(r, 404, "body-name")).GetProperty("code").GetString());

        // MANIFEST_BLOB_UNKNOWN: a well-formed manifest naming blobs the repository does not have.
        using (var put = Registry.Request(HttpMethod.Put, "/v2/walk/app/manifests/v1", token, "body-blob-unknown"))
        {
            put.Content = new StringContent(
                "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"," +
                "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + zeros + "\",\"size\":2},\"layers\":[]}", Encoding.UTF8);
            put.Content.Headers.ContentType = new("application/vnd.oci.image.manifest.v1+json");
            using var r = await client.SendAsync(put);
            var e = await AssertEnvelopeAsync(r, 400, "body-blob-unknown");
            Assert.Equal("MANIFEST_BLOB_UNKNOWN", e.GetProperty("code").GetString());
            Assert.Equal("registry validation", e.GetProperty("detail").GetProperty("component").GetString());
        }

        // 413 MANIFEST_INVALID: larger than the manifest limit (refused from Content-Length, body not read).
        using (var put = Registry.Request(HttpMethod.Put, "/v2/walk/app/manifests/big", token, "body-too-large"))
        {
            put.Content = new ByteArrayContent(new byte[5 * 1024 * 1024]);
            put.Content.Headers.ContentType = new("application/vnd.oci.image.manifest.v1+json");
            using var r = await client.SendAsync(put);
            Assert.Equal("MANIFEST_INVALID", (await AssertEnvelopeAsync(r, 413, "body-too-large")).GetProperty("code").GetString());
        }

        // DIGEST_INVALID: a monolithic upload whose bytes do not hash to the digest given.
        using (var post = Registry.Request(HttpMethod.Post, $"/v2/walk/app/blobs/uploads/?digest={zeros}", token, "body-digest"))
        {
            post.Content = new ByteArrayContent(Encoding.UTF8.GetBytes("not the zero digest"));
            post.Content.Headers.ContentType = new("application/octet-stream");
            using var r = await client.SendAsync(post);
            Assert.Equal("DIGEST_INVALID", (await AssertEnvelopeAsync(r, 400, "body-digest")).GetProperty("code").GetString());
        }

        // 416 for a chunk out of order: the session has 0 bytes, the chunk claims to start at 100.
        using (var start = Registry.Request(HttpMethod.Post, "/v2/walk/app/blobs/uploads/", token))
        using (var started = await client.SendAsync(start))
        {
            Assert.Equal(202, (int)started.StatusCode);
            using var patch = Registry.Request(HttpMethod.Patch, started.Headers.Location!.ToString(), token, "body-range");
            patch.Content = new ByteArrayContent(new byte[10]);
            patch.Content.Headers.ContentType = new("application/octet-stream");
            patch.Content.Headers.TryAddWithoutValidation("Content-Range", "100-109");
            using var r = await client.SendAsync(patch);
            var e = await AssertEnvelopeAsync(r, 416, "body-range");
            Assert.Equal("registry validation", e.GetProperty("detail").GetProperty("component").GetString());
        }
    }

    [Fact]
    public async Task Api_v4_errors_carry_the_request_id_and_the_component()
    {
        var client = _fixture.Factory.CreateClient();
        var root = await _fixture.Factory.WithDbAsync((db, _) => db.Users.SingleAsync(u => u.Username == "root"));
        var rootPat = await _fixture.Factory.AddPersonalAccessTokenAsync(root, "api");
        var alice = await _fixture.Factory.WithDbAsync((db, _) => db.Users.SingleAsync(u => u.Username == "alice"));
        var alicePat = await _fixture.Factory.AddPersonalAccessTokenAsync(alice, "api");
        foreach (var (method, path, pat, status, component) in new (string, string, string?, int, string)[]
        {
            ("GET", "/api/v4/user", null, 401, "access policy"),
            ("GET", "/api/v4/user", "not-a-token", 401, "access policy"),
            ("GET", "/api/v4/audit_events", alicePat, 403, "access policy"),
            ("GET", "/api/v4/admin/notification_endpoints", alicePat, 403, "access policy"),
            ("GET", "/api/v4/projects/999999", rootPat, 404, "api validation"),
            ("POST", "/api/v4/projects", rootPat, 400, "api validation"),
            ("GET", "/api/v4/audit_events?created_after=yesterday-ish", rootPat, 400, "api validation"),
            ("POST", "/api/v4/projects/walk%2Fapp/hooks", rootPat, 400, "api validation"),
            ("GET", "/api/v4/no/such/route", rootPat, 404, "api"),
        })
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path);
            if (pat is not null) request.Headers.Add("PRIVATE-TOKEN", pat);
            if (method == "POST") request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
            var id = $"api-{status}-{Guid.NewGuid():N}";
            request.Headers.Add("X-Request-Id", id);
            using var response = await client.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True((int)response.StatusCode == status, $"{method} {path}: expected {status}, got {(int)response.StatusCode}: {body}");
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
            using var doc = JsonDocument.Parse(body);
            Assert.True(doc.RootElement.TryGetProperty("message", out _) || doc.RootElement.TryGetProperty("error", out _), body);
            Assert.Equal(component, doc.RootElement.GetProperty("component").GetString());
            Assert.Equal(id, doc.RootElement.GetProperty("request_id").GetString());
            Assert.Equal(id, response.Headers.GetValues("X-Request-Id").Single());
        }
    }

    [Fact]
    public async Task Rate_limited_sign_ins_name_the_rate_limit()
    {
        await _fixture.Factory.AddUserAsync("limited", "limited-password");
        var client = _fixture.Factory.CreateClient();
        HttpResponseMessage? last = null;
        for (int i = 0; i < 8; i++)
        {
            last?.Dispose();
            using var request = new HttpRequestMessage(HttpMethod.Get, "/jwt/auth?service=container_registry");
            request.Headers.Authorization = ObsFactory.Basic("limited", "bad-" + i);
            request.Headers.Add("X-Request-Id", "limit-" + i);
            last = await client.SendAsync(request);
            if ((int)last.StatusCode == 429) break;
        }
        Assert.Equal(429, (int)last!.StatusCode);
        var error = await AssertEnvelopeAsync(last, 429, null);
        Assert.Equal("rate limit", error.GetProperty("detail").GetProperty("component").GetString());

        using var v2 = new HttpRequestMessage(HttpMethod.Get, "/v2/walk/app/tags/list");
        v2.Headers.Authorization = ObsFactory.Basic("limited", "bad-again");
        using var r = await client.SendAsync(v2);
        var e2 = await AssertEnvelopeAsync(r, 429, null);
        Assert.Equal("rate limit", e2.GetProperty("detail").GetProperty("component").GetString());
        last.Dispose();
    }

    private static async Task<JsonElement> AssertEnvelopeAsync(HttpResponseMessage response, int status, string? requestId)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"expected {status}, got {(int)response.StatusCode}: {body}");
        Assert.False(string.IsNullOrWhiteSpace(body), "empty error body");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain("<html", body, StringComparison.OrdinalIgnoreCase);
        using var doc = JsonDocument.Parse(body);
        var error = doc.RootElement.GetProperty("errors")[0].Clone();
        Assert.False(string.IsNullOrEmpty(error.GetProperty("code").GetString()));
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        var detail = error.GetProperty("detail");
        Assert.Contains(detail.GetProperty("component").GetString(), Components);
        var header = response.Headers.GetValues("X-Request-Id").Single();
        Assert.Equal(header, detail.GetProperty("requestId").GetString());
        if (requestId is not null) Assert.Equal(requestId, header);
        return error;
    }
}
