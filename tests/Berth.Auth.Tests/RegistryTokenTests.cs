using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Berth.Auth.Tokens;
using Berth.Metadata;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Berth.Auth.Tests;

/// <summary>A developer of project <c>tok/a</c> (and nothing in <c>tok/b</c>), with helpers to forge tokens.</summary>
public sealed class TokenWorld : IAsyncLifetime
{
    public AuthFactory Factory { get; } = new();
    public UserEntity Developer { get; private set; } = null!;
    public const string Password = "developer password";

    public async Task InitializeAsync()
    {
        var group = await Factory.AddGroupAsync("tok");
        var a = await Factory.AddProjectAsync(group, "a", "private");
        await Factory.AddProjectAsync(group, "b", "private");
        Developer = await Factory.AddUserAsync("tok-dev", Password);
        await Factory.AddMemberAsync(Developer, AccessLevel.Developer, project: a);
        // Make sure a signing key exists.
        Assert.Equal(200, (await Factory.RequestTokenAsync(null, null)).Status);
    }

    public Task DisposeAsync()
    {
        Factory.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>The server's active signing key (an ECDSA P-256 key, ES256), read from the database.</summary>
    public Task<(ECDsa Key, string Kid, string CertificateBase64)> ServerKeyAsync() =>
        Factory.WithDbAsync(async (db, _) =>
        {
            var row = await db.SigningKeys.AsNoTracking().FirstAsync(k => k.RetiredAt == null);
            Assert.Equal("ES256", row.Algorithm);
            var ec = ECDsa.Create();
            ec.ImportFromPem(row.PrivateKeyPem);
            var cert = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(row.CertificatePem);
            return (ec, row.Id, Convert.ToBase64String(cert.RawData));
        });

    /// <summary>Signs a token the way Berth does, with knobs to break one property at a time.</summary>
    public async Task<string> ForgeAsync(string repository = "tok/a", string actions = "pull,push", DateTime? notBefore = null, DateTime? expires = null,
        string audience = "container_registry", string issuer = "berth", RSA? otherKey = null)
    {
        var (ec, kid, _) = await ServerKeyAsync();
        SecurityKey key = otherKey is null ? new ECDsaSecurityKey(ec) { KeyId = kid } : new RsaSecurityKey(otherKey) { KeyId = "unknown-key" };
        var now = DateTime.UtcNow;
        var handler = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false };
        return handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            IssuedAt = (notBefore ?? now).AddSeconds(-1),
            NotBefore = notBefore ?? now.AddSeconds(-1),
            Expires = expires ?? now.AddMinutes(5),
            Claims = new Dictionary<string, object>
            {
                ["sub"] = "tok-dev",
                ["berth_kind"] = "User",
                ["berth_uid"] = Developer.Id,
                ["access"] = new[] { new Dictionary<string, object> { ["type"] = "repository", ["name"] = repository, ["actions"] = actions.Split(',') } },
            },
            SigningCredentials = new SigningCredentials(key, otherKey is null ? SecurityAlgorithms.EcdsaSha256 : SecurityAlgorithms.RsaSha256),
        });
    }

    public async Task<HttpResponseMessage> StartUploadAsync(string repository, string token)
    {
        var client = Factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v2/{repository}/blobs/uploads/");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await client.SendAsync(request);
    }
}

/// <summary>Registry tokens: what /v2 accepts and what it refuses, with messages that say why.</summary>
public sealed class RegistryTokenTests(TokenWorld world) : IClassFixture<TokenWorld>
{
    private static string B64(string s) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(s));

    private static async Task<string> ErrorMessageAsync(HttpResponseMessage response)
    {
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.GetProperty("errors")[0].GetProperty("message").GetString()!;
    }

    [Fact]
    public async Task A_token_from_the_token_service_pushes_to_its_repository()
    {
        var (_, token, granted, _) = await world.Factory.RequestTokenAsync("tok-dev", TokenWorld.Password, "repository:tok/a:pull,push");
        Assert.Equal(["pull", "push"], granted["repository:tok/a"]);
        using var response = await world.StartUploadAsync("tok/a", token!);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    [Fact]
    public async Task Jwt_header_carries_kid_thumbprint_and_x5c()
    {
        var (_, token, _, _) = await world.Factory.RequestTokenAsync("tok-dev", TokenWorld.Password, "repository:tok/a:pull");
        var jwt = new JsonWebToken(token);
        var (ec, kid, cert) = await world.ServerKeyAsync();
        Assert.Equal("ES256", jwt.Alg);
        Assert.Equal(kid, jwt.Kid);
        Assert.Equal(SigningKeyStore.JwkThumbprint(ec.ExportParameters(false)), jwt.Kid);
        Assert.True(jwt.TryGetHeaderValue<JsonElement>("x5c", out var x5c));
        Assert.Equal(cert, x5c[0].GetString());
        Assert.Equal("berth", jwt.Issuer);
        Assert.Equal(["container_registry"], jwt.Audiences);
        Assert.True(jwt.ValidTo > DateTime.UtcNow.AddMinutes(4) && jwt.ValidTo <= DateTime.UtcNow.AddMinutes(5).AddSeconds(5));
    }

    [Fact]
    public async Task Expired_token_is_refused_with_both_times_in_the_message()
    {
        var token = await world.ForgeAsync(notBefore: DateTime.UtcNow.AddHours(-2), expires: DateTime.UtcNow.AddHours(-1));
        using var response = await world.StartUploadAsync("tok/a", token);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var message = await ErrorMessageAsync(response);
        Assert.Contains("expired", message);
        Assert.Contains("registry's clock says", message);
        Assert.Contains("error=\"invalid_token\"", response.Headers.WwwAuthenticate.ToString());
    }

    [Fact]
    public async Task Not_yet_valid_token_is_refused_and_names_clock_skew()
    {
        var token = await world.ForgeAsync(notBefore: DateTime.UtcNow.AddHours(1), expires: DateTime.UtcNow.AddHours(2));
        using var response = await world.StartUploadAsync("tok/a", token);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var message = await ErrorMessageAsync(response);
        Assert.Contains("not valid yet", message);
        Assert.Contains("clock", message);
    }

    [Fact]
    public async Task Small_clock_skew_within_the_leeway_is_accepted()
    {
        var token = await world.ForgeAsync(notBefore: DateTime.UtcNow.AddSeconds(30), expires: DateTime.UtcNow.AddMinutes(5));
        using var response = await world.StartUploadAsync("tok/a", token);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    [Fact]
    public async Task Wrong_audience_is_refused()
    {
        using var response = await world.StartUploadAsync("tok/a", await world.ForgeAsync(audience: "another_service"));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("another service", await ErrorMessageAsync(response));
    }

    [Fact]
    public async Task Wrong_issuer_is_refused()
    {
        using var response = await world.StartUploadAsync("tok/a", await world.ForgeAsync(issuer: "evil"));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("issuer", await ErrorMessageAsync(response));
    }

    [Fact]
    public async Task Unknown_signing_key_is_refused()
    {
        using var other = RSA.Create(2048);
        using var response = await world.StartUploadAsync("tok/a", await world.ForgeAsync(otherKey: other));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("key", await ErrorMessageAsync(response));
    }

    [Fact]
    public async Task A_token_signed_by_an_RS256_key_of_an_earlier_version_still_verifies()
    {
        // A database from before the ES256 switch holds an RSA key; its tokens keep working after the upgrade.
        // (Its own factory: the shared world's key list is counted by the rotation test.)
        using var factory = new AuthFactory();
        var group = await factory.AddGroupAsync("legacy");
        var project = await factory.AddProjectAsync(group, "a", "private");
        var developer = await factory.AddUserAsync("legacy-dev", TokenWorld.Password);
        await factory.AddMemberAsync(developer, AccessLevel.Developer, project: project);
        Assert.Equal(200, (await factory.RequestTokenAsync(null, null)).Status); // the ES256 key exists
        using var rsa = RSA.Create(2048);
        var now = DateTimeOffset.UtcNow;
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=legacy", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(now.AddDays(-1), now.AddYears(1));
        var kid = SigningKeyStore.JwkThumbprint(rsa.ExportParameters(false));
        await factory.WithDbAsync(async (db, _) =>
        {
            db.SigningKeys.Add(new SigningKeyEntity
            {
                Id = kid, Algorithm = "RS256", PrivateKeyPem = rsa.ExportPkcs8PrivateKeyPem(),
                CertificatePem = certificate.ExportCertificatePem(), CreatedAt = now.UtcDateTime.AddDays(-30), RetiredAt = now.UtcDateTime.AddMinutes(-1),
            });
            await db.SaveChangesAsync();
            return 0;
        });
        var handler = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false };
        var token = handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "berth", Audience = "container_registry",
            IssuedAt = now.UtcDateTime.AddSeconds(-1), NotBefore = now.UtcDateTime.AddSeconds(-1), Expires = now.UtcDateTime.AddMinutes(5),
            Claims = new Dictionary<string, object>
            {
                ["sub"] = "legacy-dev", ["berth_kind"] = "User", ["berth_uid"] = developer.Id,
                ["access"] = new[] { new Dictionary<string, object> { ["type"] = "repository", ["name"] = "legacy/a", ["actions"] = new[] { "pull", "push" } } },
            },
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(rsa) { KeyId = kid }, SecurityAlgorithms.RsaSha256),
        });
        using var upload = new HttpRequestMessage(HttpMethod.Post, "/v2/legacy/a/blobs/uploads/");
        upload.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await factory.CreateClient().SendAsync(upload);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        // New tokens are still signed with the active ES256 key.
        var (_, issued, _, _) = await factory.RequestTokenAsync("legacy-dev", TokenWorld.Password, "repository:legacy/a:pull");
        Assert.Equal("ES256", new JsonWebToken(issued!).Alg);
    }

    [Fact]
    public async Task Alg_none_is_refused()
    {
        var valid = new JsonWebToken(await world.ForgeAsync());
        var token = B64("{\"alg\":\"none\",\"typ\":\"JWT\"}") + "." + valid.EncodedPayload + ".";
        using var response = await world.StartUploadAsync("tok/a", token);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Hs256_signed_with_the_public_key_is_refused()
    {
        var (ec, kid, _) = await world.ServerKeyAsync();
        var publicPem = Encoding.UTF8.GetBytes(ec.ExportSubjectPublicKeyInfoPem());
        var valid = new JsonWebToken(await world.ForgeAsync());
        var signingInput = B64($"{{\"alg\":\"HS256\",\"kid\":\"{kid}\",\"typ\":\"JWT\"}}") + "." + valid.EncodedPayload;
        var signature = Base64UrlEncoder.Encode(HMACSHA256.HashData(publicPem, Encoding.ASCII.GetBytes(signingInput)));
        using var response = await world.StartUploadAsync("tok/a", signingInput + "." + signature);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Tampered_payload_is_refused()
    {
        var token = await world.ForgeAsync(repository: "tok/a", actions: "pull");
        var parts = token.Split('.');
        var payload = Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(parts[1])).Replace("\"pull\"", "\"pull\",\"push\"");
        var tampered = parts[0] + "." + B64(payload) + "." + parts[2];
        using var response = await world.StartUploadAsync("tok/a", tampered);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("signature", await ErrorMessageAsync(response));
    }

    [Fact]
    public async Task A_token_for_project_a_does_not_work_on_project_b()
    {
        var (_, token, _, _) = await world.Factory.RequestTokenAsync("tok-dev", TokenWorld.Password, "repository:tok/a:pull,push");
        using var response = await world.StartUploadAsync("tok/b", token!);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var challenge = response.Headers.WwwAuthenticate.ToString();
        Assert.Contains("scope=\"repository:tok/b:pull,push\"", challenge);
        Assert.Contains("error=\"insufficient_scope\"", challenge);
    }

    [Fact]
    public async Task A_partial_grant_is_answered_403_denied_naming_what_is_missing()
    {
        var (_, token, granted, _) = await world.Factory.RequestTokenAsync("tok-dev", TokenWorld.Password, "repository:tok/b:pull,push");
        Assert.Empty(granted["repository:tok/b"]);
        using var response = await world.StartUploadAsync("tok/b", token!);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var error = doc.RootElement.GetProperty("errors")[0];
        Assert.Equal("DENIED", error.GetProperty("code").GetString());
        Assert.Contains("push", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Without_credentials_v2_answers_401_with_realm_service_and_scope()
    {
        var client = world.Factory.CreateClient();
        using var base_ = await client.GetAsync("/v2/");
        Assert.Equal(HttpStatusCode.Unauthorized, base_.StatusCode);
        var challenge = base_.Headers.WwwAuthenticate.ToString();
        Assert.Contains("Bearer realm=\"http://localhost/jwt/auth\"", challenge);
        Assert.Contains("service=\"container_registry\"", challenge);
        Assert.Equal("UNAUTHORIZED", JsonDocument.Parse(await base_.Content.ReadAsStringAsync()).RootElement.GetProperty("errors")[0].GetProperty("code").GetString());

        using var pull = await client.GetAsync("/v2/tok/a/manifests/latest");
        Assert.Equal(HttpStatusCode.Unauthorized, pull.StatusCode);
        Assert.Contains("scope=\"repository:tok/a:pull\"", pull.Headers.WwwAuthenticate.ToString());
    }

    [Fact]
    public async Task Http_basic_works_directly_on_v2()
    {
        var client = world.Factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/tok/a/blobs/uploads/");
        request.Headers.Authorization = AuthFactory.Basic("tok-dev", TokenWorld.Password);
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);

        using var denied = new HttpRequestMessage(HttpMethod.Post, "/v2/tok/b/blobs/uploads/");
        denied.Headers.Authorization = AuthFactory.Basic("tok-dev", TokenWorld.Password);
        using var deniedResponse = await client.SendAsync(denied);
        Assert.Equal(HttpStatusCode.Forbidden, deniedResponse.StatusCode);
        Assert.Contains("Developer", await ErrorMessageAsync(deniedResponse));
    }

    [Fact]
    public async Task Oauth2_password_grant_and_refresh_token()
    {
        var client = world.Factory.CreateClient();
        using var first = await client.PostAsync("/jwt/auth", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["username"] = "tok-dev", ["password"] = TokenWorld.Password,
            ["service"] = "container_registry", ["scope"] = "repository:tok/a:pull,push", ["client_id"] = "test", ["access_type"] = "offline",
        }));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        using var doc = JsonDocument.Parse(await first.Content.ReadAsStringAsync());
        var refresh = doc.RootElement.GetProperty("refresh_token").GetString()!;
        Assert.True(doc.RootElement.GetProperty("expires_in").GetInt32() > 0);
        Assert.False(string.IsNullOrEmpty(doc.RootElement.GetProperty("access_token").GetString()));

        using var second = await client.PostAsync("/jwt/auth", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = refresh, ["service"] = "container_registry", ["scope"] = "repository:tok/a:pull", ["client_id"] = "test",
        }));
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        var access = AuthFactory.DecodePayload(JsonDocument.Parse(await second.Content.ReadAsStringAsync()).RootElement.GetProperty("access_token").GetString()!);
        Assert.Equal("pull", access.GetProperty("access")[0].GetProperty("actions")[0].GetString());

        using var bad = await client.PostAsync("/jwt/auth", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = refresh + "x", ["service"] = "container_registry",
        }));
        Assert.Equal(HttpStatusCode.Unauthorized, bad.StatusCode);
    }

    [Fact]
    public async Task Rotated_keys_keep_verifying_old_tokens_and_sign_new_ones_with_the_new_key()
    {
        var (_, oldToken, _, _) = await world.Factory.RequestTokenAsync("tok-dev", TokenWorld.Password, "repository:tok/a:pull,push");
        await using (var scope = world.Factory.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<SigningKeyStore>().RotateAsync(CancellationToken.None);
        }
        var (_, newToken, _, _) = await world.Factory.RequestTokenAsync("tok-dev", TokenWorld.Password, "repository:tok/a:pull,push");
        Assert.NotEqual(new JsonWebToken(oldToken).Kid, new JsonWebToken(newToken).Kid);
        using (var r1 = await world.StartUploadAsync("tok/a", oldToken!)) Assert.Equal(HttpStatusCode.Accepted, r1.StatusCode);
        using (var r2 = await world.StartUploadAsync("tok/a", newToken!)) Assert.Equal(HttpStatusCode.Accepted, r2.StatusCode);
        var jwks = JsonDocument.Parse(await world.Factory.CreateClient().GetStringAsync("/jwt/jwks")).RootElement.GetProperty("keys");
        Assert.Equal(2, jwks.GetArrayLength());
    }

    [Fact]
    public async Task Failed_sign_ins_are_rate_limited()
    {
        using var factory = new AuthFactory(new() { ["Auth:SignInLimits:PerAccount"] = "3" });
        var user = await factory.AddUserAsync("limited", "the right password");
        for (int i = 0; i < 3; i++) Assert.Equal(401, (await factory.RequestTokenAsync("limited", "wrong-" + i)).Status);
        var (status, _, _, body) = await factory.RequestTokenAsync("limited", "the right password");
        Assert.Equal(429, status);
        Assert.Contains("too many failed sign-ins", body);
    }
}
