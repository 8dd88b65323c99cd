using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Berth.Metadata;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Tokens;

namespace Berth.Auth.Tokens;

/// <summary>
/// A token-signing key: an ECDSA P-256 (<c>ES256</c>, what new keys use) or RSA (<c>RS256</c>, keys made before
/// Berth switched, still loaded and verified) key pair, its self-signed certificate, and its key id (RFC 7638
/// JWK thumbprint).
/// </summary>
public sealed class SigningKey
{
    internal SigningKey(string id, string algorithm, AsymmetricAlgorithm key, X509Certificate2 certificate, string certificatePem, DateTime createdAt, DateTime? retiredAt)
    {
        Id = id;
        Algorithm = algorithm;
        Rsa = key as RSA;
        Ecdsa = key as ECDsa;
        Certificate = certificate;
        CertificatePem = certificatePem;
        CreatedAt = createdAt;
        RetiredAt = retiredAt;
        SecurityKey = key switch
        {
            ECDsa ec => new ECDsaSecurityKey(ec) { KeyId = id },
            RSA rsa => new RsaSecurityKey(rsa) { KeyId = id },
            _ => throw new ArgumentException($"unsupported signing key type {key.GetType().Name}", nameof(key)),
        };
    }

    /// <summary>The key id, the JWT header's <c>kid</c>.</summary>
    public string Id { get; }
    /// <summary>The JWS algorithm: <c>ES256</c> or <c>RS256</c>.</summary>
    public string Algorithm { get; }
    /// <summary>The RSA key pair of an <c>RS256</c> key; null for <c>ES256</c>.</summary>
    public RSA? Rsa { get; }
    /// <summary>The P-256 key pair of an <c>ES256</c> key; null for <c>RS256</c>.</summary>
    public ECDsa? Ecdsa { get; }
    /// <summary>Self-signed certificate of the public key (sent as <c>x5c</c>, and the registry's <c>rootcertbundle</c>).</summary>
    public X509Certificate2 Certificate { get; }
    /// <summary>The certificate as PEM.</summary>
    public string CertificatePem { get; }
    /// <summary>When the key was created (UTC).</summary>
    public DateTime CreatedAt { get; }
    /// <summary>When it stopped signing (UTC), null while active.</summary>
    public DateTime? RetiredAt { get; }
    /// <summary>The key for Microsoft.IdentityModel.</summary>
    public AsymmetricSecurityKey SecurityKey { get; }
    /// <summary>The Microsoft.IdentityModel algorithm name of <see cref="Algorithm"/>.</summary>
    public string SecurityAlgorithm => Algorithm == SigningKeyStore.Es256 ? SecurityAlgorithms.EcdsaSha256 : SecurityAlgorithms.RsaSha256;
}

/// <summary>
/// Token-signing keys kept in the metadata database, so every replica signs and verifies with the same keys.
/// The first call creates an ECDSA P-256 (<c>ES256</c>) key with a self-signed certificate: signing costs
/// ~30 µs instead of RSA-2048's ~1 ms, which is what lets one core issue thousands of tokens per second
/// (CNCF Distribution 2.8 verifies ES256 through its <c>rootcertbundle</c> like RS256). RSA (<c>RS256</c>)
/// keys made by earlier versions keep signing until rotated and verifying until their tokens expired. <see cref="RotateAsync"/> creates a
/// new key and retires the old one, which keeps verifying tokens until they have expired. Keys are cached in
/// memory and re-read every 30 seconds (so a rotation on one replica reaches the others).
/// </summary>
public sealed class SigningKeyStore(IServiceScopeFactory scopes, TimeProvider clock)
{
    /// <summary>The JWS algorithm of new keys: ECDSA P-256 with SHA-256.</summary>
    public const string Es256 = "ES256";
    /// <summary>The JWS algorithm of keys made before ES256: RSASSA-PKCS1-v1_5 with SHA-256.</summary>
    public const string Rs256 = "RS256";

    private static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(30);
    private readonly SemaphoreSlim _lock = new(1, 1);
    private IReadOnlyList<SigningKey> _keys = [];
    private DateTimeOffset _loadedAt = DateTimeOffset.MinValue;

    /// <summary>The key new tokens are signed with (created on first use).</summary>
    public async Task<SigningKey> GetActiveKeyAsync(CancellationToken cancellationToken)
    {
        var keys = await GetKeysAsync(cancellationToken);
        var active = keys.Where(k => k.RetiredAt is null).OrderByDescending(k => k.CreatedAt).ThenBy(k => k.Id, StringComparer.Ordinal).FirstOrDefault();
        if (active is not null) return active;
        await CreateKeyAsync(retireOthers: false, cancellationToken);
        keys = await GetKeysAsync(cancellationToken, force: true);
        return keys.Where(k => k.RetiredAt is null).OrderByDescending(k => k.CreatedAt).First();
    }

    /// <summary>Every key that may still verify a token: active keys and keys retired less than
    /// <paramref name="maxTokenAge"/> ago.</summary>
    /// <param name="maxTokenAge">How long a retired key keeps verifying.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <param name="reload">Read the keys from the database now instead of from the 30-second cache (a token names a
    /// key this replica has not seen: another replica created or rotated it a moment ago).</param>
    public async Task<IReadOnlyList<SigningKey>> GetVerificationKeysAsync(TimeSpan maxTokenAge, CancellationToken cancellationToken, bool reload = false)
    {
        var keys = await GetKeysAsync(cancellationToken, force: reload);
        var cutoff = clock.GetUtcNow().UtcDateTime - maxTokenAge;
        return keys.Where(k => k.RetiredAt is null || k.RetiredAt > cutoff).ToList();
    }

    /// <summary>Creates a new active key and retires the others.</summary>
    public async Task<SigningKey> RotateAsync(CancellationToken cancellationToken)
    {
        var id = await CreateKeyAsync(retireOthers: true, cancellationToken);
        var keys = await GetKeysAsync(cancellationToken, force: true);
        return keys.First(k => k.Id == id);
    }

    private async Task<IReadOnlyList<SigningKey>> GetKeysAsync(CancellationToken cancellationToken, bool force = false)
    {
        if (!force && clock.GetUtcNow() - _loadedAt < RefreshInterval) return _keys;
        await _lock.WaitAsync(cancellationToken);
        try
        {
            if (!force && clock.GetUtcNow() - _loadedAt < RefreshInterval) return _keys;
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<BerthDbContext>();
            var rows = await db.SigningKeys.AsNoTracking().ToListAsync(cancellationToken);
            var previous = _keys.ToDictionary(k => k.Id);
            _keys = rows.Select(r => previous.TryGetValue(r.Id, out var k) && k.RetiredAt == r.RetiredAt ? k : Load(r)).ToList();
            _loadedAt = clock.GetUtcNow();
            return _keys;
        }
        finally
        {
            _lock.Release();
        }
    }

    private static SigningKey Load(SigningKeyEntity row)
    {
        AsymmetricAlgorithm key;
        if (row.Algorithm == Es256)
        {
            var ec = ECDsa.Create();
            ec.ImportFromPem(row.PrivateKeyPem);
            key = ec;
        }
        else
        {
            var rsa = RSA.Create();
            rsa.ImportFromPem(row.PrivateKeyPem);
            key = rsa;
        }
        var certificate = X509Certificate2.CreateFromPem(row.CertificatePem);
        return new SigningKey(row.Id, row.Algorithm == Es256 ? Es256 : Rs256, key, certificate, row.CertificatePem, row.CreatedAt, row.RetiredAt);
    }

    private async Task<string> CreateKeyAsync(bool retireOthers, CancellationToken cancellationToken)
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var now = clock.GetUtcNow();
        var request = new CertificateRequest("CN=Berth registry token signing", ec, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyCertSign, true));
        using var certificate = request.CreateSelfSigned(now.AddDays(-1), now.AddYears(10));
        var id = JwkThumbprint(ec.ExportParameters(false));
        var row = new SigningKeyEntity
        {
            Id = id,
            Algorithm = Es256,
            PrivateKeyPem = ec.ExportPkcs8PrivateKeyPem(),
            CertificatePem = certificate.ExportCertificatePem(),
            CreatedAt = now.UtcDateTime,
        };
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BerthDbContext>();
        if (retireOthers)
        {
            var at = now.UtcDateTime;
            await db.SigningKeys.Where(k => k.RetiredAt == null).ExecuteUpdateAsync(s => s.SetProperty(k => k.RetiredAt, at), cancellationToken);
        }
        db.SigningKeys.Add(row);
        await db.SaveChangesAsync(cancellationToken);
        return id;
    }

    /// <summary>The RFC 7638 JWK thumbprint (SHA-256, base64url) of an RSA public key.</summary>
    public static string JwkThumbprint(RSAParameters parameters)
    {
        var json = $"{{\"e\":\"{Base64UrlEncoder.Encode(parameters.Exponent)}\",\"kty\":\"RSA\",\"n\":\"{Base64UrlEncoder.Encode(parameters.Modulus)}\"}}";
        return Base64UrlEncoder.Encode(SHA256.HashData(Encoding.UTF8.GetBytes(json)));
    }

    /// <summary>The RFC 7638 JWK thumbprint (SHA-256, base64url) of an EC public key (P-256: <c>crv</c> <c>P-256</c>).</summary>
    public static string JwkThumbprint(ECParameters parameters)
    {
        var json = $"{{\"crv\":\"{CurveName(parameters.Curve)}\",\"kty\":\"EC\",\"x\":\"{Base64UrlEncoder.Encode(parameters.Q.X)}\",\"y\":\"{Base64UrlEncoder.Encode(parameters.Q.Y)}\"}}";
        return Base64UrlEncoder.Encode(SHA256.HashData(Encoding.UTF8.GetBytes(json)));
    }

    /// <summary>The JWK <c>crv</c> name of a NIST curve (<c>P-256</c>, <c>P-384</c>, <c>P-521</c>).</summary>
    /// <exception cref="ArgumentException">Another curve.</exception>
    public static string CurveName(ECCurve curve) => curve.Oid?.Value switch
    {
        "1.2.840.10045.3.1.7" => "P-256",
        "1.3.132.0.34" => "P-384",
        "1.3.132.0.35" => "P-521",
        _ => curve.Oid?.FriendlyName switch
        {
            "nistP256" or "ECDSA_P256" => "P-256",
            "nistP384" or "ECDSA_P384" => "P-384",
            "nistP521" or "ECDSA_P521" => "P-521",
            _ => throw new ArgumentException($"unsupported curve {curve.Oid?.FriendlyName ?? curve.Oid?.Value}", nameof(curve)),
        },
    };
}
