using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Berth.EndToEnd.Tests.Infrastructure;

/// <summary>A descriptor as found in an index or manifest (mediaType, digest, size, optional platform).</summary>
public sealed record OciDescriptor(string MediaType, string Digest, long Size, string? Architecture = null, string? Os = null);

/// <summary>Media types used by the tests.</summary>
public static class OciMediaTypes
{
    /// <summary>OCI image manifest.</summary>
    public const string Manifest = "application/vnd.oci.image.manifest.v1+json";

    /// <summary>OCI image index.</summary>
    public const string Index = "application/vnd.oci.image.index.v1+json";
}

/// <summary>Reads (and for indexes, writes) an OCI image layout directory (index.json + blobs/sha256/…).</summary>
public sealed class OciLayout(string path)
{
    /// <summary>The layout directory.</summary>
    public string Path { get; } = path;

    /// <summary>The file holding blob <paramref name="digest"/>.</summary>
    public string BlobPath(string digest)
    {
        var (algorithm, hex) = SplitDigest(digest);
        return System.IO.Path.Combine(Path, "blobs", algorithm, hex);
    }

    /// <summary>The bytes of blob <paramref name="digest"/>.</summary>
    public byte[] ReadBlob(string digest) => File.ReadAllBytes(BlobPath(digest));

    /// <summary>The descriptor that index.json names <paramref name="tag"/> (annotation org.opencontainers.image.ref.name).</summary>
    public OciDescriptor ResolveTag(string tag)
    {
        var index = JsonNode.Parse(File.ReadAllText(System.IO.Path.Combine(Path, "index.json")))!;
        foreach (var entry in index["manifests"]!.AsArray())
        {
            if (entry!["annotations"]?["org.opencontainers.image.ref.name"]?.GetValue<string>() == tag)
            {
                return ParseDescriptor(entry);
            }
        }
        throw new KeyNotFoundException($"tag {tag} not in {Path}/index.json");
    }

    /// <summary>The config and layer descriptors of the image manifest blob <paramref name="digest"/>.</summary>
    public (OciDescriptor Config, IReadOnlyList<OciDescriptor> Layers) ReadManifest(string digest) =>
        ParseManifest(ReadBlob(digest));

    /// <summary>The child manifests of the image index blob <paramref name="digest"/>.</summary>
    public IReadOnlyList<OciDescriptor> ReadIndex(string digest) => ParseIndex(ReadBlob(digest));

    /// <summary>
    /// Writes a new image index blob listing <paramref name="manifests"/> (with their platforms) and
    /// tags it <paramref name="tag"/> in index.json. Returns the index descriptor.
    /// </summary>
    public OciDescriptor AddIndex(string tag, IEnumerable<OciDescriptor> manifests)
    {
        var children = new JsonArray();
        foreach (var manifest in manifests)
        {
            children.Add(new JsonObject
            {
                ["mediaType"] = manifest.MediaType,
                ["digest"] = manifest.Digest,
                ["size"] = manifest.Size,
                ["platform"] = new JsonObject
                {
                    ["architecture"] = manifest.Architecture ?? throw new ArgumentException("platform architecture missing"),
                    ["os"] = manifest.Os ?? "linux",
                },
            });
        }
        var indexJson = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = OciMediaTypes.Index,
            ["manifests"] = children,
        };
        var bytes = Encoding.UTF8.GetBytes(indexJson.ToJsonString());
        var digest = Digests.Sha256(bytes);
        File.WriteAllBytes(BlobPath(digest), bytes);

        var layoutIndexPath = System.IO.Path.Combine(Path, "index.json");
        var layoutIndex = JsonNode.Parse(File.ReadAllText(layoutIndexPath))!;
        layoutIndex["manifests"]!.AsArray().Add(new JsonObject
        {
            ["mediaType"] = OciMediaTypes.Index,
            ["digest"] = digest,
            ["size"] = bytes.Length,
            ["annotations"] = new JsonObject { ["org.opencontainers.image.ref.name"] = tag },
        });
        File.WriteAllText(layoutIndexPath, layoutIndex.ToJsonString());
        return new OciDescriptor(OciMediaTypes.Index, digest, bytes.Length);
    }

    /// <summary>Parses an image manifest's config and layers.</summary>
    public static (OciDescriptor Config, IReadOnlyList<OciDescriptor> Layers) ParseManifest(byte[] manifest)
    {
        var node = JsonNode.Parse(manifest)!;
        var layers = node["layers"]!.AsArray().Select(l => ParseDescriptor(l!)).ToList();
        return (ParseDescriptor(node["config"]!), layers);
    }

    /// <summary>Parses an image index's child manifests.</summary>
    public static IReadOnlyList<OciDescriptor> ParseIndex(byte[] index) =>
        JsonNode.Parse(index)!["manifests"]!.AsArray().Select(m => ParseDescriptor(m!)).ToList();

    private static OciDescriptor ParseDescriptor(JsonNode node) => new(
        node["mediaType"]?.GetValue<string>() ?? "",
        node["digest"]!.GetValue<string>(),
        node["size"]!.GetValue<long>(),
        node["platform"]?["architecture"]?.GetValue<string>(),
        node["platform"]?["os"]?.GetValue<string>());

    private static (string Algorithm, string Hex) SplitDigest(string digest)
    {
        var colon = digest.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || digest.AsSpan(colon + 1).ContainsAny("/\\."))
        {
            throw new ArgumentException($"not a digest: {digest}", nameof(digest));
        }
        return (digest[..colon], digest[(colon + 1)..]);
    }
}

/// <summary>SHA-256 digests in the <c>sha256:&lt;hex&gt;</c> form.</summary>
public static class Digests
{
    /// <summary>The digest of <paramref name="bytes"/>.</summary>
    public static string Sha256(byte[] bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>The digest of a file's content, streamed.</summary>
    public static string Sha256OfFile(string path)
    {
        using var stream = File.OpenRead(path);
        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}

/// <summary>Picks real files of this machine to put into image layers.</summary>
public static class RealFiles
{
    private static readonly string[] Sources = ["/usr/lib/x86_64-linux-gnu", "/usr/lib", "/usr/share"];

    /// <summary>
    /// Copies regular files (no symlinks, none above 8 MiB so the layer has many entries) from
    /// /usr/lib/x86_64-linux-gnu (then /usr/lib, /usr/share), in ordinal path order — deterministic
    /// on one machine — into <paramref name="destination"/> (keeping relative paths) until at least
    /// <paramref name="minimumBytes"/> are copied. Returns the total bytes and file count.
    /// </summary>
    public static (long Bytes, int Files) CopyAtLeast(string destination, long minimumBytes)
    {
        const long maxFileSize = 8L * 1024 * 1024;
        var options = new EnumerationOptions
        {
            RecurseSubdirectories = true,
            IgnoreInaccessible = true,
            AttributesToSkip = FileAttributes.ReparsePoint,
            ReturnSpecialDirectories = false,
        };
        long total = 0;
        var count = 0;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var source in Sources.Where(System.IO.Directory.Exists))
        {
            var files = System.IO.Directory.EnumerateFiles(source, "*", options)
                .Order(StringComparer.Ordinal);
            foreach (var file in files)
            {
                if (!seen.Add(file))
                {
                    continue;
                }
                var info = new FileInfo(file);
                if (info.LinkTarget is not null || info.Length == 0 || info.Length > maxFileSize)
                {
                    continue;
                }
                var target = Path.Combine(destination, file.TrimStart('/'));
                System.IO.Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                try
                {
                    File.Copy(file, target);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    continue;
                }
                total += info.Length;
                count++;
                if (total >= minimumBytes)
                {
                    return (total, count);
                }
            }
        }
        throw new InvalidOperationException($"only {total} bytes of real files found under {string.Join(", ", Sources)}");
    }
}
