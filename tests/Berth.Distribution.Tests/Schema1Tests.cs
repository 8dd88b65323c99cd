using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Berth.Distribution.Tests;

/// <summary>Docker schema 1 manifests: parsing, the digest rule, libtrust JWS verification and signing.</summary>
public class Schema1Tests
{
    private static byte[] Fixture(string name) => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "TestData", name));

    /// <summary>
    /// containers/image's test fixture <c>internal/manifest/testdata/v2s1.manifest.json</c>
    /// (github.com/containers/image): a schema 1 manifest of <c>mitr/busybox:latest</c> pushed by Docker 1.8.
    /// containers/image's <c>manifest_test.go</c> gives its digest, <c>sha256:7364fea9…f000</c> (canonical payload of
    /// 5480 bytes), and <c>skopeo manifest-digest</c> (skopeo 1.9.3) prints the same for this file. Its signature
    /// does not verify (checked independently with Python's <c>cryptography</c>): the fixture was edited after it
    /// was signed, and containers/image never verifies signatures. A real-world tampered manifest, then.
    /// </summary>
    private static byte[] ContainersImageFixture() => Fixture("containers-image-v2s1.manifest.json");

    private const string ContainersImageDigest = "sha256:7364fea9d84ee548ab67d4c46c6006289800c98de3fbf8c0a97138dfcc23f000";

    /// <summary>
    /// A genuinely signed schema 1 manifest (compact JSON, ES256 libtrust signature with a throw-away key) that
    /// skopeo 1.9.3 wrote when pushing a umoci-built image with <c>skopeo copy --format v2s1</c> to
    /// <c>test/hello:v1</c> on CNCF Distribution 2.8.2 (Debian's docker-registry, schema 1 enabled), read back with
    /// <c>skopeo inspect --raw</c>. Distribution answered <c>Docker-Content-Digest: sha256:26c0cd64…ba04</c>, and
    /// <c>skopeo manifest-digest</c> prints the same.
    /// </summary>
    private static byte[] SkopeoSigned() => Fixture("skopeo-v2s1.manifest.json");

    private const string SkopeoDigest = "sha256:26c0cd64afd7bbdacc87aafa8b2250375b5146675f25782dbc1fe9f80f22ba04";

    /// <summary>
    /// What CNCF Distribution 2.8.2 (schema 1 enabled) served for <c>GET /v2/test/hello/manifests/v2</c> without an
    /// Accept header, where <c>v2</c> is the Docker schema 2 form of the same image (config in
    /// <c>distribution-converted.config.json</c>, one layer <c>sha256:6e3616b4…4dd8</c>): its on-the-fly conversion,
    /// pretty-printed and signed by the registry's libtrust key, served with
    /// <c>Docker-Content-Digest: sha256:d7c4c649…9b8e</c> (skopeo manifest-digest agrees).
    /// </summary>
    private static byte[] DistributionConverted() => Fixture("distribution-converted.manifest.json");

    private const string DistributionDigest = "sha256:d7c4c649afbc4c1c7874e34a4c0119b526b784cde255bc537cdae43bd6b79b8e";
    private const string DistributionKeyId = "QHEW:ZWCY:JJH7:OVLR:WQD7:ZXK3:HU73:IL3S:LUU6:YW7R:O6PL:W4SV";

    private const string Layer1 = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    private const string Layer2 = "sha256:3333333333333333333333333333333333333333333333333333333333333333";

    /// <summary>A valid unsigned schema 1 manifest, 3-space indented like Docker writes it.</summary>
    internal static byte[] Unsigned(string name = "library/hello", string tag = "latest", params string[] blobSums)
    {
        if (blobSums.Length == 0) blobSums = [Layer1, Layer2];
        var history = new JsonArray();
        for (int i = 0; i < blobSums.Length; i++)
        {
            var id = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{name}:{tag}:{i}")));
            history.Add(new JsonObject { ["v1Compatibility"] = $$"""{"id":"{{id}}","created":"2016-03-03T11:29:32Z"}""" });
        }
        var manifest = new JsonObject
        {
            ["schemaVersion"] = 1,
            ["name"] = name,
            ["tag"] = tag,
            ["architecture"] = "amd64",
            ["fsLayers"] = new JsonArray(blobSums.Select(b => (JsonNode)new JsonObject { ["blobSum"] = b }).ToArray()),
            ["history"] = history,
        };
        var json = manifest.ToJsonString(new JsonSerializerOptions
        {
            WriteIndented = true,
            IndentSize = 3,
            NewLine = "\n",
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        });
        return Encoding.UTF8.GetBytes(json);
    }

    private static RegistryException Refused(byte[] content, ErrorCode code, string? contentType = MediaTypes.DockerSchema1Signed)
    {
        var ex = Assert.Throws<RegistryException>(() => ManifestParser.Parse(content, contentType));
        Assert.True(ReferenceEquals(code, ex.Code), $"expected {code.Code}, got {ex.Code.Code}: {ex.Message}");
        Assert.Equal(400, ex.Status);
        Assert.False(string.IsNullOrWhiteSpace(ex.Message));
        return ex;
    }

    private static byte[] Replace(byte[] content, string from, string to)
    {
        var text = Encoding.UTF8.GetString(content);
        Assert.Contains(from, text);
        return Encoding.UTF8.GetBytes(text.Replace(from, to));
    }

    // ---- the digest rule, with known manifests ----

    [Fact]
    public void Known_manifest_digest_is_the_digest_of_its_canonical_payload()
    {
        var content = ContainersImageFixture();

        var payload = Schema1Jws.ExtractPayload(content);

        Assert.Equal(ContainersImageDigest, Digest.ComputeSha256(payload).ToString());
        Assert.NotEqual(ContainersImageDigest, Digest.ComputeSha256(content).ToString()); // not the digest of the bytes as pushed
        Assert.Equal(5480, payload.Length);
        Assert.Equal(content.AsSpan(0, 5478).ToArray(), payload[..5478]);
        Assert.Equal("\n}"u8.ToArray(), payload[5478..]);
        // ... and its signature does not cover that payload: refused.
        var ex = Refused(content, ErrorCode.ManifestUnverified);
        Assert.Contains("OZ45:U3IG:TDOI:PMBD:NGP2:LDIW:II2U:PSBI:MMCZ:YZUP:TUUO:XPZT", ex.Message);
    }

    [Fact]
    public void Skopeo_signed_manifest_verifies_and_has_its_known_digest()
    {
        var content = SkopeoSigned();

        var parsed = ManifestParser.Parse(content, MediaTypes.DockerSchema1Signed);

        Assert.Equal(MediaTypes.DockerSchema1Signed, parsed.MediaType);
        Assert.Equal(SkopeoDigest, parsed.ComputeDigest(content).ToString());
        Assert.NotEqual(SkopeoDigest, Digest.ComputeSha256(content).ToString());
        var schema1 = Assert.IsType<Schema1Manifest>(parsed.Schema1);
        Assert.Equal("test/hello", schema1.Name);
        Assert.Equal("v1", schema1.Tag);
        Assert.Equal("amd64", schema1.Architecture);
        Assert.Equal([Schema1Converter.EmptyLayerDigest.ToString(), "sha256:6e3616b4765f9d5c45d3ad2417cac149e75527430e4a903f1b981afaf8ee4dd8"],
            schema1.BlobSums.Select(d => d.ToString()));
        var signature = Assert.Single(schema1.Signatures);
        Assert.Equal("ES256", signature.Algorithm);
        using var doc = JsonDocument.Parse(content);
        Assert.Equal(doc.RootElement.GetProperty("signatures")[0].GetProperty("header").GetProperty("jwk").GetProperty("kid").GetString(), signature.KeyId);
        Assert.Equal("sha512", parsed.ComputeDigest(content, Digest.Sha512).Algorithm);
    }

    [Fact]
    public void Distribution_converted_manifest_verifies_and_has_its_known_digest()
    {
        var content = DistributionConverted();

        var schema1 = Schema1Manifest.Parse(content);

        Assert.Equal(DistributionDigest, schema1.ComputeDigest().ToString());
        Assert.Equal(new Schema1Signature("ES256", DistributionKeyId, FromCertificate: false), Assert.Single(schema1.Signatures));
        Assert.Equal("v2", schema1.Tag);
    }

    [Fact]
    public void Known_manifest_is_accepted_whatever_the_content_type()
    {
        foreach (var contentType in new string?[] { null, "application/json", MediaTypes.DockerSchema1, MediaTypes.DockerSchema1Signed })
        {
            var parsed = ManifestParser.Parse(DistributionConverted(), contentType);
            Assert.Equal(MediaTypes.DockerSchema1Signed, parsed.MediaType);
            Assert.Equal(DistributionDigest, parsed.ComputeDigest(DistributionConverted()).ToString());
        }
    }

    [Fact]
    public void Schema1_blobs_are_required_once_each_and_have_no_sizes()
    {
        var parsed = ManifestParser.Parse(Unsigned(blobSums: [Layer1, Layer2, Layer1]), null);

        Assert.Empty(parsed.RequiredBlobs);
        Assert.Equal([Layer1, Layer2], parsed.RequiredBlobDigests.Select(d => d.ToString()));
        Assert.Null(parsed.EffectiveArtifactType);
        Assert.Null(parsed.Subject);
    }

    [Fact]
    public void Unsigned_manifest_is_named_by_the_digest_of_its_bytes()
    {
        var content = Unsigned();

        var parsed = ManifestParser.Parse(content, MediaTypes.DockerSchema1);

        Assert.Equal(MediaTypes.DockerSchema1, parsed.MediaType);
        Assert.False(parsed.Schema1!.IsSigned);
        Assert.Equal(Digest.ComputeSha256(content), parsed.ComputeDigest(content));
        Assert.Equal([Layer1, Layer2], parsed.Schema1.BlobSums.Select(d => d.ToString()));
    }

    // ---- broken signatures ----

    [Fact]
    public void Changing_the_signed_content_is_MANIFEST_UNVERIFIED()
    {
        // Same length, so formatLength still lands on the closing brace: only the signature can tell.
        var tampered = Replace(DistributionConverted(), "\"architecture\": \"amd64\"", "\"architecture\": \"arm64\"");

        var ex = Refused(tampered, ErrorCode.ManifestUnverified);

        Assert.Contains("does not verify", ex.Message);
        Assert.Contains(DistributionKeyId, ex.Message);
    }

    [Fact]
    public void A_corrupted_signature_value_is_MANIFEST_UNVERIFIED()
    {
        Refused(Replace(DistributionConverted(), "\"signature\": \"mNsEbPcvWC", "\"signature\": \"mNsEbPcvWD"), ErrorCode.ManifestUnverified);
        Refused(Replace(SkopeoSigned(), "\"signature\":\"", "\"signature\":\"AAAA"), ErrorCode.ManifestUnverified);
    }

    [Fact]
    public void A_kid_that_is_not_the_keys_libtrust_id_is_MANIFEST_UNVERIFIED()
    {
        var tampered = Replace(DistributionConverted(), DistributionKeyId, "AAAA:ZWCY:JJH7:OVLR:WQD7:ZXK3:HU73:IL3S:LUU6:YW7R:O6PL:W4SV");

        var ex = Refused(tampered, ErrorCode.ManifestUnverified);

        Assert.Contains("kid", ex.Message);
    }

    [Theory]
    [InlineData("\"alg\": \"ES256\"", "\"alg\": \"ES384\"")]
    [InlineData("\"alg\": \"ES256\"", "\"alg\": \"RS256\"")]
    [InlineData("\"crv\": \"P-256\"", "\"crv\": \"P-384\"")]
    [InlineData("\"kty\": \"EC\"", "\"kty\": \"OKP\"")]
    [InlineData("\"x\": \"0pg2nqvpEYZSbqk-rm1GVMJoBQ_3m4Aa_XIopedFQio\"", "\"x\": \"0pg2nqvpEYZSbqk-rm1GVMJoBQ_3m4Aa_XIopedFQi\"")]
    [InlineData("\"x\": \"0pg2nqvpEYZSbqk-rm1GVMJoBQ_3m4Aa_XIopedFQio\"", "\"x\": \"1pg2nqvpEYZSbqk-rm1GVMJoBQ_3m4Aa_XIopedFQio\"")]
    [InlineData("\"jwk\": {", "\"jwx\": {")]
    [InlineData("\"protected\": \"eyJ", "\"protected\": \"!!!")]
    [InlineData("\"protected\": \"eyJmb3JtYXRMZW5ndGgiOjk1NiwiZm9ybWF0VGFpbCI6IkNuMCIsInRpbWUiOiIyMDI2LTExLTMwVDAyOjAyOjAxWiJ9\"",
                "\"protected\": \"eyJmb3JtYXRMZW5ndGgiOjk5OTk5LCJmb3JtYXRUYWlsIjoiQ24wIn0\"")] // {"formatLength":99999,"formatTail":"Cn0"}
    [InlineData("\"signature\": \"mNsE", "\"signature\": 7, \"x\": \"")]
    [InlineData("\"header\": {", "\"header\": [], \"h\": {")]
    public void Malformed_signature_blocks_are_MANIFEST_UNVERIFIED(string from, string to)
    {
        Refused(Replace(DistributionConverted(), from, to), ErrorCode.ManifestUnverified);
    }

    [Fact]
    public void Content_outside_the_signed_payload_is_refused()
    {
        var text = Encoding.UTF8.GetString(DistributionConverted());
        var extraMember = Encoding.UTF8.GetBytes(text[..text.LastIndexOf('}')] + ",\n   \"extra\": 1\n}");
        var duplicateLayers = Encoding.UTF8.GetBytes(text[..text.LastIndexOf('}')] + ",\n   \"fsLayers\": []\n}");

        Assert.Contains("differs from what its signatures cover", Refused(extraMember, ErrorCode.ManifestUnverified).Message);
        Assert.Contains("twice", Refused(duplicateLayers, ErrorCode.ManifestInvalid).Message);
    }

    [Fact]
    public void Declared_signed_without_signatures_is_MANIFEST_UNVERIFIED()
    {
        var ex = Refused(Unsigned(), ErrorCode.ManifestUnverified, MediaTypes.DockerSchema1Signed);

        Assert.Contains("no signatures", ex.Message);
    }

    [Fact]
    public void An_empty_signature_list_is_MANIFEST_INVALID()
    {
        var text = Encoding.UTF8.GetString(Unsigned());
        var content = Encoding.UTF8.GetBytes(text[..text.LastIndexOf('}')] + ",\n   \"signatures\": []\n}");

        Refused(content, ErrorCode.ManifestInvalid, null);
    }

    // ---- validation ----

    public static TheoryData<string, string> InvalidEdits() => new()
    {
        { "\"schemaVersion\": 1", "\"schemaVersion\": \"1\"" },
        { "\"name\": \"library/hello\"", "\"name\": \"Library/Hello\"" },
        { "\"name\": \"library/hello\"", "\"name\": 5" },
        { "\"tag\": \"latest\"", "\"tag\": \"-bad\"" },
        { "\"tag\": \"latest\",", "" },
        { "\"architecture\": \"amd64\"", "\"architecture\": \"\"" },
        { "\"architecture\": \"amd64\",", "" },
        { Layer2, "sha256:nope" },
        { "\"blobSum\"", "\"digest\"" },
        { "\"v1Compatibility\"", "\"v1compatibility\"" },
        { "\\\"id\\\":\\\"", "\\\"id\\\":\\\"short\\\",\\\"x\\\":\\\"" },
        { "\"fsLayers\": [", "\"fsLayers\": [ { \"blobSum\": \"" + Layer1 + "\" }," },
        { "\"history\": [", "\"history\": [ { \"v1Compatibility\": \"{\\\"id\\\":\\\"" + new string('a', 64) + "\\\"}\" }," },
        { "\"schemaVersion\": 1,", $"\"schemaVersion\": 1, \"mediaType\": \"{MediaTypes.DockerManifest}\"," },
    };

    [Theory]
    [MemberData(nameof(InvalidEdits))]
    public void Invalid_schema1_manifests_are_MANIFEST_INVALID(string from, string to)
    {
        var text = Encoding.UTF8.GetString(Unsigned());
        Assert.Contains(from, text);

        Refused(Encoding.UTF8.GetBytes(text.Replace(from, to)), ErrorCode.ManifestInvalid, MediaTypes.DockerSchema1);
    }

    [Fact]
    public void Empty_fsLayers_is_MANIFEST_INVALID()
    {
        var text = Encoding.UTF8.GetString(Unsigned());
        var node = JsonNode.Parse(text)!.AsObject();
        node["fsLayers"] = new JsonArray();
        node["history"] = new JsonArray();

        Refused(Encoding.UTF8.GetBytes(node.ToJsonString()), ErrorCode.ManifestInvalid, null);
    }

    [Theory]
    [InlineData(MediaTypes.OciManifest)]
    [InlineData(MediaTypes.DockerManifest)]
    public void A_schema1_body_under_a_schema2_content_type_is_MANIFEST_INVALID(string contentType)
    {
        Refused(Unsigned(), ErrorCode.ManifestInvalid, contentType);
    }

    [Fact]
    public void Schema1_can_be_switched_off()
    {
        var ex = Assert.Throws<RegistryException>(() => ManifestParser.Parse(SkopeoSigned(), MediaTypes.DockerSchema1Signed, acceptSchema1: false));

        Assert.Same(ErrorCode.ManifestInvalid, ex.Code);
        Assert.Contains("schema 1", ex.Message);
        Assert.Contains("disabled", ex.Message);
        Assert.NotNull(ManifestParser.Parse(Encoding.UTF8.GetBytes(OciManifest), MediaTypes.OciManifest, acceptSchema1: false));
    }

    private const string OciManifest = $$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciManifest}}","config":{"mediaType":"{{MediaTypes.OciConfig}}","digest":"{{Layer1}}","size":2},"layers":[]}""";

    // ---- name and tag must match the URL ----

    [Fact]
    public void Name_and_tag_must_match_where_the_manifest_is_pushed()
    {
        var schema1 = Schema1Manifest.Parse(Unsigned("group/project/app", "1.0"));

        schema1.CheckTarget(RepositoryName.Parse("group/project/app"), Tag.Parse("1.0"));
        schema1.CheckTarget(RepositoryName.Parse("group/project/app"), null); // by digest: any tag
        var name = Assert.Throws<RegistryException>(() => schema1.CheckTarget(RepositoryName.Parse("group/project/other"), Tag.Parse("1.0")));
        Assert.Same(ErrorCode.ManifestInvalid, name.Code);
        Assert.Contains("group/project/other", name.Message);
        var tag = Assert.Throws<RegistryException>(() => schema1.CheckTarget(RepositoryName.Parse("group/project/app"), Tag.Parse("2.0")));
        Assert.Same(ErrorCode.TagInvalid, tag.Code);
        Assert.Contains("2.0", tag.Message);
    }

    // ---- signing ----

    public static TheoryData<string> KeyKinds() => ["RSA-2048", "P-256", "P-384", "P-521"];

    private static Schema1SigningKey NewKey(string kind) => kind switch
    {
        "RSA-2048" => Schema1SigningKey.FromRsa(RSA.Create(2048), ownsKey: true),
        "P-256" => Schema1SigningKey.FromECDsa(ECDsa.Create(ECCurve.NamedCurves.nistP256), ownsKey: true),
        "P-384" => Schema1SigningKey.FromECDsa(ECDsa.Create(ECCurve.NamedCurves.nistP384), ownsKey: true),
        _ => Schema1SigningKey.FromECDsa(ECDsa.Create(ECCurve.NamedCurves.nistP521), ownsKey: true),
    };

    [Theory]
    [MemberData(nameof(KeyKinds))]
    public void Signed_manifests_verify_and_keep_the_digest_of_the_unsigned_payload(string kind)
    {
        using var key = NewKey(kind);
        var payload = Unsigned();

        var signed = Schema1Jws.Sign(payload, key, new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));

        var parsed = ManifestParser.Parse(signed, MediaTypes.DockerSchema1Signed);
        Assert.Equal(Digest.ComputeSha256(payload), parsed.ComputeDigest(signed));
        Assert.Equal(payload, parsed.Schema1!.Payload.ToArray());
        var signature = Assert.Single(parsed.Schema1.Signatures);
        Assert.Equal(key.Algorithm, signature.Algorithm);
        Assert.Equal(key.KeyId, signature.KeyId);
        Assert.Matches("^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$", key.KeyId);
        // The pretty layout libtrust writes: the payload up to its last member, then the signature block.
        var text = Encoding.UTF8.GetString(signed);
        Assert.StartsWith(Encoding.UTF8.GetString(payload)[..^2] + ",\n   \"signatures\": [\n      {\n         \"header\": {\n            \"jwk\": {", text);
        Assert.EndsWith("\"\n      }\n   ]\n}", text);
        using var doc = JsonDocument.Parse(signed);
        var block = doc.RootElement.GetProperty("signatures")[0];
        var protectedHeader = JsonDocument.Parse(Convert.FromBase64String(Pad(block.GetProperty("protected").GetString()!)));
        Assert.Equal(payload.Length - 2, protectedHeader.RootElement.GetProperty("formatLength").GetInt32());
        Assert.Equal("Cn0", protectedHeader.RootElement.GetProperty("formatTail").GetString());
        Assert.Equal("2026-01-02T03:04:05Z", protectedHeader.RootElement.GetProperty("time").GetString());
        Assert.Equal(key.KeyId, block.GetProperty("header").GetProperty("jwk").GetProperty("kid").GetString());
    }

    [Fact]
    public void Compact_payloads_are_signed_compactly_as_skopeo_does()
    {
        using var key = NewKey("P-256");
        var payload = Encoding.UTF8.GetBytes(JsonNode.Parse(Unsigned())!.ToJsonString());

        var signed = Schema1Jws.Sign(payload, key, DateTimeOffset.UnixEpoch);

        Assert.StartsWith(Encoding.UTF8.GetString(payload)[..^1] + ",\"signatures\":[{\"header\":{", Encoding.UTF8.GetString(signed));
        Assert.Equal(Digest.ComputeSha256(payload), ManifestParser.Parse(signed, null).ComputeDigest(signed));
    }

    [Fact]
    public void Two_signatures_over_the_same_payload_both_verify()
    {
        using var first = NewKey("P-256");
        using var second = NewKey("RSA-2048");
        var payload = Unsigned();
        using var one = JsonDocument.Parse(Schema1Jws.Sign(payload, first, DateTimeOffset.UnixEpoch));
        using var two = JsonDocument.Parse(Schema1Jws.Sign(payload, second, DateTimeOffset.UnixEpoch));
        var both = new JsonArray(
            JsonNode.Parse(one.RootElement.GetProperty("signatures")[0].GetRawText()),
            JsonNode.Parse(two.RootElement.GetProperty("signatures")[0].GetRawText()));
        var text = Encoding.UTF8.GetString(payload);
        var content = Encoding.UTF8.GetBytes(text[..^2] + ",\n   \"signatures\": " + both.ToJsonString() + "\n}");

        var parsed = Schema1Manifest.Parse(content);

        Assert.Equal([first.KeyId, second.KeyId], parsed.Signatures.Select(s => s.KeyId));
        Assert.Equal(Digest.ComputeSha256(payload), parsed.ComputeDigest());
    }

    [Fact]
    public void A_key_from_an_x5c_certificate_chain_verifies()
    {
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var certificate = new CertificateRequest("CN=schema1 test", ecdsa, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var payload = Unsigned();
        var protectedHeader = B64Url(Encoding.UTF8.GetBytes($$"""{"formatLength":{{payload.Length - 2}},"formatTail":"Cn0","time":"2026-01-01T00:00:00Z"}"""));
        var signature = ecdsa.SignData(Encoding.ASCII.GetBytes(protectedHeader + "." + B64Url(payload)), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        var block = $$"""[{"header":{"alg":"ES256","x5c":["{{Convert.ToBase64String(certificate.RawData)}}"]},"signature":"{{B64Url(signature)}}","protected":"{{protectedHeader}}"}]""";
        var content = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(payload)[..^2] + ",\n   \"signatures\": " + block + "\n}");

        var parsed = Schema1Manifest.Parse(content);

        var verified = Assert.Single(parsed.Signatures);
        Assert.True(verified.FromCertificate);
        Assert.Equal("ES256", verified.Algorithm);
        // The same block with a signature from another key fails.
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var forged = other.SignData(Encoding.ASCII.GetBytes(protectedHeader + "." + B64Url(payload)), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        var bad = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(content).Replace(B64Url(signature), B64Url(forged)));
        Assert.Same(ErrorCode.ManifestUnverified, Assert.Throws<RegistryException>(() => Schema1Manifest.Parse(bad)).Code);
    }

    [Fact]
    public void Signing_keys_load_from_PEM()
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        using var rsa = RSA.Create(2048);

        using var fromEcPem = Schema1SigningKey.FromPem(ec.ExportECPrivateKeyPem());
        using var fromPkcs8 = Schema1SigningKey.FromPem(ec.ExportPkcs8PrivateKeyPem());
        using var fromRsaPem = Schema1SigningKey.FromPem(rsa.ExportRSAPrivateKeyPem());

        Assert.Equal("ES384", fromEcPem.Algorithm);
        Assert.Equal(fromEcPem.KeyId, fromPkcs8.KeyId);
        Assert.Equal("RS256", fromRsaPem.Algorithm);
        Assert.Throws<ArgumentException>(() => Schema1SigningKey.FromPem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"));
        using var k1 = ECDsa.Create(ECCurve.CreateFromFriendlyName("brainpoolP256r1"));
        Assert.Throws<ArgumentException>(() => Schema1SigningKey.FromPem(k1.ExportECPrivateKeyPem()));
    }

    private static string B64Url(byte[] data) => Convert.ToBase64String(data).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string Pad(string b64Url)
    {
        var s = b64Url.Replace('-', '+').Replace('_', '/');
        return s + new string('=', (4 - s.Length % 4) % 4);
    }
}
