using System.Text;
using System.Text.Json;

namespace Berth.Distribution.Tests;

public class ManifestParserTests
{
    private const string ConfigDigest = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    private const string Layer1 = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    private const string Layer2 = "sha256:3333333333333333333333333333333333333333333333333333333333333333";
    private const string Child1 = "sha256:4444444444444444444444444444444444444444444444444444444444444444";
    private const string Child2 = "sha512:55555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555";
    private const string SubjectDigest = "sha256:6666666666666666666666666666666666666666666666666666666666666666";
    private const string EmptyDigest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

    private const string OciLayer = "application/vnd.oci.image.layer.v1.tar+gzip";
    private const string DockerLayer = "application/vnd.docker.image.rootfs.diff.tar.gzip";

    private static readonly string OciManifestJson = $$"""
        {
          "schemaVersion": 2,
          "mediaType": "{{MediaTypes.OciManifest}}",
          "config": { "mediaType": "{{MediaTypes.OciConfig}}", "digest": "{{ConfigDigest}}", "size": 7023 },
          "layers": [
            { "mediaType": "{{OciLayer}}", "digest": "{{Layer1}}", "size": 32654 },
            { "mediaType": "{{OciLayer}}", "digest": "{{Layer2}}", "size": 16724,
              "annotations": { "org.opencontainers.image.title": "layer2.tar.gz" } }
          ],
          "annotations": { "com.example.key1": "value1", "com.example.key2": "" }
        }
        """;

    private static readonly string OciManifestNoMediaTypeJson = $$"""
        {
          "schemaVersion": 2,
          "config": { "mediaType": "{{MediaTypes.OciConfig}}", "digest": "{{ConfigDigest}}", "size": 7023 },
          "layers": [ { "mediaType": "{{OciLayer}}", "digest": "{{Layer1}}", "size": 32654 } ]
        }
        """;

    private static readonly string OciIndexJson = $$"""
        {
          "schemaVersion": 2,
          "mediaType": "{{MediaTypes.OciIndex}}",
          "manifests": [
            { "mediaType": "{{MediaTypes.OciManifest}}", "digest": "{{Child1}}", "size": 7143,
              "platform": { "architecture": "ppc64le", "os": "linux" } },
            { "mediaType": "{{MediaTypes.OciManifest}}", "digest": "{{Child2}}", "size": 7682,
              "platform": { "architecture": "amd64", "os": "linux", "os.features": ["sse4"] } }
          ],
          "annotations": { "com.example.key1": "value1" }
        }
        """;

    private static readonly string DockerManifestJson = $$"""
        {
          "schemaVersion": 2,
          "mediaType": "{{MediaTypes.DockerManifest}}",
          "config": { "mediaType": "{{MediaTypes.DockerConfig}}", "size": 7023, "digest": "{{ConfigDigest}}" },
          "layers": [
            { "mediaType": "{{DockerLayer}}", "size": 32654, "digest": "{{Layer1}}" },
            { "mediaType": "{{DockerLayer}}", "size": 16724, "digest": "{{Layer2}}" }
          ]
        }
        """;

    private static readonly string DockerManifestListJson = $$"""
        {
          "schemaVersion": 2,
          "mediaType": "{{MediaTypes.DockerManifestList}}",
          "manifests": [
            { "mediaType": "{{MediaTypes.DockerManifest}}", "size": 7143, "digest": "{{Child1}}",
              "platform": { "architecture": "ppc64le", "os": "linux" } },
            { "mediaType": "{{MediaTypes.DockerManifest}}", "size": 7682, "digest": "{{Child2}}",
              "platform": { "architecture": "amd64", "os": "linux", "features": ["sse4"] } }
          ]
        }
        """;

    private static readonly string ArtifactJson = $$"""
        {
          "schemaVersion": 2,
          "mediaType": "{{MediaTypes.OciManifest}}",
          "artifactType": "application/vnd.example.sbom.v1",
          "config": { "mediaType": "{{MediaTypes.OciEmpty}}", "digest": "{{EmptyDigest}}", "size": 2, "data": "e30=" },
          "layers": [ { "mediaType": "application/spdx+json", "digest": "{{Layer1}}", "size": 1234 } ],
          "subject": { "mediaType": "{{MediaTypes.OciManifest}}", "digest": "{{SubjectDigest}}", "size": 7682 },
          "annotations": { "org.opencontainers.image.created": "2024-01-01T00:00:00Z" }
        }
        """;

    private static readonly string ForeignLayerJson = $$"""
        {
          "schemaVersion": 2,
          "mediaType": "{{MediaTypes.DockerManifest}}",
          "config": { "mediaType": "{{MediaTypes.DockerConfig}}", "size": 1, "digest": "{{ConfigDigest}}" },
          "layers": [
            { "mediaType": "{{MediaTypes.DockerForeignLayer}}", "size": 1000, "digest": "{{Layer1}}",
              "urls": [ "https://mcr.microsoft.com/v2/windows/servercore/blobs/{{Layer1}}" ] },
            { "mediaType": "{{DockerLayer}}", "size": 2, "digest": "{{Layer2}}" }
          ]
        }
        """;

    private static ParsedManifest Parse(string json, string? contentType = null) =>
        ManifestParser.Parse(Encoding.UTF8.GetBytes(json), contentType);

    private static RegistryException Rejects(string json, string? contentType = null)
    {
        var ex = Assert.Throws<RegistryException>(() => Parse(json, contentType));
        Assert.Same(ErrorCode.ManifestInvalid, ex.Code);
        Assert.Equal(400, ex.Status);
        Assert.False(string.IsNullOrWhiteSpace(ex.Message));
        return ex;
    }

    // ---- accepted manifests ----

    [Theory]
    [InlineData(null)]
    [InlineData(MediaTypes.OciManifest)]
    [InlineData(MediaTypes.OciManifest + "; charset=utf-8")]
    [InlineData("  APPLICATION/vnd.oci.image.manifest.v1+json ")]
    [InlineData("application/octet-stream")]
    [InlineData("application/json")]
    [InlineData("")]
    public void Oci_manifest_with_mediaType_field(string? contentType)
    {
        var m = Parse(OciManifestJson, contentType);
        Assert.Equal(MediaTypes.OciManifest, m.MediaType);
        Assert.False(m.IsIndex);
        Assert.NotNull(m.Config);
        Assert.Equal(new Descriptor(MediaTypes.OciConfig, Digest.Parse(ConfigDigest), 7023), m.Config with { });
        Assert.Equal(2, m.Layers.Count);
        Assert.Equal(Digest.Parse(Layer1), m.Layers[0].Digest);
        Assert.Equal(32654, m.Layers[0].Size);
        Assert.Equal(OciLayer, m.Layers[0].MediaType);
        Assert.Null(m.Layers[0].Annotations);
        Assert.Equal("layer2.tar.gz", m.Layers[1].Annotations!["org.opencontainers.image.title"]);
        Assert.Empty(m.Manifests);
        Assert.Null(m.Subject);
        Assert.Null(m.ArtifactType);
        Assert.Equal("value1", m.Annotations!["com.example.key1"]);
        Assert.Equal("", m.Annotations["com.example.key2"]);
        Assert.Equal(MediaTypes.OciConfig, m.EffectiveArtifactType);
        Assert.Equal([ConfigDigest, Layer1, Layer2], m.RequiredBlobs.Select(d => d.Digest.ToString()));
        Assert.Empty(m.RequiredManifests);
    }

    [Theory]
    [InlineData(null)]
    [InlineData(MediaTypes.OciManifest)]
    [InlineData("application/vnd.oci.image.manifest.v1+json;charset=utf-8")]
    [InlineData("application/json")]
    public void Oci_manifest_without_mediaType_field(string? contentType)
    {
        var m = Parse(OciManifestNoMediaTypeJson, contentType);
        Assert.Equal(MediaTypes.OciManifest, m.MediaType);
        Assert.Equal(Digest.Parse(ConfigDigest), m.Config!.Digest);
        Assert.Single(m.Layers);
        Assert.Null(m.Annotations);
        Assert.Equal([ConfigDigest, Layer1], m.RequiredBlobs.Select(d => d.Digest.ToString()));
    }

    [Fact]
    public void Oci_manifest_with_empty_layers()
    {
        var json = $$"""{"schemaVersion":2,"config":{"mediaType":"{{MediaTypes.OciConfig}}","digest":"{{ConfigDigest}}","size":0},"layers":[]}""";
        var m = Parse(json);
        Assert.Empty(m.Layers);
        Assert.Single(m.RequiredBlobs);
    }

    [Theory]
    [InlineData(null)]
    [InlineData(MediaTypes.OciIndex)]
    public void Oci_index(string? contentType)
    {
        var m = Parse(OciIndexJson, contentType);
        Assert.Equal(MediaTypes.OciIndex, m.MediaType);
        Assert.True(m.IsIndex);
        Assert.Null(m.Config);
        Assert.Empty(m.Layers);
        Assert.Empty(m.RequiredBlobs);
        Assert.Equal(2, m.Manifests.Count);
        Assert.Equal([Child1, Child2], m.RequiredManifests.Select(d => d.Digest.ToString()));
        Assert.Equal(Digest.Sha512, m.Manifests[1].Digest.Algorithm);
        Assert.Equal("ppc64le", m.Manifests[0].Platform!.Value.GetProperty("architecture").GetString());
        Assert.Equal("sse4", m.Manifests[1].Platform!.Value.GetProperty("os.features")[0].GetString());
        Assert.Null(m.EffectiveArtifactType);
        Assert.Equal("value1", m.Annotations!["com.example.key1"]);
    }

    [Fact]
    public void Oci_index_without_mediaType_field_is_detected_by_manifests()
    {
        var json = $$"""{"schemaVersion":2,"manifests":[{"mediaType":"{{MediaTypes.OciManifest}}","digest":"{{Child1}}","size":1}]}""";
        var m = Parse(json);
        Assert.Equal(MediaTypes.OciIndex, m.MediaType);
        Assert.Single(m.RequiredManifests);
    }

    [Fact]
    public void Oci_index_with_empty_manifests()
    {
        var m = Parse($$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciIndex}}","manifests":[]}""");
        Assert.True(m.IsIndex);
        Assert.Empty(m.RequiredManifests);
    }

    [Fact]
    public void Platform_survives_disposal_of_the_parsed_document()
    {
        var m = Parse(OciIndexJson);
        GC.Collect();
        Assert.Equal("linux", m.Manifests[0].Platform!.Value.GetProperty("os").GetString());
    }

    [Fact]
    public void Index_with_artifactType()
    {
        var json = $$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciIndex}}","artifactType":"application/vnd.example.bundle","manifests":[]}""";
        var m = Parse(json);
        Assert.Equal("application/vnd.example.bundle", m.ArtifactType);
        Assert.Equal("application/vnd.example.bundle", m.EffectiveArtifactType);
    }

    [Theory]
    [InlineData(null)]
    [InlineData(MediaTypes.DockerManifest)]
    public void Docker_v2_manifest(string? contentType)
    {
        var m = Parse(DockerManifestJson, contentType);
        Assert.Equal(MediaTypes.DockerManifest, m.MediaType);
        Assert.False(m.IsIndex);
        Assert.Equal(MediaTypes.DockerConfig, m.Config!.MediaType);
        Assert.Equal(MediaTypes.DockerConfig, m.EffectiveArtifactType);
        Assert.Equal([ConfigDigest, Layer1, Layer2], m.RequiredBlobs.Select(d => d.Digest.ToString()));
    }

    [Fact]
    public void Docker_v2_manifest_with_plugin_config()
    {
        var json = DockerManifestJson.Replace(MediaTypes.DockerConfig, "application/vnd.docker.plugin.v1+json");
        var m = Parse(json);
        Assert.Equal("application/vnd.docker.plugin.v1+json", m.EffectiveArtifactType);
    }

    [Theory]
    [InlineData(null)]
    [InlineData(MediaTypes.DockerManifestList)]
    public void Docker_manifest_list(string? contentType)
    {
        var m = Parse(DockerManifestListJson, contentType);
        Assert.Equal(MediaTypes.DockerManifestList, m.MediaType);
        Assert.True(m.IsIndex);
        Assert.Equal([Child1, Child2], m.RequiredManifests.Select(d => d.Digest.ToString()));
        Assert.Empty(m.RequiredBlobs);
        Assert.Null(m.EffectiveArtifactType);
    }

    [Fact]
    public void Docker_manifest_list_may_reference_oci_manifests()
    {
        var json = DockerManifestListJson.Replace($"\"mediaType\": \"{MediaTypes.DockerManifest}\"", $"\"mediaType\": \"{MediaTypes.OciManifest}\"");
        Assert.Equal(2, Parse(json).Manifests.Count(d => d.MediaType == MediaTypes.OciManifest));
    }

    [Fact]
    public void Artifact_manifest_with_artifactType_and_subject()
    {
        var m = Parse(ArtifactJson, MediaTypes.OciManifest);
        Assert.Equal(MediaTypes.OciManifest, m.MediaType);
        Assert.Equal("application/vnd.example.sbom.v1", m.ArtifactType);
        Assert.Equal("application/vnd.example.sbom.v1", m.EffectiveArtifactType);
        Assert.NotNull(m.Subject);
        Assert.Equal(Digest.Parse(SubjectDigest), m.Subject.Digest);
        Assert.Equal(MediaTypes.OciManifest, m.Subject.MediaType);
        Assert.Equal(7682, m.Subject.Size);
        Assert.Equal(MediaTypes.OciEmpty, m.Config!.MediaType);
        Assert.Equal([EmptyDigest, Layer1], m.RequiredBlobs.Select(d => d.Digest.ToString()));
        // The subject is not a required blob or manifest: it may be pushed before its subject exists.
        Assert.DoesNotContain(m.RequiredBlobs, d => d.Digest == m.Subject.Digest);
        Assert.Empty(m.RequiredManifests);
    }

    [Fact]
    public void Index_with_subject()
    {
        var json = $$"""
            {"schemaVersion":2,"mediaType":"{{MediaTypes.OciIndex}}","manifests":[],
             "subject":{"mediaType":"{{MediaTypes.OciManifest}}","digest":"{{SubjectDigest}}","size":1} }
            """;
        Assert.Equal(Digest.Parse(SubjectDigest), Parse(json).Subject!.Digest);
    }

    [Fact]
    public void Null_subject_and_annotations_are_absent()
    {
        var json = $$"""
            {"schemaVersion":2,"config":{"mediaType":"{{MediaTypes.OciConfig}}","digest":"{{ConfigDigest}}","size":1},
             "layers":[],"subject":null,"annotations":null,"artifactType":null}
            """;
        var m = Parse(json);
        Assert.Null(m.Subject);
        Assert.Null(m.Annotations);
        Assert.Null(m.ArtifactType);
    }

    [Fact]
    public void Descriptor_fields_are_parsed()
    {
        var json = $$"""
            {"schemaVersion":2,"mediaType":"{{MediaTypes.OciIndex}}","manifests":[
              {"mediaType":"{{MediaTypes.OciManifest}}","digest":"{{Child1}}","size":9007199254740993,
               "artifactType":"application/vnd.example.sig","annotations":{"a":"b"},"urls":["https://example.com/x"],
               "platform":{"architecture":"arm64","os":"linux","variant":"v8"} }]}
            """;
        var d = Assert.Single(Parse(json).Manifests);
        Assert.Equal(9007199254740993L, d.Size);
        Assert.Equal("application/vnd.example.sig", d.ArtifactType);
        Assert.Equal("b", d.Annotations!["a"]);
        Assert.Equal(["https://example.com/x"], d.Urls!);
        Assert.Equal("v8", d.Platform!.Value.GetProperty("variant").GetString());
    }

    [Theory]
    [InlineData(MediaTypes.DockerForeignLayer)]
    [InlineData("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip")]
    public void RequiredBlobs_excludes_foreign_layers(string foreignType)
    {
        var m = Parse(ForeignLayerJson.Replace(MediaTypes.DockerForeignLayer, foreignType));
        Assert.Equal(2, m.Layers.Count);
        Assert.Equal(foreignType, m.Layers[0].MediaType);
        Assert.Equal([$"https://mcr.microsoft.com/v2/windows/servercore/blobs/{Layer1}"], m.Layers[0].Urls!);
        Assert.Equal([ConfigDigest, Layer2], m.RequiredBlobs.Select(d => d.Digest.ToString()));
    }

    [Fact]
    public void Unknown_fields_are_ignored()
    {
        var json = OciManifestJson.Replace("\"schemaVersion\": 2,", "\"schemaVersion\": 2, \"x-vendor\": {\"nested\": [1, 2, {}]}, \"zzz\": null,");
        Assert.Equal(2, Parse(json).Layers.Count);
    }

    // ---- byte-exactness: whitespace and key order do not matter ----

    public static TheoryData<string, string> Equivalents() => new()
    {
        { OciManifestJson, Minify(OciManifestJson) },
        { OciManifestJson, Reorder(OciManifestJson) },
        { OciManifestJson, Reorder(Minify(OciManifestJson)) },
        { OciManifestJson, "\r\n\t " + OciManifestJson.Replace("\n", "\r\n") + "\n\n" },
        { OciIndexJson, Reorder(OciIndexJson) },
        { DockerManifestJson, Minify(Reorder(DockerManifestJson)) },
        { ArtifactJson, Reorder(ArtifactJson) },
    };

    [Theory]
    [MemberData(nameof(Equivalents))]
    public void Parsing_does_not_depend_on_whitespace_or_key_order(string original, string variant)
    {
        Assert.NotEqual(original, variant);
        var a = Parse(original);
        var b = Parse(variant);
        Assert.Equal(a.MediaType, b.MediaType);
        Assert.Equal(a.ArtifactType, b.ArtifactType);
        Assert.Equal(a.EffectiveArtifactType, b.EffectiveArtifactType);
        Assert.Equal(a.Subject?.Digest, b.Subject?.Digest);
        Assert.Equal(Describe(a.Config), Describe(b.Config));
        Assert.Equal(a.Layers.Select(Describe), b.Layers.Select(Describe));
        Assert.Equal(a.Manifests.Select(Describe), b.Manifests.Select(Describe));
        Assert.Equal(a.RequiredBlobs.Select(Describe), b.RequiredBlobs.Select(Describe));
        Assert.Equal(a.Annotations?.OrderBy(p => p.Key), b.Annotations?.OrderBy(p => p.Key));
    }

    [Fact]
    public void Parsing_does_not_alter_the_input()
    {
        var bytes = Encoding.UTF8.GetBytes(OciManifestJson);
        var copy = bytes.ToArray();
        ManifestParser.Parse(bytes, null);
        Assert.Equal(copy, bytes);
    }

    private static string Describe(Descriptor? d) =>
        d is null ? "-" : $"{d.MediaType}|{d.Digest}|{d.Size}|{d.ArtifactType}|{string.Join(",", d.Urls ?? [])}|{string.Join(",", (d.Annotations ?? new Dictionary<string, string>()).OrderBy(p => p.Key))}";

    private static string Minify(string json) => JsonSerializer.Serialize(JsonDocument.Parse(json).RootElement);

    /// <summary>Re-serialises with every object's keys in reverse order and 4-space indentation.</summary>
    private static string Reorder(string json)
    {
        using var doc = JsonDocument.Parse(json);
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, IndentSize = 4 }))
        {
            Write(doc.RootElement, writer);
        }
        return Encoding.UTF8.GetString(stream.ToArray());

        static void Write(JsonElement e, Utf8JsonWriter w)
        {
            switch (e.ValueKind)
            {
                case JsonValueKind.Object:
                    w.WriteStartObject();
                    foreach (var p in e.EnumerateObject().Reverse()) { w.WritePropertyName(p.Name); Write(p.Value, w); }
                    w.WriteEndObject();
                    break;
                case JsonValueKind.Array:
                    w.WriteStartArray();
                    foreach (var item in e.EnumerateArray()) Write(item, w);
                    w.WriteEndArray();
                    break;
                default:
                    e.WriteTo(w);
                    break;
            }
        }
    }

    // ---- rejections ----

    private static string OciWith(string configJson = $$"""{"mediaType":"{{MediaTypes.OciConfig}}","digest":"{{ConfigDigest}}","size":1}""", string layersJson = "[]", string extra = "") =>
        $$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciManifest}}","config":{{configJson}},"layers":{{layersJson}}{{extra}}}""";

    private static string Layer(string fields) => "[" + fields + "]";

    public static TheoryData<string, string?> Rejected() => new()
    {
        // not JSON
        { "", null },
        { " ", null },
        { "not json", null },
        { "{", null },
        { "{\"schemaVersion\":2,", null },
        { "{'schemaVersion':2}", null },
        { "{\"schemaVersion\":2} trailing", null },
        { "{\"schemaVersion\":2,}", null },
        { "/* comment */ {\"schemaVersion\":2}", null },
        // not an object
        { "[]", null },
        { "[{\"schemaVersion\":2}]", null },
        { "null", null },
        { "2", null },
        { "\"manifest\"", null },
        { "true", null },
        // schemaVersion
        { OciManifestJson.Replace("\"schemaVersion\": 2,", ""), null },
        { OciManifestJson.Replace("\"schemaVersion\": 2,", ""), MediaTypes.OciManifest },
        { OciManifestJson.Replace("\"schemaVersion\": 2", "\"schemaVersion\": 3"), null },
        { OciManifestJson.Replace("\"schemaVersion\": 2", "\"schemaVersion\": 0"), null },
        { OciManifestJson.Replace("\"schemaVersion\": 2", "\"schemaVersion\": -2"), null },
        { OciManifestJson.Replace("\"schemaVersion\": 2", "\"schemaVersion\": \"2\""), null },
        { OciManifestJson.Replace("\"schemaVersion\": 2", "\"schemaVersion\": 2.5"), null },
        { OciManifestJson.Replace("\"schemaVersion\": 2", "\"schemaVersion\": null"), null },
        { OciManifestJson.Replace("\"schemaVersion\": 2", "\"schemaVersion\": 4294967298"), null },
        { "{\"schemaVersion\":2}", null },
        { "{}", null },
        // schema 1
        { Schema1Json, null },
        { Schema1Json, MediaTypes.DockerSchema1Signed },
        { Schema1Json, MediaTypes.DockerSchema1 },
        { DockerManifestJson, MediaTypes.DockerSchema1Signed },
        { OciManifestJson.Replace(MediaTypes.OciManifest, MediaTypes.DockerSchema1Signed), null },
        { OciManifestJson.Replace(MediaTypes.OciManifest, MediaTypes.DockerSchema1), null },
        // Content-Type vs mediaType field
        { OciManifestJson, MediaTypes.OciIndex },
        { OciManifestJson, MediaTypes.DockerManifest },
        { OciIndexJson, MediaTypes.OciManifest },
        { OciIndexJson, MediaTypes.DockerManifestList },
        { DockerManifestJson, MediaTypes.OciManifest },
        { DockerManifestListJson, MediaTypes.OciIndex },
        { OciManifestNoMediaTypeJson, MediaTypes.OciIndex },          // header says index, body has config+layers
        { OciManifestNoMediaTypeJson, MediaTypes.DockerManifestList },
        // Docker types need the mediaType field
        { DockerManifestJson.Replace($"\"mediaType\": \"{MediaTypes.DockerManifest}\",", ""), MediaTypes.DockerManifest },
        { DockerManifestListJson.Replace($"\"mediaType\": \"{MediaTypes.DockerManifestList}\",", ""), MediaTypes.DockerManifestList },
        { OciManifestNoMediaTypeJson, MediaTypes.DockerManifest },
        // unknown / malformed mediaType field
        { OciManifestJson.Replace(MediaTypes.OciManifest, "application/vnd.example.unknown+json"), null },
        { OciManifestJson.Replace(MediaTypes.OciManifest, "application/json"), null },
        { OciManifestJson.Replace(MediaTypes.OciManifest, "APPLICATION/VND.OCI.IMAGE.MANIFEST.V1+JSON"), null },
        { OciManifestJson.Replace(MediaTypes.OciManifest, MediaTypes.OciConfig), null },
        { OciManifestJson.Replace(MediaTypes.OciManifest, ""), null },
        { OciManifestJson.Replace($"\"{MediaTypes.OciManifest}\"", "2"), null },
        { OciManifestJson.Replace($"\"{MediaTypes.OciManifest}\"", "{}"), null },
        // ambiguous / wrong shape
        { OciIndexJson.Replace("\"manifests\"", "\"layers\": [], \"manifests\""), null },
        { OciIndexJson.Replace("\"manifests\"", $$"""  "config": {"mediaType":"{{MediaTypes.OciConfig}}","digest":"{{ConfigDigest}}","size":1}, "manifests" """), null },
        { DockerManifestListJson.Replace("\"manifests\"", "\"layers\": [], \"manifests\""), null },
        { OciManifestJson.Replace("\"layers\"", "\"manifests\": [], \"layers\""), null },
        { OciManifestNoMediaTypeJson.Replace("\"layers\"", "\"manifests\": [], \"layers\""), null },
        { DockerManifestJson.Replace("\"layers\"", "\"manifests\": [], \"layers\""), null },
        { $$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciIndex}}"}""", null },
        { $$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciIndex}}","manifests":null}""", null },
        { $$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciIndex}}","manifests":{} }""", null },
        { $$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciIndex}}","manifests":[null]}""", null },
        { $$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciIndex}}","manifests":["{{Child1}}"]}""", null },
        { DockerManifestListJson.Replace($"\"mediaType\": \"{MediaTypes.DockerManifest}\"", $"\"mediaType\": \"{DockerLayer}\""), null },
        // missing config / layers
        { $$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciManifest}}","layers":[]}""", null },
        { $$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.DockerManifest}}","layers":[]}""", null },
        { $$"""{"schemaVersion":2,"layers":[]}""", MediaTypes.OciManifest },
        { OciWith(configJson: "null"), null },
        { OciWith(configJson: "[]"), null },
        { OciWith(configJson: "\"" + ConfigDigest + "\""), null },
        { $$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciManifest}}","config":{"mediaType":"{{MediaTypes.OciConfig}}","digest":"{{ConfigDigest}}","size":1} }""", null },
        { OciWith(layersJson: "null"), null },
        { OciWith(layersJson: "{}"), null },
        { OciWith(layersJson: "[null]"), null },
        // bad descriptor digest
        { OciWith(configJson: $$"""{"mediaType":"{{MediaTypes.OciConfig}}","size":1}"""), null },
        { OciWith(configJson: $$"""{"mediaType":"{{MediaTypes.OciConfig}}","digest":null,"size":1}"""), null },
        { OciWith(configJson: $$"""{"mediaType":"{{MediaTypes.OciConfig}}","digest":"","size":1}"""), null },
        { OciWith(configJson: $$"""{"mediaType":"{{MediaTypes.OciConfig}}","digest":"sha256:../../etc","size":1}"""), null },
        { OciWith(configJson: $$"""{"mediaType":"{{MediaTypes.OciConfig}}","digest":"{{ConfigDigest.ToUpperInvariant()}}","size":1}"""), null },
        { OciWith(layersJson: Layer($$"""{"mediaType":"{{OciLayer}}","digest":"md5:d41d8cd98f00b204e9800998ecf8427e","size":1}""")), null },
        { OciWith(layersJson: Layer($$"""{"mediaType":"{{OciLayer}}","digest":"{{Layer1[..^1]}}","size":1}""")), null },
        { OciWith(layersJson: Layer($$"""{"mediaType":"{{OciLayer}}","digest":42,"size":1}""")), null },
        { OciWith(extra: $$""","subject":{"mediaType":"{{MediaTypes.OciManifest}}","digest":"sha256:abc","size":1}"""), null },
        { $$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciIndex}}","manifests":[{"mediaType":"{{MediaTypes.OciManifest}}","digest":"sha256:/abc","size":1}]}""", null },
        // bad descriptor mediaType
        { OciWith(configJson: $$"""{"digest":"{{ConfigDigest}}","size":1}"""), null },
        { OciWith(configJson: $$"""{"mediaType":"","digest":"{{ConfigDigest}}","size":1}"""), null },
        { OciWith(configJson: $$"""{"mediaType":7,"digest":"{{ConfigDigest}}","size":1}"""), null },
        // bad size
        { OciWith(configJson: $$"""{"mediaType":"{{MediaTypes.OciConfig}}","digest":"{{ConfigDigest}}"}"""), null },
        { OciWith(configJson: $$"""{"mediaType":"{{MediaTypes.OciConfig}}","digest":"{{ConfigDigest}}","size":-1}"""), null },
        { OciWith(layersJson: Layer($$"""{"mediaType":"{{OciLayer}}","digest":"{{Layer1}}","size":-9223372036854775808}""")), null },
        { OciWith(layersJson: Layer($$"""{"mediaType":"{{OciLayer}}","digest":"{{Layer1}}","size":"10"}""")), null },
        { OciWith(layersJson: Layer($$"""{"mediaType":"{{OciLayer}}","digest":"{{Layer1}}","size":1.5}""")), null },
        { OciWith(layersJson: Layer($$"""{"mediaType":"{{OciLayer}}","digest":"{{Layer1}}","size":null}""")), null },
        { OciWith(layersJson: Layer($$"""{"mediaType":"{{OciLayer}}","digest":"{{Layer1}}","size":true}""")), null },
        { OciWith(layersJson: Layer($$"""{"mediaType":"{{OciLayer}}","digest":"{{Layer1}}","size":99999999999999999999}""")), null },
        { OciWith(extra: $$""","subject":{"mediaType":"{{MediaTypes.OciManifest}}","digest":"{{SubjectDigest}}","size":-5}"""), null },
        { $$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciIndex}}","manifests":[{"mediaType":"{{MediaTypes.OciManifest}}","digest":"{{Child1}}","size":"7"}]}""", null },
        // annotations
        { OciWith(extra: ""","annotations":{"a":1}"""), null },
        { OciWith(extra: ""","annotations":{"a":"ok","b":true}"""), null },
        { OciWith(extra: ""","annotations":{"a":null}"""), null },
        { OciWith(extra: ""","annotations":{"a":{"nested":"x"}}"""), null },
        { OciWith(extra: ""","annotations":{"a":["x"]}"""), null },
        { OciWith(extra: ""","annotations":["a","b"]"""), null },
        { OciWith(extra: ""","annotations":"a=b" """), null },
        { OciWith(layersJson: Layer($$"""{"mediaType":"{{OciLayer}}","digest":"{{Layer1}}","size":1,"annotations":{"k":42} }""")), null },
        { $$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciIndex}}","manifests":[],"annotations":{"k":false} }""", null },
        // other typed fields
        { OciWith(extra: ""","artifactType":42"""), null },
        { OciWith(extra: ""","subject":"nope" """), null },
        { OciWith(extra: ""","subject":[]"""), null },
        { OciWith(layersJson: Layer($$"""{"mediaType":"{{OciLayer}}","digest":"{{Layer1}}","size":1,"urls":[1]}""")), null },
        { OciWith(layersJson: Layer($$"""{"mediaType":"{{OciLayer}}","digest":"{{Layer1}}","size":1,"artifactType":{} }""")), null },
    };

    private static readonly string Schema1Json = $$"""
        {
          "schemaVersion": 1,
          "name": "library/hello",
          "tag": "latest",
          "architecture": "amd64",
          "fsLayers": [ { "blobSum": "{{Layer1}}" } ],
          "history": [ { "v1Compatibility": "{}" } ],
          "signatures": []
        }
        """;

    [Theory]
    [MemberData(nameof(Rejected))]
    public void Invalid_manifests_are_rejected_with_MANIFEST_INVALID(string json, string? contentType)
    {
        Rejects(json, contentType);
    }

    [Fact]
    public void Schema1_rejection_says_so()
    {
        var ex = Rejects(Schema1Json);
        Assert.Contains("schema 1", ex.Message, StringComparison.OrdinalIgnoreCase);
        Assert.NotNull(ex.Detail);
    }

    [Fact]
    public void Mismatch_rejection_names_both_types()
    {
        var ex = Rejects(OciManifestJson, MediaTypes.OciIndex);
        Assert.Contains(MediaTypes.OciIndex, ex.Message);
        Assert.Contains(MediaTypes.OciManifest, ex.Message);
    }

    [Fact]
    public void Bad_digest_rejection_names_the_field()
    {
        var ex = Rejects(OciWith(layersJson: "[" + $$"""{"mediaType":"{{OciLayer}}","digest":"{{Layer1}}","size":1},{"mediaType":"{{OciLayer}}","digest":"sha256:nope","size":1}""" + "]"));
        Assert.Contains("layers[1].digest", ex.Message);
    }

    public static TheoryData<string, string> InvalidUtf8() => new()
    {
        // {prefix}{invalid bytes}{suffix} around an annotation value, an annotation key, a media type, an unused field
        { OciWith(extra: ",\"annotations\":{\"a\":\"x"), "\"}}" },
        { OciWith(extra: ",\"annotations\":{\"x"), "\":\"v\"}}" },
        { "{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OciIndex + "\",\"manifests\":[{\"mediaType\":\"x", "\",\"digest\":\"" + Child1 + "\",\"size\":1}]}" },
        { "{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OciIndex + "\",\"x-unused\":\"x", "\",\"manifests\":[]}" },
    };

    [Theory]
    [MemberData(nameof(InvalidUtf8))]
    public void Invalid_utf8_is_rejected(string prefix, string suffix)
    {
        foreach (var bad in new[] { new byte[] { 0xC3, 0x28 }, [0xFF], [0xED, 0xA0, 0x80] /* encoded surrogate */, [0xC0, 0xAF] /* overlong '/' */ })
        {
            var bytes = Encoding.UTF8.GetBytes(prefix).Concat(bad).Concat(Encoding.UTF8.GetBytes(suffix)).ToArray();
            var ex = Assert.Throws<RegistryException>(() => ManifestParser.Parse(bytes, null));
            Assert.Same(ErrorCode.ManifestInvalid, ex.Code);
        }
    }

    [Theory]
    [InlineData("""{"a":"\ud800"}""")]
    [InlineData("""{"\udc00":"v"}""")]
    [InlineData("""{"a":"x\udfffy"}""")]
    public void Lone_surrogate_escapes_in_strings_are_rejected(string annotations)
    {
        Rejects(OciWith(extra: ",\"annotations\":" + annotations));
    }

    [Fact]
    public void Escaped_strings_are_unescaped()
    {
        var m = Parse(OciWith(extra: ""","annotations":{"k\u00e9":"\ud83d\ude00 \"q\" \/ \\"}"""));
        Assert.Equal("😀 \"q\" / \\", m.Annotations!["ké"]);
    }

    [Fact]
    public void Deeply_nested_json_is_rejected_not_crashing()
    {
        var json = OciWith(extra: ",\"x\":" + new string('[', 10_000) + new string(']', 10_000));
        Rejects(json);
    }

    /// <summary>Pins today's behaviour: on duplicate keys the last one wins, as in Go's encoding/json (containerd,
    /// CNCF Distribution), so Berth and Go clients agree on what a manifest references. Rejecting duplicates
    /// would also be safe; change this test deliberately if that is chosen.</summary>
    [Fact]
    public void Duplicate_keys_last_one_wins_like_go()
    {
        var json = $$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciManifest}}","config":{"mediaType":"{{MediaTypes.OciConfig}}","digest":"{{ConfigDigest}}","size":1},"layers":[{"mediaType":"{{OciLayer}}","digest":"{{Layer1}}","size":1}],"layers":[{"mediaType":"{{OciLayer}}","digest":"{{Layer2}}","size":1}]}""";
        var m = Parse(json);
        Assert.Equal(Layer2, Assert.Single(m.Layers).Digest.ToString());
        var dupType = $$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciIndex}}","mediaType":"{{MediaTypes.OciManifest}}","config":{"mediaType":"{{MediaTypes.OciConfig}}","digest":"{{ConfigDigest}}","size":1},"layers":[]}""";
        Assert.Equal(MediaTypes.OciManifest, Parse(dupType).MediaType);
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("", null)]
    [InlineData("   ", null)]
    [InlineData(";charset=utf-8", null)]
    [InlineData(MediaTypes.OciManifest, MediaTypes.OciManifest)]
    [InlineData("Application/VND.oci.image.manifest.v1+json", MediaTypes.OciManifest)]
    [InlineData(" application/vnd.oci.image.index.v1+json ; charset=utf-8", MediaTypes.OciIndex)]
    [InlineData("application/json; charset=utf-8", "application/json")]
    public void NormalizeContentType(string? input, string? expected)
    {
        Assert.Equal(expected, ManifestParser.NormalizeContentType(input));
    }

    [Fact]
    public void ParseDescriptor_parses_a_standalone_descriptor()
    {
        using var doc = JsonDocument.Parse($$"""{"mediaType":"{{OciLayer}}","digest":"{{Layer1}}","size":5}""");
        var d = ManifestParser.ParseDescriptor(doc.RootElement, "blob");
        Assert.Equal(new Descriptor(OciLayer, Digest.Parse(Layer1), 5), d);
    }

    [Fact]
    public void ParseDescriptor_rejects_non_objects()
    {
        using var doc = JsonDocument.Parse("[]");
        var ex = Assert.Throws<RegistryException>(() => ManifestParser.ParseDescriptor(doc.RootElement, "thing"));
        Assert.Same(ErrorCode.ManifestInvalid, ex.Code);
        Assert.Contains("thing", ex.Message);
    }
}
