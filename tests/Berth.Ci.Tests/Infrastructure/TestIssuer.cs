using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Berth.Ci.Tests.Infrastructure;

/// <summary>
/// A test OIDC issuer: its own RSA (RS256) and EC P-256 (ES256) key pairs, its JWKS document, ID tokens with
/// chosen claims, and optionally an HTTP listener on loopback serving <c>/.well-known/openid-configuration</c> and
/// <c>/jwks</c> (for the fetched-keys path).
/// </summary>
public sealed class TestIssuer : IDisposable
{
    private readonly RSA _rsa = RSA.Create(2048);
    private readonly ECDsa _ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private HttpListener? _listener;

    public TestIssuer(string? issuer = null)
    {
        Issuer = issuer ?? "https://ci.example.test";
        RsaKey = new RsaSecurityKey(_rsa) { KeyId = "rsa-" + Guid.NewGuid().ToString("N")[..8] };
        EcKey = new ECDsaSecurityKey(_ec) { KeyId = "ec-" + Guid.NewGuid().ToString("N")[..8] };
    }

    public string Issuer { get; private set; }

    public RsaSecurityKey RsaKey { get; }

    public ECDsaSecurityKey EcKey { get; }

    /// <summary>The public JWKS (both keys).</summary>
    public string Jwks
    {
        get
        {
            var rsa = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(_rsa.ExportParameters(false)) { KeyId = RsaKey.KeyId });
            var ec = JsonWebKeyConverter.ConvertFromECDsaSecurityKey(new ECDsaSecurityKey(ECDsa.Create(_ec.ExportParameters(false))) { KeyId = EcKey.KeyId });
            var keys = new[] { rsa, ec }.Select(k => new Dictionary<string, object?>
            {
                ["kty"] = k.Kty, ["kid"] = k.Kid, ["use"] = "sig", ["alg"] = k.Kty == "RSA" ? "RS256" : "ES256",
                ["n"] = k.N, ["e"] = k.E, ["crv"] = k.Crv, ["x"] = k.X, ["y"] = k.Y,
            }.Where(kv => kv.Value is not null).ToDictionary(kv => kv.Key, kv => kv.Value));
            return JsonSerializer.Serialize(new { keys });
        }
    }

    /// <summary>Standard GitHub-Actions-like claims for a repository and ref.</summary>
    public static Dictionary<string, object> Claims(string repository = "org/app", string @ref = "refs/heads/main") => new()
    {
        ["sub"] = $"repo:{repository}:ref:{@ref}",
        ["repository"] = repository,
        ["ref"] = @ref,
        ["repository_owner"] = repository.Split('/')[0],
        ["run_id"] = 42,
    };

    /// <summary>An ID token signed with <paramref name="key"/> (the RSA key by default).</summary>
    public string Token(string audience, Dictionary<string, object>? claims = null, DateTimeOffset? now = null, TimeSpan? lifetime = null, SecurityKey? key = null, string? issuer = null, string? algorithm = null)
    {
        var at = now ?? DateTimeOffset.UtcNow;
        key ??= RsaKey;
        algorithm ??= key is ECDsaSecurityKey ? SecurityAlgorithms.EcdsaSha256 : SecurityAlgorithms.RsaSha256;
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer ?? Issuer,
            Audience = audience,
            IssuedAt = at.UtcDateTime,
            NotBefore = at.UtcDateTime,
            Expires = at.Add(lifetime ?? TimeSpan.FromMinutes(5)).UtcDateTime,
            Claims = claims ?? Claims(),
            SigningCredentials = new SigningCredentials(key, algorithm),
        });
    }

    /// <summary>An unsigned token (<c>alg: none</c>) with the given claims.</summary>
    public string UnsignedToken(string audience, Dictionary<string, object>? claims = null)
    {
        var now = DateTimeOffset.UtcNow;
        var payload = new Dictionary<string, object>(claims ?? Claims())
        {
            ["iss"] = Issuer, ["aud"] = audience, ["iat"] = now.ToUnixTimeSeconds(), ["nbf"] = now.ToUnixTimeSeconds(), ["exp"] = now.AddMinutes(5).ToUnixTimeSeconds(),
        };
        static string B64(string json) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(json));
        return B64("{\"alg\":\"none\",\"typ\":\"JWT\"}") + "." + B64(JsonSerializer.Serialize(payload)) + ".";
    }

    /// <summary>Serves discovery and the JWKS on a loopback port; the issuer becomes <c>http://127.0.0.1:port</c>.</summary>
    public void Serve()
    {
        var port = FreePort();
        Issuer = $"http://127.0.0.1:{port}";
        _listener = new HttpListener();
        _listener.Prefixes.Add(Issuer + "/");
        _listener.Start();
        _ = Task.Run(async () =>
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }
                var path = context.Request.Url!.AbsolutePath;
                string? body = path switch
                {
                    "/.well-known/openid-configuration" => JsonSerializer.Serialize(new { issuer = Issuer, jwks_uri = Issuer + "/jwks" }),
                    "/jwks" => Jwks,
                    _ => null,
                };
                JwksRequests += path == "/jwks" ? 1 : 0;
                context.Response.StatusCode = body is null ? 404 : 200;
                context.Response.ContentType = "application/json";
                var bytes = Encoding.UTF8.GetBytes(body ?? "{}");
                await context.Response.OutputStream.WriteAsync(bytes);
                context.Response.Close();
            }
        });
    }

    /// <summary>How many times the JWKS was fetched.</summary>
    public int JwksRequests { get; private set; }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public void Dispose()
    {
        if (_listener is not null)
        {
            _listener.Stop();
            _listener.Close();
        }
        _rsa.Dispose();
        _ec.Dispose();
    }
}
