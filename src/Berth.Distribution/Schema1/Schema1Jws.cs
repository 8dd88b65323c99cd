using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace Berth.Distribution;

/// <summary>One verified signature of a schema 1 manifest.</summary>
/// <param name="Algorithm">The JWS <c>alg</c>, e.g. <c>ES256</c>.</param>
/// <param name="KeyId">The signer's libtrust key id.</param>
/// <param name="FromCertificate">True when the key came from the <c>x5c</c> certificate chain rather than a <c>jwk</c>.</param>
public sealed record Schema1Signature(string Algorithm, string KeyId, bool FromCertificate);

/// <summary>
/// The "pretty" JSON web signature libtrust puts on Docker schema 1 manifests (Docker Image Manifest V2,
/// Schema 1, "Signed manifests"; libtrust <c>jsonsign</c>): the manifest JSON followed by a
/// <c>"signatures"</c> member holding JWS JSON-serialization signatures. Each signature's protected header
/// carries <c>formatLength</c> and <c>formatTail</c>: the signed payload is the first
/// <c>formatLength</c> bytes of the document followed by the base64url-decoded <c>formatTail</c> (normally
/// <c>"\n}"</c>) — the manifest exactly as it was before the signatures were added. The JWS signing input is
/// <c>protected + "." + base64url(payload)</c>. Keys come from the <c>jwk</c> header (EC P-256/P-384/P-521 or
/// RSA; a <c>kid</c>, when present, must be the key's libtrust id) or from the first certificate of an
/// <c>x5c</c> chain, which is not checked against any trust root (as in libtrust's <c>Verify</c>).
/// </summary>
public static class Schema1Jws
{
    /// <summary>The member holding the signatures.</summary>
    public const string SignaturesMember = "signatures";

    /// <summary>
    /// Signs a manifest payload with a libtrust-compatible JWS and returns the pretty-signed document:
    /// the payload up to its closing brace, then <c>"signatures": [...]</c>, then the brace. The payload's
    /// indentation (detected as libtrust does) is reused for the signature block.
    /// </summary>
    /// <param name="payload">A JSON object (UTF-8) without a <c>signatures</c> member.</param>
    /// <param name="key">The signing key.</param>
    /// <param name="time">Recorded in the protected header (<c>time</c>, RFC 3339, UTC, seconds).</param>
    /// <exception cref="ArgumentException">The payload does not end with a closing brace or has a trailing comma.</exception>
    public static byte[] Sign(ReadOnlySpan<byte> payload, Schema1SigningKey key, DateTimeOffset time)
    {
        ArgumentNullException.ThrowIfNull(key);
        int close = LastNonSpace(payload, payload.Length);
        if (close < 0 || payload[close] != (byte)'}') throw new ArgumentException("the payload must be a JSON object", nameof(payload));
        int last = LastNonSpace(payload, close);
        if (last < 0 || payload[last] == (byte)',') throw new ArgumentException("the payload must be a JSON object without a trailing comma", nameof(payload));
        int formatLength = last + 1;

        var protectedJson = new MemoryStream();
        using (var w = new Utf8JsonWriter(protectedJson))
        {
            w.WriteStartObject();
            w.WriteNumber("formatLength", formatLength);
            w.WriteString("formatTail", JoseEncoding.Encode(payload[formatLength..]));
            w.WriteString("time", time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture));
            w.WriteEndObject();
        }
        var protectedHeader = JoseEncoding.Encode(protectedJson.ToArray());
        var signature = key.Sign(Encoding.ASCII.GetBytes(protectedHeader + "." + JoseEncoding.Encode(payload)));

        var indent = DetectIndent(payload);
        var block = new MemoryStream();
        using (var w = new Utf8JsonWriter(block, new JsonWriterOptions
        {
            Indented = indent.Length > 0,
            IndentCharacter = indent.Length > 0 ? indent[0] : ' ',
            IndentSize = Math.Max(indent.Length, 1),
            NewLine = "\n",
        }))
        {
            w.WriteStartArray();
            w.WriteStartObject();
            w.WritePropertyName("header");
            w.WriteStartObject();
            w.WritePropertyName("jwk");
            key.WriteJwk(w);
            w.WriteString("alg", key.Algorithm);
            w.WriteEndObject();
            w.WriteString("signature", JoseEncoding.Encode(signature));
            w.WriteString("protected", protectedHeader);
            w.WriteEndObject();
            w.WriteEndArray();
        }
        var signatures = Encoding.UTF8.GetString(block.ToArray());

        var result = new MemoryStream(payload.Length + signatures.Length + 64);
        result.Write(payload[..formatLength]);
        if (indent.Length > 0)
        {
            // libtrust marshals the signature array with the document's indent as prefix: every new line starts with it.
            result.Write(Encoding.UTF8.GetBytes($",\n{indent}\"{SignaturesMember}\": {signatures.Replace("\n", "\n" + indent)}\n}}"));
        }
        else
        {
            result.Write(Encoding.UTF8.GetBytes($",\"{SignaturesMember}\":{signatures}}}"));
        }
        return result.ToArray();
    }

    /// <summary>
    /// Rebuilds the signed payload of a pretty-signed document from the signatures' protected headers and
    /// verifies every signature over it.
    /// </summary>
    /// <param name="content">The whole document as pushed.</param>
    /// <param name="signatures">Its <c>signatures</c> member.</param>
    /// <returns>The payload and the verified signatures (at least one).</returns>
    /// <exception cref="RegistryException">MANIFEST_UNVERIFIED when a signature block is malformed, names an
    /// unusable key or does not verify; MANIFEST_INVALID for an empty signature list.</exception>
    public static (byte[] Payload, IReadOnlyList<Schema1Signature> Signatures) Verify(ReadOnlySpan<byte> content, JsonElement signatures)
    {
        var (payload, blocks) = ReadBlocks(content, signatures);
        var encodedPayload = JoseEncoding.Encode(payload);
        var verified = new List<Schema1Signature>(blocks.Count);
        int index = 0;
        foreach (var (alg, header, signatureBytes, protectedText) in blocks)
        {
            index++;
            string where = $"signature {index} of {blocks.Count}";
            using var key = PublicKey(header, where);
            var input = Encoding.ASCII.GetBytes(protectedText + "." + encodedPayload);
            if (!key.Verify(alg, input, signatureBytes, out var problem))
                throw Unverified($"{where} (key {key.KeyId}, {alg}) does not verify: {problem}");
            verified.Add(new Schema1Signature(alg, key.KeyId, key.FromCertificate));
        }
        return (payload, verified);
    }

    /// <summary>
    /// The canonical payload of a pretty-signed document, without verifying any signature: what Docker
    /// clients and skopeo compute a signed schema 1 manifest's digest over.
    /// </summary>
    /// <param name="content">The whole signed document.</param>
    /// <exception cref="RegistryException">MANIFEST_INVALID when it is not a JSON object with signatures;
    /// MANIFEST_UNVERIFIED when the signature blocks are malformed.</exception>
    public static byte[] ExtractPayload(ReadOnlySpan<byte> content)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(content.ToArray());
        }
        catch (JsonException ex)
        {
            throw new RegistryException(ErrorCode.ManifestInvalid, $"manifest is not valid JSON: {ex.Message}");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty(SignaturesMember, out var signatures))
                throw new RegistryException(ErrorCode.ManifestInvalid, "the manifest has no 'signatures' member");
            return ReadBlocks(content, signatures).Payload;
        }
    }

    private static (byte[] Payload, List<(string Alg, JsonElement Header, byte[] Signature, string Protected)> Blocks) ReadBlocks(ReadOnlySpan<byte> content, JsonElement signatures)
    {
        if (signatures.ValueKind != JsonValueKind.Array)
            throw Unverified("the 'signatures' member must be an array of JWS signatures");
        int count = signatures.GetArrayLength();
        if (count == 0)
            throw new RegistryException(ErrorCode.ManifestInvalid,
                "schema 1 manifest has an empty 'signatures' list; push it unsigned (without 'signatures') or signed",
                new { reason = "empty signatures list" });

        var blocks = new List<(string Alg, JsonElement Header, byte[] Signature, string Protected)>(count);
        int? formatLength = null;
        byte[]? formatTail = null;
        int index = 0;
        foreach (var item in signatures.EnumerateArray())
        {
            index++;
            string where = $"signature {index} of {count}";
            if (item.ValueKind != JsonValueKind.Object) throw Unverified($"{where} is not a JSON object");
            if (!item.TryGetProperty("header", out var header) || header.ValueKind != JsonValueKind.Object)
                throw Unverified($"{where} has no 'header' object");
            var alg = StringMember(header, "alg") ?? throw Unverified($"{where} has no 'alg' in its header");
            var protectedText = StringMember(item, "protected") ?? throw Unverified($"{where} has no 'protected' header");
            var signatureText = StringMember(item, "signature") ?? throw Unverified($"{where} has no 'signature'");
            if (!JoseEncoding.TryDecode(signatureText, out var signatureBytes) || signatureBytes.Length == 0)
                throw Unverified($"{where}: 'signature' is not base64url");
            if (!JoseEncoding.TryDecode(protectedText, out var protectedBytes))
                throw Unverified($"{where}: 'protected' is not base64url");

            int length;
            byte[] tail;
            try
            {
                using var protectedDoc = JsonDocument.Parse(protectedBytes);
                var p = protectedDoc.RootElement;
                if (p.ValueKind != JsonValueKind.Object
                    || !p.TryGetProperty("formatLength", out var fl) || fl.ValueKind != JsonValueKind.Number || !fl.TryGetInt32(out length) || length < 0)
                    throw Unverified($"{where}: the protected header has no valid 'formatLength'");
                if (StringMember(p, "formatTail") is not { } tailText || !JoseEncoding.TryDecode(tailText, out tail))
                    throw Unverified($"{where}: the protected header has no valid 'formatTail'");
            }
            catch (JsonException)
            {
                throw Unverified($"{where}: the protected header is not JSON");
            }
            if (formatLength is null)
            {
                formatLength = length;
                formatTail = tail;
            }
            else if (formatLength != length || !formatTail.AsSpan().SequenceEqual(tail))
            {
                throw Unverified("the signatures disagree on the signed part of the manifest (formatLength/formatTail)");
            }
            blocks.Add((alg, header, signatureBytes, protectedText));
        }

        if (formatLength > content.Length)
            throw Unverified($"formatLength {formatLength} is beyond the end of the manifest ({content.Length} bytes)");
        var payload = new byte[formatLength!.Value + formatTail!.Length];
        content[..formatLength.Value].CopyTo(payload);
        formatTail.CopyTo(payload.AsSpan(formatLength.Value));
        return (payload, blocks);
    }

    private static VerificationKey PublicKey(JsonElement header, string where)
    {
        if (header.TryGetProperty("x5c", out var chain) && chain.ValueKind == JsonValueKind.Array && chain.GetArrayLength() > 0)
        {
            var first = chain[0];
            byte[] der;
            try
            {
                der = Convert.FromBase64String(first.ValueKind == JsonValueKind.String ? first.GetString()! : throw new FormatException());
            }
            catch (FormatException)
            {
                throw Unverified($"{where}: x5c[0] is not a base64 DER certificate");
            }
            try
            {
                using var certificate = X509CertificateLoader.LoadCertificate(der);
                var rsa = certificate.GetRSAPublicKey();
                if (rsa is not null) return new VerificationKey(rsa, null, fromCertificate: true);
                var ecdsa = certificate.GetECDsaPublicKey();
                if (ecdsa is not null) return VerificationKey.ForEc(ecdsa, fromCertificate: true, where);
                throw Unverified($"{where}: the x5c certificate's key is neither RSA nor ECDSA");
            }
            catch (CryptographicException)
            {
                throw Unverified($"{where}: x5c[0] is not a valid X.509 certificate");
            }
        }
        if (!header.TryGetProperty("jwk", out var jwk) || jwk.ValueKind != JsonValueKind.Object)
            throw Unverified($"{where} names no public key: its header has neither 'jwk' nor 'x5c'");

        var kty = StringMember(jwk, "kty");
        VerificationKey key;
        try
        {
            switch (kty)
            {
                case "EC":
                {
                    var (curve, octets) = StringMember(jwk, "crv") switch
                    {
                        "P-256" => (ECCurve.NamedCurves.nistP256, 32),
                        "P-384" => (ECCurve.NamedCurves.nistP384, 48),
                        "P-521" => (ECCurve.NamedCurves.nistP521, 66),
                        var other => throw Unverified($"{where}: unsupported EC curve '{other}' (P-256, P-384, P-521)"),
                    };
                    if (!JoseEncoding.TryDecode(StringMember(jwk, "x"), out var x) || x.Length != octets
                        || !JoseEncoding.TryDecode(StringMember(jwk, "y"), out var y) || y.Length != octets)
                        throw Unverified($"{where}: the EC key's x and y must be base64url of {octets} bytes each");
                    var ecdsa = ECDsa.Create(new ECParameters { Curve = curve, Q = new ECPoint { X = x, Y = y } });
                    key = VerificationKey.ForEc(ecdsa, fromCertificate: false, where);
                    break;
                }
                case "RSA":
                {
                    if (!JoseEncoding.TryDecode(StringMember(jwk, "n"), out var n) || !JoseEncoding.TryDecode(StringMember(jwk, "e"), out var e)
                        || n.AsSpan().TrimStart((byte)0).Length < 64 || e.AsSpan().TrimStart((byte)0).Length == 0)
                        throw Unverified($"{where}: the RSA key's n and e must be base64url (n of at least 512 bits)");
                    var rsa = RSA.Create(new RSAParameters { Modulus = n.AsSpan().TrimStart((byte)0).ToArray(), Exponent = e.AsSpan().TrimStart((byte)0).ToArray() });
                    key = new VerificationKey(rsa, null, fromCertificate: false);
                    break;
                }
                default:
                    throw Unverified($"{where}: unsupported JWK key type '{kty}' (EC or RSA)");
            }
        }
        catch (CryptographicException)
        {
            throw Unverified($"{where}: the JWK is not a valid {kty} public key");
        }
        if (jwk.TryGetProperty("kid", out var kid))
        {
            if (kid.ValueKind != JsonValueKind.String || kid.GetString() != key.KeyId)
            {
                key.Dispose();
                throw Unverified($"{where}: the JWK's kid '{Digest.Truncate(kid.ToString())}' is not the key's libtrust key id {key.KeyId}");
            }
        }
        return key;
    }

    private sealed class VerificationKey : IDisposable
    {
        private readonly RSA? _rsa;
        private readonly ECDsa? _ecdsa;
        private readonly (string Algorithm, HashAlgorithmName Hash, string Name) _curve;

        public VerificationKey(RSA? rsa, ECDsa? ecdsa, bool fromCertificate, (string, HashAlgorithmName, string) curve = default)
        {
            _rsa = rsa;
            _ecdsa = ecdsa;
            _curve = curve;
            FromCertificate = fromCertificate;
            KeyId = JoseEncoding.LibtrustKeyId(rsa is not null ? rsa.ExportSubjectPublicKeyInfo() : ecdsa!.ExportSubjectPublicKeyInfo());
        }

        public static VerificationKey ForEc(ECDsa ecdsa, bool fromCertificate, string where)
        {
            var curve = Schema1SigningKey.CurveInfo(ecdsa.ExportParameters(false).Curve);
            if (curve is null)
            {
                ecdsa.Dispose();
                throw Unverified($"{where}: the EC key is not on P-256, P-384 or P-521");
            }
            return new VerificationKey(null, ecdsa, fromCertificate, curve.Value);
        }

        public string KeyId { get; }
        public bool FromCertificate { get; }

        public bool Verify(string alg, byte[] input, byte[] signature, out string problem)
        {
            try
            {
                if (_ecdsa is not null)
                {
                    if (alg != _curve.Algorithm)
                    {
                        problem = $"an EC key on {_curve.Name} signs with {_curve.Algorithm}, not '{alg}'";
                        return false;
                    }
                    int octets = (_ecdsa.KeySize + 7) / 8;
                    if (signature.Length != 2 * octets)
                    {
                        problem = $"the signature has {signature.Length} bytes; {_curve.Algorithm} signatures have {2 * octets}";
                        return false;
                    }
                    problem = "the signature does not match the signed content; the manifest was changed after it was signed, or was signed by another key";
                    return _ecdsa.VerifyData(input, signature, _curve.Hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
                }
                HashAlgorithmName hash;
                switch (alg)
                {
                    case "RS256": hash = HashAlgorithmName.SHA256; break;
                    case "RS384": hash = HashAlgorithmName.SHA384; break;
                    case "RS512": hash = HashAlgorithmName.SHA512; break;
                    default:
                        problem = $"an RSA key signs with RS256, RS384 or RS512, not '{alg}'";
                        return false;
                }
                problem = "the signature does not match the signed content; the manifest was changed after it was signed, or was signed by another key";
                return _rsa!.VerifyData(input, signature, hash, RSASignaturePadding.Pkcs1);
            }
            catch (CryptographicException ex)
            {
                problem = ex.Message;
                return false;
            }
        }

        public void Dispose()
        {
            _rsa?.Dispose();
            _ecdsa?.Dispose();
        }
    }

    private static string? StringMember(JsonElement element, string name)
    {
        if (!element.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.String) return null;
        try { return value.GetString(); }
        catch (InvalidOperationException) { return null; }
    }

    private static int LastNonSpace(ReadOnlySpan<byte> text, int before)
    {
        for (int i = before - 1; i >= 0; i--)
        {
            if (text[i] is not ((byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or (byte)'\v' or (byte)'\f')) return i;
        }
        return -1;
    }

    /// <summary>The indent libtrust detects: the whitespace between <c>"{\n"</c> and the first quote.</summary>
    private static string DetectIndent(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < 3 || payload[0] != (byte)'{' || payload[1] != (byte)'\n') return "";
        int quote = payload[2..].IndexOf((byte)'"');
        if (quote <= 0) return "";
        var indent = Encoding.UTF8.GetString(payload.Slice(2, quote));
        // Utf8JsonWriter indents with one repeated space or tab character; anything else is written compact.
        return indent.Length <= 127 && (indent.All(c => c == ' ') || indent.All(c => c == '\t')) ? indent : "";
    }

    private static RegistryException Unverified(string message) =>
        new(ErrorCode.ManifestUnverified, message, new { reason = message });
}
