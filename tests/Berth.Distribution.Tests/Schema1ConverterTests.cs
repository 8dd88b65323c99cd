using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Berth.Distribution.Tests;

/// <summary>Converting a Docker schema 2 image (manifest layers + image config) to schema 1, and the
/// content negotiation that decides when to.</summary>
public class Schema1ConverterTests
{
    private static readonly RepositoryName Repo = RepositoryName.Parse("group/project/app");
    private static readonly Tag Latest = Tag.Parse("latest");
    private const string DockerLayer = "application/vnd.docker.image.rootfs.diff.tar.gzip";

    private static Descriptor Layer(char fill) => new(DockerLayer, Digest.Parse("sha256:" + new string(fill, 64)), 100);

    private static string DiffIds(int n) => string.Join(",", Enumerable.Range(0, n).Select(i => $"\"sha256:{new string((char)('a' + i), 64)}\""));

    /// <summary>Two layers and three history entries, the middle one empty (an ENV line).</summary>
    private static readonly string Config = $$"""
        {"architecture":"arm64","os":"linux","created":"2024-05-06T07:08:09.123456789Z",
         "config":{"Env":["PATH=/usr/bin"],"Cmd":["/bin/sh"]},
         "rootfs":{"type":"layers","diff_ids":[{{DiffIds(2)}}]},
         "history":[
           {"created":"2024-05-06T07:00:00Z","created_by":"/bin/sh -c #(nop) ADD file:abc in / ","author":"Berth <berth@example.com>"},
           {"created":"2024-05-06T07:05:00Z","created_by":"/bin/sh -c #(nop) ENV PATH=/usr/bin","empty_layer":true,"comment":"env"},
           {"created":"2024-05-06T07:08:09.123456789Z","created_by":"/bin/sh -c #(nop) COPY file:def in /etc "}
         ]}
        """;

    private static (Schema1Manifest Manifest, Schema1Conversion Conversion) Convert(string config, params Descriptor[] layers)
    {
        var conversion = Schema1Converter.Convert(Repo, Latest, Encoding.UTF8.GetBytes(config), layers);
        return (Schema1Manifest.Parse(conversion.Payload), conversion);
    }

    [Fact]
    public void The_empty_layer_constant_has_its_well_known_digest()
    {
        Assert.Equal(Schema1Converter.EmptyLayerDigest, Digest.ComputeSha256(Schema1Converter.EmptyLayer));
        Assert.Equal(32, Schema1Converter.EmptyLayer.Length);
    }

    [Fact]
    public void History_becomes_fsLayers_and_v1Compatibility_newest_first_with_empty_layers_kept()
    {
        var (manifest, conversion) = Convert(Config, Layer('1'), Layer('2'));

        Assert.True(conversion.UsesEmptyLayer);
        Assert.Equal("group/project/app", manifest.Name);
        Assert.Equal("latest", manifest.Tag);
        Assert.Equal("arm64", manifest.Architecture);
        Assert.Equal([Layer('2').Digest, Schema1Converter.EmptyLayerDigest, Layer('1').Digest], manifest.BlobSums);

        var images = manifest.History.Select(h => JsonDocument.Parse(h).RootElement).ToList();
        // Oldest: no parent, its command and author.
        var oldest = images[2];
        Assert.False(oldest.TryGetProperty("parent", out _));
        Assert.Equal("/bin/sh -c #(nop) ADD file:abc in / ", oldest.GetProperty("container_config").GetProperty("Cmd")[0].GetString());
        Assert.Equal("Berth <berth@example.com>", oldest.GetProperty("author").GetString());
        Assert.Equal("2024-05-06T07:00:00Z", oldest.GetProperty("created").GetString());
        Assert.Equal(Sha256Hex(new string('1', 64) + " "), oldest.GetProperty("id").GetString());
        // Middle: the empty layer, a throwaway whose parent is the oldest.
        var middle = images[1];
        Assert.True(middle.GetProperty("throwaway").GetBoolean());
        Assert.Equal("env", middle.GetProperty("comment").GetString());
        Assert.Equal(oldest.GetProperty("id").GetString(), middle.GetProperty("parent").GetString());
        // Newest: the image config without rootfs/history, plus id and parent, members sorted.
        var newest = images[0];
        Assert.Equal(middle.GetProperty("id").GetString(), newest.GetProperty("parent").GetString());
        Assert.False(newest.TryGetProperty("rootfs", out _));
        Assert.False(newest.TryGetProperty("history", out _));
        Assert.Equal("/bin/sh", newest.GetProperty("config").GetProperty("Cmd")[0].GetString());
        Assert.Equal("linux", newest.GetProperty("os").GetString());
        Assert.False(newest.TryGetProperty("throwaway", out _));
        var names = newest.EnumerateObject().Select(p => p.Name).ToList();
        Assert.Equal(names.Order(StringComparer.Ordinal), names);
        var expectedTopId = Sha256Hex(new string('2', 64) + " " + middle.GetProperty("id").GetString() + " " + Config);
        Assert.Equal(expectedTopId, newest.GetProperty("id").GetString());
    }

    [Fact]
    public void The_payload_is_indented_like_Docker_and_ready_to_sign()
    {
        var (_, conversion) = Convert(Config, Layer('1'), Layer('2'));
        var text = Encoding.UTF8.GetString(conversion.Payload);

        Assert.StartsWith("{\n   \"schemaVersion\": 1,\n   \"name\": \"group/project/app\",\n   \"tag\": \"latest\",\n   \"architecture\": \"arm64\",\n   \"fsLayers\": [\n      {\n         \"blobSum\": \"sha256:", text);
        Assert.EndsWith("\"\n      }\n   ]\n}", text);
        using var key = Schema1SigningKey.FromECDsa(ECDsa.Create(ECCurve.NamedCurves.nistP256), ownsKey: true);
        var signed = Schema1Jws.Sign(conversion.Payload, key, DateTimeOffset.UtcNow);
        Assert.Equal(Digest.ComputeSha256(conversion.Payload), Schema1Manifest.Parse(signed).ComputeDigest());
    }

    [Fact]
    public void Conversion_matches_what_CNCF_Distribution_serves_for_the_same_image()
    {
        // Fixtures recorded from CNCF Distribution 2.8.2 (see Schema1Tests.DistributionConverted): a umoci-built
        // image (one layer, then an empty-layer config change) pushed as Docker schema 2 to test/hello:v2, and what
        // Distribution served a client without an Accept header.
        var config = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "TestData", "distribution-converted.config.json"));
        var served = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "TestData", "distribution-converted.manifest.json"));
        var layer = new Descriptor(DockerLayer, Digest.Parse("sha256:6e3616b4765f9d5c45d3ad2417cac149e75527430e4a903f1b981afaf8ee4dd8"), 151);

        var conversion = Schema1Converter.Convert(RepositoryName.Parse("test/hello"), Tag.Parse("v2"), config, [layer]);

        Assert.Equal(Encoding.UTF8.GetString(Schema1Jws.ExtractPayload(served)), Encoding.UTF8.GetString(conversion.Payload));
        Assert.Equal("sha256:d7c4c649afbc4c1c7874e34a4c0119b526b784cde255bc537cdae43bd6b79b8e", Digest.ComputeSha256(conversion.Payload).ToString());
        Assert.True(conversion.UsesEmptyLayer);
    }

    [Fact]
    public void Conversion_is_deterministic()
    {
        Assert.Equal(Convert(Config, Layer('1'), Layer('2')).Conversion.Payload, Convert(Config, Layer('1'), Layer('2')).Conversion.Payload);
    }

    [Fact]
    public void A_config_without_history_gets_one_entry_per_layer()
    {
        var config = $$$"""{"architecture":"amd64","os":"linux","created":"2020-01-01T00:00:00Z","rootfs":{"type":"layers","diff_ids":[{{{DiffIds(3)}}}]}}""";

        var (manifest, conversion) = Convert(config, Layer('1'), Layer('2'), Layer('3'));

        Assert.False(conversion.UsesEmptyLayer);
        Assert.Equal([Layer('3').Digest, Layer('2').Digest, Layer('1').Digest], manifest.BlobSums);
        Assert.All(manifest.History.Skip(1), h => Assert.Contains("\"created\":\"2020-01-01T00:00:00Z\"", h));
    }

    [Fact]
    public void A_history_that_does_not_match_the_layers_is_rebuilt_from_them()
    {
        // umoci and others may record fewer (or more) non-empty history entries than layers.
        var config = $$"""{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[{{DiffIds(2)}}]},"history":[{"created_by":"one"}]}""";

        var (manifest, _) = Convert(config, Layer('1'), Layer('2'));

        Assert.Equal([Layer('2').Digest, Layer('1').Digest], manifest.BlobSums);
        Assert.Contains("0001-01-01T00:00:00Z", manifest.History[1]);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[]")]
    [InlineData("""{"architecture":"amd64","rootfs":{"type":"layers","diff_ids":["sha256:aa"]}}""")]
    public void An_unusable_config_is_MANIFEST_UNKNOWN_with_an_explanation(string config)
    {
        var ex = Assert.Throws<RegistryException>(() => Schema1Converter.Convert(Repo, Latest, Encoding.UTF8.GetBytes(config), [Layer('1'), Layer('2')]));

        Assert.Same(ErrorCode.ManifestUnknown, ex.Code);
        Assert.Contains("schema 1", ex.Message);
        Assert.Contains("Docker 1.10", ex.Message);
    }

    private static string Sha256Hex(string text) => System.Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    // ---- negotiation ----

    public static TheoryData<string?, string, bool, ManifestDelivery> Negotiations() => new()
    {
        // Docker < 1.10: no Accept, */*, or only schema 1 types.
        { null, MediaTypes.DockerManifest, true, ManifestDelivery.ConvertToSchema1 },
        { "*/*", MediaTypes.DockerManifest, true, ManifestDelivery.ConvertToSchema1 },
        { MediaTypes.DockerSchema1Signed, MediaTypes.DockerManifest, true, ManifestDelivery.ConvertToSchema1 },
        { $"{MediaTypes.DockerSchema1Signed}, {MediaTypes.DockerSchema1}; q=0.5, application/json", MediaTypes.DockerManifest, true, ManifestDelivery.ConvertToSchema1 },
        // by digest: never converted
        { null, MediaTypes.DockerManifest, false, ManifestDelivery.AsStored },
        { MediaTypes.DockerSchema1Signed, MediaTypes.DockerManifest, false, ManifestDelivery.ClientTooOld },
        // no schema 1 form
        { MediaTypes.DockerSchema1Signed, MediaTypes.OciManifest, true, ManifestDelivery.ClientTooOld },
        { MediaTypes.DockerSchema1, MediaTypes.OciIndex, true, ManifestDelivery.ClientTooOld },
        { MediaTypes.DockerSchema1Signed, MediaTypes.DockerManifestList, false, ManifestDelivery.ClientTooOld },
        { null, MediaTypes.OciManifest, true, ManifestDelivery.AsStored },
        { "*/*", MediaTypes.DockerManifestList, true, ManifestDelivery.AsStored },
        // schema 1 is always served as stored
        { null, MediaTypes.DockerSchema1Signed, true, ManifestDelivery.AsStored },
        { MediaTypes.OciManifest, MediaTypes.DockerSchema1, true, ManifestDelivery.AsStored },
        // a client that names any schema 2 or OCI type gets what is stored
        { MediaTypes.DockerManifest, MediaTypes.DockerManifest, true, ManifestDelivery.AsStored },
        { $"{MediaTypes.DockerSchema1Signed},{MediaTypes.DockerManifest}", MediaTypes.DockerManifest, true, ManifestDelivery.AsStored },
        { MediaTypes.OciIndex, MediaTypes.DockerManifest, true, ManifestDelivery.AsStored },
        { "APPLICATION/VND.DOCKER.DISTRIBUTION.MANIFEST.V2+JSON", MediaTypes.DockerManifest, true, ManifestDelivery.AsStored },
        { MediaTypes.OciManifest, MediaTypes.OciIndex, true, ManifestDelivery.AsStored },
    };

    [Theory]
    [MemberData(nameof(Negotiations))]
    public void Negotiation_follows_the_Accept_header(string? accept, string stored, bool byTag, ManifestDelivery expected)
    {
        Assert.Equal(expected, ManifestNegotiation.Choose(accept is null ? [] : [accept], stored, byTag));
    }

    [Fact]
    public void Several_Accept_headers_count_together()
    {
        Assert.Equal(ManifestDelivery.AsStored, ManifestNegotiation.Choose([MediaTypes.DockerSchema1Signed, MediaTypes.DockerManifest], MediaTypes.DockerManifest, true));
    }

    [Fact]
    public void The_too_old_error_says_so()
    {
        var ex = ManifestNegotiation.TooOld(MediaTypes.OciIndex, "latest");

        Assert.Same(ErrorCode.ManifestUnknown, ex.Code);
        Assert.Contains("too old", ex.Message);
        Assert.Contains("OCI image index", ex.Message);
    }
}
