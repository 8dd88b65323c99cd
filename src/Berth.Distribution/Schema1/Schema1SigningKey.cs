using System.Security.Cryptography;
using System.Text.Json;

namespace Berth.Distribution;

/// <summary>
/// A private key that signs Docker schema 1 manifests the way libtrust does: an RSA key signs with
/// <c>RS256</c> (RSASSA-PKCS1-v1_5 with SHA-256), an ECDSA key with <c>ES256</c>, <c>ES384</c> or <c>ES512</c>
/// for the curves P-256, P-384 and P-521. The public half travels in each signature's <c>jwk</c> header with
/// its libtrust key id (<see cref="KeyId"/>), which libtrust-based clients check.
/// The key object is borrowed: disposing this wrapper disposes it only when <c>ownsKey</c> was set.
/// </summary>
public sealed class Schema1SigningKey : IDisposable
{
    private readonly RSA? _rsa;
    private readonly ECDsa? _ecdsa;
    private readonly bool _ownsKey;
    private readonly HashAlgorithmName _hash;

    private Schema1SigningKey(RSA? rsa, ECDsa? ecdsa, bool ownsKey)
    {
        _rsa = rsa;
        _ecdsa = ecdsa;
        _ownsKey = ownsKey;
        byte[] spki;
        if (rsa is not null)
        {
            Algorithm = "RS256";
            _hash = HashAlgorithmName.SHA256;
            spki = rsa.ExportSubjectPublicKeyInfo();
        }
        else
        {
            var curve = ecdsa!.ExportParameters(false).Curve;
            (Algorithm, _hash, CurveName) = CurveInfo(curve)
                ?? throw new ArgumentException("only the curves P-256, P-384 and P-521 can sign schema 1 manifests", nameof(ecdsa));
            spki = ecdsa.ExportSubjectPublicKeyInfo();
        }
        KeyId = JoseEncoding.LibtrustKeyId(spki);
    }

    /// <summary>Wraps an RSA private key (signs with RS256).</summary>
    public static Schema1SigningKey FromRsa(RSA rsa, bool ownsKey = false) => new(rsa ?? throw new ArgumentNullException(nameof(rsa)), null, ownsKey);

    /// <summary>Wraps an ECDSA private key on P-256, P-384 or P-521.</summary>
    /// <exception cref="ArgumentException">Another curve.</exception>
    public static Schema1SigningKey FromECDsa(ECDsa ecdsa, bool ownsKey = false) => new(null, ecdsa ?? throw new ArgumentNullException(nameof(ecdsa)), ownsKey);

    /// <summary>Reads a PEM private key (<c>EC PRIVATE KEY</c>, <c>RSA PRIVATE KEY</c> or PKCS#8 <c>PRIVATE KEY</c>
    /// holding either); the returned key owns it.</summary>
    /// <exception cref="ArgumentException">The text holds no usable RSA or ECDSA private key.</exception>
    public static Schema1SigningKey FromPem(string pem)
    {
        ArgumentNullException.ThrowIfNull(pem);
        var ecdsa = ECDsa.Create();
        try
        {
            ecdsa.ImportFromPem(pem);
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            ecdsa.Dispose();
            ecdsa = null;
        }
        if (ecdsa is not null)
        {
            if (CurveInfo(ecdsa.ExportParameters(false).Curve) is not null) return new Schema1SigningKey(null, ecdsa, ownsKey: true);
            ecdsa.Dispose();
            throw new ArgumentException("the PEM holds an ECDSA key on a curve other than P-256, P-384 or P-521", nameof(pem));
        }
        var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(pem);
            return new Schema1SigningKey(rsa, null, ownsKey: true);
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            rsa.Dispose();
            throw new ArgumentException("no RSA or ECDSA private key found in the PEM text", nameof(pem), ex);
        }
    }

    /// <summary>The JWS <c>alg</c> this key signs with: <c>RS256</c>, <c>ES256</c>, <c>ES384</c> or <c>ES512</c>.</summary>
    public string Algorithm { get; }

    /// <summary>The libtrust key id (12 colon-separated groups of 4 base32 characters).</summary>
    public string KeyId { get; }

    /// <summary>The JWK curve name for ECDSA keys (<c>P-256</c> …); null for RSA.</summary>
    public string? CurveName { get; }

    /// <summary>Signs bytes, returning the JWS signature value (PKCS#1 v1.5 for RSA; r‖s, fixed width, for ECDSA).</summary>
    internal byte[] Sign(byte[] data) => _rsa is not null
        ? _rsa.SignData(data, _hash, RSASignaturePadding.Pkcs1)
        : _ecdsa!.SignData(data, _hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);

    /// <summary>Writes the public key as a JWK object, members in the order libtrust writes them (sorted).</summary>
    internal void WriteJwk(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        if (_rsa is not null)
        {
            var p = _rsa.ExportParameters(false);
            writer.WriteString("e", JoseEncoding.Encode(p.Exponent));
            writer.WriteString("kid", KeyId);
            writer.WriteString("kty", "RSA");
            writer.WriteString("n", JoseEncoding.Encode(p.Modulus));
        }
        else
        {
            var p = _ecdsa!.ExportParameters(false);
            writer.WriteString("crv", CurveName);
            writer.WriteString("kid", KeyId);
            writer.WriteString("kty", "EC");
            writer.WriteString("x", JoseEncoding.Encode(p.Q.X));
            writer.WriteString("y", JoseEncoding.Encode(p.Q.Y));
        }
        writer.WriteEndObject();
    }

    internal static (string Algorithm, HashAlgorithmName Hash, string Name)? CurveInfo(ECCurve curve)
    {
        if (!curve.IsNamed) return null;
        return (curve.Oid.Value, curve.Oid.FriendlyName) switch
        {
            ("1.2.840.10045.3.1.7", _) or (_, "nistP256" or "ECDSA_P256" or "secp256r1" or "prime256v1") => ("ES256", HashAlgorithmName.SHA256, "P-256"),
            ("1.3.132.0.34", _) or (_, "nistP384" or "ECDSA_P384" or "secp384r1") => ("ES384", HashAlgorithmName.SHA384, "P-384"),
            ("1.3.132.0.35", _) or (_, "nistP521" or "ECDSA_P521" or "secp521r1") => ("ES512", HashAlgorithmName.SHA512, "P-521"),
            _ => null,
        };
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (!_ownsKey) return;
        _rsa?.Dispose();
        _ecdsa?.Dispose();
    }
}
