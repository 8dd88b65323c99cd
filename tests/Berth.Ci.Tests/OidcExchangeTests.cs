using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Berth.Auth;
using Berth.Ci.Tests.Infrastructure;
using Berth.Metadata;
using Microsoft.IdentityModel.Tokens;

namespace Berth.Ci.Tests;

/// <summary>
/// Trusted CI identities: a Maintainer registers a test issuer (its own key pair and JWKS, inline or served on
/// loopback), an audience and claim rules; a CI job exchanges its ID token at <c>POST /jwt/oidc/exchange</c> for a
/// job token with push/pull on that project only. Wrong audience, expiry, unknown key, claim mismatch and
/// <c>alg: none</c> are each refused with their own message.
/// </summary>
public sealed class OidcExchangeTests(OidcExchangeTests.World world) : IClassFixture<OidcExchangeTests.World>
{
    public sealed class World : IDisposable
    {
        public CiFactory Factory { get; } = new();

        public void Dispose() => Factory.Dispose();
    }

    private const string Audience = "https://berth.example.test";
    private CiFactory F => world.Factory;

    private sealed record Setup(ProjectEntity App, ProjectEntity Other, string MaintainerToken, TestIssuer Issuer, long TrustId);

    private async Task<Setup> SetupAsync(TestIssuer issuer, bool inlineJwks = true, object? rules = null)
    {
        var group = await F.AddGroupAsync(CiFactory.Unique("oidc"));
        var app = await F.AddProjectAsync(group, "app");
        var other = await F.AddProjectAsync(group, "other");
        var maintainer = await F.AddUserAsync(CiFactory.Unique("maint"));
        await F.AddMemberAsync(maintainer, app, AccessLevel.Maintainer);
        await F.AddMemberAsync(maintainer, other, AccessLevel.Maintainer);
        var token = await F.ApiTokenAsync(maintainer);
        var (status, body) = await F.ApiAsync(HttpMethod.Post, $"projects/{app.Id}/ci_trust", token, new Dictionary<string, object?>
        {
            ["issuer"] = issuer.Issuer,
            ["audience"] = Audience,
            ["jwks"] = inlineJwks ? JsonNode.Parse(issuer.Jwks) : null,
            ["rules"] = rules ?? new[]
            {
                new { claim = "repository", @operator = "equals", value = "org/app" },
                new { claim = "ref", @operator = "glob", value = "refs/heads/main" },
            },
            ["description"] = "GitHub Actions of org/app, main only",
        });
        Assert.True(status == HttpStatusCode.Created, $"{(int)status} {body}");
        Assert.Equal(inlineJwks, body!["jwks_inline"]!.GetValue<bool>());
        return new Setup(app, other, token, issuer, body["id"]!.GetValue<long>());
    }

    private async Task<(HttpStatusCode Status, JsonNode Body)> ExchangeAsync(object project, string idToken)
    {
        using var client = F.CreateClient();
        using var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "urn:ietf:params:oauth:grant-type:token-exchange",
            ["subject_token_type"] = "urn:ietf:params:oauth:token-type:id_token",
            ["subject_token"] = idToken,
            ["project"] = project.ToString()!,
        });
        using var response = await client.PostAsync("/jwt/oidc/exchange", form);
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    private async Task<string> RefusedAsync(Setup s, string idToken)
    {
        var (status, body) = await ExchangeAsync(s.App.FullPath, idToken);
        Assert.True(status == HttpStatusCode.BadRequest, body.ToJsonString());
        Assert.Equal("invalid_grant", body["error"]!.GetValue<string>());
        return body["error_description"]!.GetValue<string>();
    }

    [Fact]
    public async Task A_valid_token_with_matching_claims_is_exchanged_and_pushes()
    {
        using var issuer = new TestIssuer();
        var s = await SetupAsync(issuer);
        var (status, body) = await ExchangeAsync(s.App.FullPath, issuer.Token(Audience));
        Assert.True(status == HttpStatusCode.OK, body.ToJsonString());
        var jobToken = body["access_token"]!.GetValue<string>();
        Assert.StartsWith(SecretTokens.JobTokenPrefix, jobToken, StringComparison.Ordinal);
        Assert.Equal("gitlab-ci-token", body["username"]!.GetValue<string>());
        Assert.Equal(jobToken, body["variables"]!["CI_REGISTRY_PASSWORD"]!.GetValue<string>());
        Assert.Equal(s.TrustId, body["trusted_identity_id"]!.GetValue<long>());
        Assert.InRange(body["expires_in"]!.GetValue<int>(), 3500, 3600);

        // docker/podman login -u gitlab-ci-token -p <token>, then push.
        var repo = s.App.FullPath;
        var (tokenStatus, _, granted, tokenBody) = await F.RequestTokenAsync(CiFactory.JobBasic(jobToken), $"repository:{repo}/web:pull,push,delete");
        Assert.True(tokenStatus == 200, tokenBody);
        Assert.Equal(["pull", "push"], granted[$"{repo}/web"]);
        var pushed = await F.PushImageAsync(repo + "/web", "v1", CiFactory.JobBasic(jobToken));
        Assert.True(pushed.Status == HttpStatusCode.Created, pushed.Body);

        // The registry token of the answer works as a Bearer token directly.
        var registryToken = body["registry_token"]!.GetValue<string>();
        var viaBearer = await F.PushImageAsync(repo, "bearer", new AuthenticationHeaderValue("Bearer", registryToken));
        Assert.True(viaBearer.Status == HttpStatusCode.Created, viaBearer.Body);

        // That project only: no push elsewhere.
        var elsewhere = await F.PushImageAsync(s.Other.FullPath + "/web", "v1", CiFactory.JobBasic(jobToken));
        Assert.Equal(HttpStatusCode.Forbidden, elsewhere.Status);
        Assert.Equal("DENIED", CiFactory.FirstError(elsewhere.Body).Code);
    }

    [Fact]
    public async Task Keys_fetched_from_the_issuers_discovery_document_verify_an_ES256_token()
    {
        using var issuer = new TestIssuer();
        issuer.Serve();
        var s = await SetupAsync(issuer, inlineJwks: false);
        var (status, body) = await ExchangeAsync(s.App.Id, issuer.Token(Audience, key: issuer.EcKey));
        Assert.True(status == HttpStatusCode.OK, body.ToJsonString());
        Assert.Equal(1, issuer.JwksRequests);
        // Cached: a second exchange does not fetch again.
        (status, body) = await ExchangeAsync(s.App.Id, issuer.Token(Audience));
        Assert.True(status == HttpStatusCode.OK, body.ToJsonString());
        Assert.Equal(1, issuer.JwksRequests);
    }

    [Fact]
    public async Task Wrong_audience_is_refused()
    {
        using var issuer = new TestIssuer();
        var s = await SetupAsync(issuer);
        var why = await RefusedAsync(s, issuer.Token("https://someone-else.example"));
        Assert.Contains("audience", why, StringComparison.Ordinal);
        Assert.Contains(Audience, why, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_expired_token_is_refused()
    {
        using var issuer = new TestIssuer();
        var s = await SetupAsync(issuer);
        var why = await RefusedAsync(s, issuer.Token(Audience, now: DateTimeOffset.UtcNow.AddMinutes(-20)));
        Assert.Contains("expired", why, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_signed_with_an_unknown_key_is_refused()
    {
        using var issuer = new TestIssuer();
        using var impostor = new TestIssuer(issuer.Issuer);
        var s = await SetupAsync(issuer);
        var why = await RefusedAsync(s, impostor.Token(Audience));
        Assert.Contains("not among the issuer's keys", why, StringComparison.Ordinal);

        // Same kid as a real key, wrong key material: the signature does not verify.
        using var rsa = System.Security.Cryptography.RSA.Create(2048);
        var forged = issuer.Token(Audience, key: new RsaSecurityKey(rsa) { KeyId = issuer.RsaKey.KeyId });
        why = await RefusedAsync(s, forged);
        Assert.Contains("signature", why, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_claim_mismatch_is_refused()
    {
        using var issuer = new TestIssuer();
        var s = await SetupAsync(issuer);
        var why = await RefusedAsync(s, issuer.Token(Audience, TestIssuer.Claims("org/app", "refs/heads/dev")));
        Assert.Contains("claim 'ref'", why, StringComparison.Ordinal);
        Assert.Contains("refs/heads/dev", why, StringComparison.Ordinal);

        why = await RefusedAsync(s, issuer.Token(Audience, TestIssuer.Claims("evil/app")));
        Assert.Contains("claim 'repository'", why, StringComparison.Ordinal);

        var claims = TestIssuer.Claims();
        claims.Remove("ref");
        why = await RefusedAsync(s, issuer.Token(Audience, claims));
        Assert.Contains("has no claim 'ref'", why, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unsigned_alg_none_token_is_refused()
    {
        using var issuer = new TestIssuer();
        var s = await SetupAsync(issuer);
        var why = await RefusedAsync(s, issuer.UnsignedToken(Audience));
        Assert.Contains("not signed", why, StringComparison.Ordinal);
        Assert.Contains("none", why, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Other_refusals_say_what_is_wrong()
    {
        using var issuer = new TestIssuer();
        var s = await SetupAsync(issuer);
        // An issuer the project does not trust, and a project that does not exist, answer alike.
        using var stranger = new TestIssuer("https://elsewhere.example.test");
        var (status, body) = await ExchangeAsync(s.App.FullPath, stranger.Token(Audience));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_target", body["error"]!.GetValue<string>());
        (status, body) = await ExchangeAsync("no/such-project", issuer.Token(Audience));
        Assert.Equal("invalid_target", body["error"]!.GetValue<string>());
        // Not a JWT; HS256.
        Assert.Contains("not a JWT", await RefusedAsync(s, "garbage"), StringComparison.Ordinal);
        var hmac = issuer.Token(Audience, key: new SymmetricSecurityKey(new byte[32]) { KeyId = "h" }, algorithm: SecurityAlgorithms.HmacSha256);
        var (_, hs) = await ExchangeAsync(s.App.FullPath, hmac);
        Assert.Contains("only RS256 and ES256", hs["error_description"]!.GetValue<string>(), StringComparison.Ordinal);
        // A token of the trusted issuer cannot be used for the other project (it trusts nobody).
        (status, body) = await ExchangeAsync(s.Other.FullPath, issuer.Token(Audience));
        Assert.Equal("invalid_target", body["error"]!.GetValue<string>());
        // The refusals are audited.
        Assert.Contains(F.Logs.Lines, l => l.EventId.Name == "OidcExchangeRefused" && l.Message.Contains("does not trust", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Registration_is_checked_and_for_Maintainers_only()
    {
        using var issuer = new TestIssuer();
        var s = await SetupAsync(issuer);
        async Task<string> BadAsync(object body)
        {
            var (status, answer) = await F.ApiAsync(HttpMethod.Post, $"projects/{s.App.Id}/ci_trust", s.MaintainerToken, body);
            Assert.True(status == HttpStatusCode.BadRequest, answer?.ToJsonString());
            return answer!.ToJsonString();
        }

        Assert.Contains("rules is missing", await BadAsync(new { issuer = issuer.Issuer, audience = Audience, jwks = issuer.Jwks }), StringComparison.Ordinal);
        Assert.Contains("operator", await BadAsync(new { issuer = issuer.Issuer, audience = Audience, jwks = issuer.Jwks, rules = new[] { new { claim = "ref", @operator = "startswith", value = "x" } } }), StringComparison.Ordinal);
        Assert.Contains("audience is missing", await BadAsync(new { issuer = issuer.Issuer, jwks = issuer.Jwks, rules = new[] { new { claim = "ref", @operator = "equals", value = "x" } } }), StringComparison.Ordinal);
        using var rsa = System.Security.Cryptography.RSA.Create(2048);
        var privateJwk = Microsoft.IdentityModel.Tokens.JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(rsa.ExportParameters(true)));
        var privateJwks = System.Text.Json.JsonSerializer.Serialize(new { keys = new[] { new { kty = "RSA", n = privateJwk.N, e = privateJwk.E, d = privateJwk.D } } });
        Assert.Contains("private key", await BadAsync(new { issuer = issuer.Issuer, audience = Audience, jwks = privateJwks, rules = new[] { new { claim = "ref", @operator = "equals", value = "x" } } }), StringComparison.Ordinal);
        Assert.Contains("https", await BadAsync(new { issuer = issuer.Issuer, audience = Audience, jwks_url = "http://example.com/jwks", rules = new[] { new { claim = "ref", @operator = "equals", value = "x" } } }), StringComparison.Ordinal);

        // Listing and deleting.
        var (listed, list) = await F.ApiAsync(HttpMethod.Get, $"projects/{s.App.Id}/ci_trust", s.MaintainerToken);
        Assert.Equal(HttpStatusCode.OK, listed);
        var rules = list!.AsArray().Single()!["rules"]!.AsArray();
        Assert.Equal("glob", rules[1]!["operator"]!.GetValue<string>());

        var developer = await F.AddUserAsync(CiFactory.Unique("dev"));
        await F.AddMemberAsync(developer, s.App, AccessLevel.Developer);
        var (forbidden, _) = await F.ApiAsync(HttpMethod.Post, $"projects/{s.App.Id}/ci_trust", await F.ApiTokenAsync(developer),
            new { issuer = issuer.Issuer, audience = Audience, jwks = issuer.Jwks, rules = new[] { new { claim = "ref", @operator = "equals", value = "x" } } });
        Assert.Equal(HttpStatusCode.Forbidden, forbidden);

        var (deleted, _) = await F.ApiAsync(HttpMethod.Delete, $"projects/{s.App.Id}/ci_trust/{s.TrustId}", s.MaintainerToken);
        Assert.Equal(HttpStatusCode.NoContent, deleted);
        var (status, body) = await ExchangeAsync(s.App.FullPath, issuer.Token(Audience));
        Assert.Equal("invalid_target", body["error"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.BadRequest, status);
    }

    [Fact]
    public async Task Regex_rules_match_the_whole_value()
    {
        using var issuer = new TestIssuer();
        var s = await SetupAsync(issuer, rules: new[]
        {
            new { claim = "repository_owner", @operator = "equals", value = "org" },
            new { claim = "ref", @operator = "regex", value = "refs/(heads/main|tags/v[0-9]+)" },
        });
        Assert.Equal(HttpStatusCode.OK, (await ExchangeAsync(s.App.Id, issuer.Token(Audience, TestIssuer.Claims("org/x", "refs/tags/v12")))).Status);
        Assert.Equal(HttpStatusCode.OK, (await ExchangeAsync(s.App.Id, issuer.Token(Audience, TestIssuer.Claims("org/y", "refs/heads/main")))).Status);
        Assert.Contains("claim 'ref'", await RefusedAsync(s, issuer.Token(Audience, TestIssuer.Claims("org/x", "refs/heads/main2"))), StringComparison.Ordinal);
        Assert.Contains("claim 'repository_owner'", await RefusedAsync(s, issuer.Token(Audience, TestIssuer.Claims("other/x", "refs/heads/main"))), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_exchanged_token_ends_with_its_lifetime()
    {
        using var issuer = new TestIssuer();
        var s = await SetupAsync(issuer);
        var (_, body) = await ExchangeAsync(s.App.FullPath, issuer.Token(Audience));
        var token = body["access_token"]!.GetValue<string>();
        // The exchanged token is a job: the job can finish itself.
        var jobId = body["job_id"]!.GetValue<long>();
        var (finished, _) = await F.ApiAsync(HttpMethod.Post, $"ci/jobs/{jobId}/finish", null, null, new Dictionary<string, string> { ["JOB-TOKEN"] = token });
        Assert.Equal(HttpStatusCode.OK, finished);
        Assert.Equal(401, (await F.RequestTokenAsync(CiFactory.JobBasic(token))).Status);
    }
}
