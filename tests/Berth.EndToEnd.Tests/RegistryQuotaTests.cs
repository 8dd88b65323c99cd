using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// Namespace quotas with a real client (docs/quotas.md): the usage shown by <c>GET /api/v4/projects/:id?statistics=true</c>
/// and <c>GET /api/v4/namespaces/:id</c> is the sum of the unique blob sizes skopeo pushed; over the quota set with
/// <c>PUT /api/v4/namespaces/:id</c>, <c>skopeo copy</c> fails with DENIED and a message naming the quota and the usage.
/// </summary>
[Collection(RegistryCollection.Name)]
public sealed class RegistryQuotaTests(RegistryServerFixture server, ITestOutputHelper output) : IDisposable
{
    private readonly ContainerTools _tools = new(server, output);
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..8];

    private string RootCredentials => $"{server.Username}:{server.Password}";

    public void Dispose() => _tools.Dispose();

    [BerthOnlyFact("usage, quotas and /api/v4 are Berth's")]
    public async Task Skopeo_push_over_the_namespace_quota_is_denied_with_the_quota_and_the_usage()
    {
        var group = await server.CreateGroupAsync($"quota-{_suffix}");
        var project = await server.CreateProjectAsync(group, "app");
        var namespaceId = (await server.ApiRequestAsync(HttpMethod.Get, $"namespaces/{Uri.EscapeDataString(group)}"))["id"]!.GetValue<long>();

        var (layout, _) = await TestImages.PushWithSkopeoAsync(_tools, $"{server.Host}/{project}/one:v1", $"first image {_suffix}\n", RootCredentials);
        // The same image again under another repository of the project: deduplicated, the usage does not change.
        await _tools.SkopeoAsync(["copy", "--dest-tls-verify=false", "--dest-creds", RootCredentials, $"oci:{layout.Path}:v1", $"docker://{server.Host}/{project}/two:v1"]);

        long expected = UniqueBlobBytes(layout);
        var statistics = await server.ApiRequestAsync(HttpMethod.Get, $"projects/{Uri.EscapeDataString(project)}?statistics=true");
        Assert.Equal(expected, statistics["statistics"]!["container_registry_size"]!.GetValue<long>());
        var groupStatistics = await server.ApiRequestAsync(HttpMethod.Get, $"groups/{Uri.EscapeDataString(group)}?statistics=true");
        Assert.Equal(expected, groupStatistics["statistics"]!["container_registry_size"]!.GetValue<long>());

        long quota = expected + 16;
        var updated = await server.ApiRequestAsync(HttpMethod.Put, $"namespaces/{namespaceId}", new { container_registry_quota = quota });
        Assert.Equal(quota, updated["container_registry_quota"]!.GetValue<long>());
        Assert.Equal(expected, updated["container_registry_size"]!.GetValue<long>());

        var bigger = await TestImages.BuildLayoutAsync(_tools, $"second image {_suffix} " + string.Concat(Enumerable.Range(0, 100).Select(_ => Guid.NewGuid().ToString("N"))) + "\n");
        var push = await _tools.SkopeoUncheckedAsync(["copy", "--dest-tls-verify=false", "--dest-creds", RootCredentials, $"oci:{bigger.Path}:v1", $"docker://{server.Host}/{project}/three:v1"]);
        Assert.False(push.Succeeded, "a push over the quota succeeded\n" + push.Describe());
        Assert.Contains("denied", push.StandardError, StringComparison.OrdinalIgnoreCase);
        Assert.Contains($"storage quota of namespace '{group}' exceeded: quota", push.StandardError);
        Assert.Matches($"quota {Human(quota)}, usage {Human(expected)}, this blob adds ", push.StandardError);

        // Nothing of the refused image counts; with the quota removed the same push goes through.
        var after = await server.ApiRequestAsync(HttpMethod.Get, $"namespaces/{namespaceId}");
        Assert.Equal(expected, after["container_registry_size"]!.GetValue<long>());
        await server.ApiRequestAsync(HttpMethod.Put, $"namespaces/{namespaceId}", new { container_registry_quota = 0 });
        await _tools.SkopeoAsync(["copy", "--dest-tls-verify=false", "--dest-creds", RootCredentials, $"oci:{bigger.Path}:v1", $"docker://{server.Host}/{project}/three:v1"]);
        Assert.Null((await server.ApiRequestAsync(HttpMethod.Get, $"namespaces/{namespaceId}"))["container_registry_quota"]);
    }

    /// <summary>A pattern for how Berth writes a byte count: <c>418 B</c>, or <c>1.73 KiB (1771 bytes)</c> from 1 KiB up.</summary>
    private static string Human(long bytes) => bytes < 1024 ? $"{bytes} B" : $@"[0-9.]+ [KMG]iB \({bytes} bytes\)";

    /// <summary>Config and layers of the layout's <c>v1</c> manifest, each counted once (what the registry stores).</summary>
    private static long UniqueBlobBytes(OciLayout layout)
    {
        var (config, layers) = layout.ReadManifest(layout.ResolveTag("v1").Digest);
        return layers.Append(config).DistinctBy(d => d.Digest).Sum(d => d.Size);
    }
}
