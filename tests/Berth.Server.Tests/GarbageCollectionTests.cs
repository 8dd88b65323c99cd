using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Berth.Server.Registry;
using TestRegistry = Berth.Server.Tests.Infrastructure.Registry;
using Berth.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Berth.Server.Tests;

/// <summary>
/// Online garbage collection (docs/garbage-collection.md) on the embedded defaults (SQLite, filesystem): deletes only
/// after the review delay (a fake clock), keeps shared blobs, children of indexes and referrers of kept manifests,
/// lets a push rescue a queued blob, and never breaks an image pushed while it runs.
/// </summary>
public sealed class GarbageCollectionTests : IDisposable
{
    private static readonly TimeSpan Delay = TimeSpan.FromHours(24);
    private readonly TestClock _clock = new();
    private readonly BerthFactory _factory;
    private readonly HttpClient _client;

    public GarbageCollectionTests()
    {
        _factory = new BerthFactory { Clock = _clock, Settings = GcSettings };
        _client = _factory.CreateRegistryClient();
    }

    /// <summary>The background worker is off: the tests run passes themselves.</summary>
    internal static readonly Dictionary<string, string> GcSettings = new() { ["Registry:GarbageCollection:Enabled"] = "false" };

    public void Dispose()
    {
        _client.Dispose();
        _factory.Dispose();
    }

    [Fact]
    public Task Deleted_image_loses_its_unique_blobs_after_the_delay_and_shared_ones_stay() =>
        DeletedImageScenarioAsync(_factory, _client, _clock);

    /// <summary>The core scenario, shared with the PostgreSQL test.</summary>
    internal static async Task DeletedImageScenarioAsync(BerthFactory factory, HttpClient client, TestClock clock)
    {
        var repo = TestRegistry.NewRepo("gc");
        var shared = await client.PushBlobAsync(repo, TestRegistry.RandomBytes(2000));
        var configA = await client.PushBlobAsync(repo, Encoding.UTF8.GetBytes("{\"architecture\":\"amd64\",\"os\":\"linux\",\"a\":1}"), Media.OciConfig);
        var uniqueA = await client.PushBlobAsync(repo, TestRegistry.RandomBytes(3000));
        var configB = await client.PushBlobAsync(repo, Encoding.UTF8.GetBytes("{\"architecture\":\"amd64\",\"os\":\"linux\",\"b\":2}"), Media.OciConfig);
        var uniqueB = await client.PushBlobAsync(repo, TestRegistry.RandomBytes(4000));
        var a = await client.PushManifestAsync(repo, "a", Manifests.Image(configA, [shared, uniqueA]), Media.OciManifest);
        var b = await client.PushManifestAsync(repo, "b", Manifests.Image(configB, [shared, uniqueB]), Media.OciManifest);

        using (var delete = await client.DeleteAsync($"/v2/{repo}/manifests/{a.Digest}"))
            Assert.Equal(HttpStatusCode.Accepted, delete.StatusCode);

        var first = await RunGcAsync(factory);
        Assert.Empty(first.Deleted);
        Assert.Equal(new[] { configA.Digest, uniqueA.Digest }.Order(), first.Queued.Where(i => i.Kind == GcItemKind.Blob).Select(i => i.Digest).Order());

        clock.Advance(Delay - TimeSpan.FromHours(1));
        Assert.Empty((await RunGcAsync(factory)).Deleted);
        Assert.True(File.Exists(factory.BlobFile(uniqueA.Digest)), "deleted before the review delay");

        clock.Advance(TimeSpan.FromHours(2));
        var due = await RunGcAsync(factory);
        Assert.Equal(new[] { configA.Digest, uniqueA.Digest }.Order(), due.Deleted.Select(i => i.Digest).Order());
        Assert.Equal(configA.Size + uniqueA.Size, due.DeletedBlobBytes);
        Assert.False(File.Exists(factory.BlobFile(uniqueA.Digest)));
        Assert.False(File.Exists(factory.BlobFile(configA.Digest)));
        foreach (var kept in new[] { shared, configB, uniqueB }) Assert.True(File.Exists(factory.BlobFile(kept.Digest)), $"{kept.Digest} was deleted");
        using (var gone = await client.GetAsync($"/v2/{repo}/blobs/{uniqueA.Digest}"))
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        await AssertPullableAsync(client, repo, "b", b);
    }

    [Fact]
    public async Task Untagged_manifest_goes_after_the_delay_then_its_blobs_after_another()
    {
        var repo = TestRegistry.NewRepo("gc");
        var old = await _client.PushImageAsync(repo, "latest");
        var current = await _client.PushImageAsync(repo, "latest"); // the tag moves: the old manifest is untagged
        var oldBlobs = BlobDigests(old);

        var dry = await RunGcAsync(_factory, dryRun: true);
        var listed = Assert.Single(dry.Queued, i => i.Kind == GcItemKind.Manifest);
        Assert.Equal((repo, old.Digest), (listed.Repository, listed.Digest));
        Assert.StartsWith("untagged", listed.Reason);
        Assert.DoesNotContain((await RunGcAsync(_factory, dryRun: true)).Deleted, i => i.Kind == GcItemKind.Manifest); // a dry run queues nothing

        await RunGcAsync(_factory);
        _clock.Advance(Delay + TimeSpan.FromMinutes(1));
        var dueDry = await RunGcAsync(_factory, dryRun: true);
        Assert.Contains(dueDry.Deleted, i => i.Digest == old.Digest);
        var pass = await RunGcAsync(_factory);
        Assert.Equal(old.Digest, Assert.Single(pass.Deleted, i => i.Kind == GcItemKind.Manifest).Digest);
        Assert.Equal(oldBlobs.Order(), pass.Queued.Where(i => i.Kind == GcItemKind.Blob).Select(i => i.Digest).Order());
        using (var gone = await _client.GetAsync($"/v2/{repo}/manifests/{old.Digest}"))
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);

        _clock.Advance(Delay + TimeSpan.FromMinutes(1));
        var blobsPass = await RunGcAsync(_factory);
        Assert.Equal(oldBlobs.Order(), blobsPass.Deleted.Select(i => i.Digest).Order());
        foreach (var d in oldBlobs) Assert.False(File.Exists(_factory.BlobFile(d)));
        await AssertPullableAsync(_client, repo, "latest", current);
    }

    [Fact]
    public async Task A_push_that_references_a_queued_blob_rescues_it()
    {
        var repo = TestRegistry.NewRepo("gc");
        var layer = await _client.PushBlobAsync(repo, TestRegistry.RandomBytes(1500));
        var config = await _client.PushBlobAsync(repo, Encoding.UTF8.GetBytes("{\"os\":\"linux\",\"architecture\":\"arm64\"}"), Media.OciConfig);
        var queued = await RunGcAsync(_factory);
        Assert.Contains(queued.Queued, i => i.Digest == layer.Digest);

        _clock.Advance(Delay + TimeSpan.FromHours(1)); // due, but not yet swept
        var image = await _client.PushManifestAsync(repo, "v1", Manifests.Image(config, [layer]), Media.OciManifest);
        var pass = await RunGcAsync(_factory);
        Assert.DoesNotContain(pass.Deleted, i => i.Digest == layer.Digest || i.Digest == config.Digest);
        Assert.True(File.Exists(_factory.BlobFile(layer.Digest)));
        await AssertPullableAsync(_client, repo, "v1", image);

        // An upload of a blob that is queued and due also rescues it (the dedup path keeps the stored copy).
        var loose = await _client.PushBlobAsync(repo, TestRegistry.RandomBytes(700));
        await RunGcAsync(_factory);
        _clock.Advance(Delay + TimeSpan.FromHours(1));
        var content = await (await _client.GetAsync($"/v2/{repo}/blobs/{loose.Digest}")).Content.ReadAsByteArrayAsync();
        await _client.PushBlobAsync(TestRegistry.NewRepo("gc"), content);
        Assert.DoesNotContain((await RunGcAsync(_factory)).Deleted, i => i.Digest == loose.Digest);
        Assert.True(File.Exists(_factory.BlobFile(loose.Digest)));
    }

    [Fact]
    public async Task Index_children_and_referrers_of_kept_manifests_stay_and_go_with_them()
    {
        var repo = TestRegistry.NewRepo("gc");
        var amd = await _client.PushImageAsync(repo, "amd64-tmp");
        var arm = await _client.PushImageAsync(repo, "arm64-tmp");
        var index = await _client.PushManifestAsync(repo, "multi", Manifests.Index([amd.AsRef(), arm.AsRef()]), Media.OciIndex);
        foreach (var tag in new[] { "amd64-tmp", "arm64-tmp" })
            (await _client.DeleteAsync($"/v2/{repo}/manifests/{tag}")).Dispose();
        // A referrer (an SBOM, say) of the index, pushed by digest only: kept because its subject is.
        var emptyConfig = await _client.PushBlobAsync(repo, "{}"u8.ToArray(), Media.OciEmpty);
        var sbomLayer = await _client.PushBlobAsync(repo, TestRegistry.RandomBytes(300));
        var sbomBytes = Manifests.Image(emptyConfig, [sbomLayer], customize: m =>
        {
            m["artifactType"] = "application/spdx+json";
            m["subject"] = new JsonObject { ["mediaType"] = Media.OciIndex, ["digest"] = index.Digest, ["size"] = index.Content.Length };
        });
        var sbom = await _client.PushManifestAsync(repo, TestRegistry.Sha256(sbomBytes), sbomBytes, Media.OciManifest);

        await RunGcAsync(_factory);
        _clock.Advance(Delay + TimeSpan.FromHours(1));
        var kept = await RunGcAsync(_factory);
        Assert.DoesNotContain(kept.Deleted, i => i.Kind == GcItemKind.Manifest);
        foreach (var m in new[] { amd, arm, sbom })
        {
            using var response = await _client.GetAsync($"/v2/{repo}/manifests/{m.Digest}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        (await _client.DeleteAsync($"/v2/{repo}/manifests/multi")).Dispose();
        await RunGcAsync(_factory);
        _clock.Advance(Delay + TimeSpan.FromHours(1));
        var pass = await RunGcAsync(_factory);
        // The index, then (same pass) its children; the SBOM goes with its subject.
        Assert.Equal(new[] { index.Digest, amd.Digest, arm.Digest, sbom.Digest }.Order(),
            pass.Deleted.Where(i => i.Kind == GcItemKind.Manifest).Select(i => i.Digest).Order());
    }

    [Fact]
    public async Task Pushes_that_reuse_blobs_while_gc_runs_stay_pullable()
    {
        var repo = TestRegistry.NewRepo("gcrace");
        var pool = Enumerable.Range(0, 6).Select(_ => TestRegistry.RandomBytes(1024)).ToArray();
        var kept = new List<(string Tag, PushedManifest Manifest)>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(45));
        int rounds = 0, sweeps = 0, collected = 0;

        var gc = Task.Run(async () =>
        {
            // Bounded by the 45 s token and a count; the pause spreads the passes over the whole push loop and leaves a re-upload room to reach its manifest PUT (a pass
            // takes a few milliseconds, so 400 passes back to back could all be over before the pushes are).
            while (!stop.IsCancellationRequested && sweeps < 5000)
            {
                _clock.Advance(Delay + TimeSpan.FromMinutes(1)); // everything queued so far is due
                var report = await RunGcAsync(_factory);
                Interlocked.Add(ref collected, report.Deleted.Count(i => i.Kind == GcItemKind.Blob));
                sweeps++;
                try { await Task.Delay(25, stop.Token); } catch (OperationCanceledException) { }
            }
        });

        var random = new Random(7);
        PushedManifest? previous = null;
        while (rounds < 40 && !stop.IsCancellationRequested)
        {
            rounds++;
            var layers = new List<BlobRef>();
            foreach (var i in Enumerable.Range(0, pool.Length).OrderBy(_ => random.Next()).Take(3))
                layers.Add(await EnsureBlobAsync(repo, pool[i]));
            var config = await EnsureBlobAsync(repo, Encoding.UTF8.GetBytes($"{{\"os\":\"linux\",\"architecture\":\"amd64\",\"round\":{rounds}}}"), Media.OciConfig);
            var manifest = Manifests.Image(config, layers);
            PushedManifest? pushed = null;
            for (int attempt = 0; attempt < 10 && pushed is null; attempt++)
            {
                using var response = await _client.PutManifestAsync(repo, $"r{rounds}", manifest, Media.OciManifest);
                if (response.StatusCode == HttpStatusCode.Created) pushed = new PushedManifest(TestRegistry.Sha256(manifest), manifest, Media.OciManifest);
                else
                {
                    // MANIFEST_BLOB_UNKNOWN: a blob was collected between our HEAD and the manifest (it was unreferenced
                    // and due); upload it again, as clients do.
                    await response.AssertErrorAsync(HttpStatusCode.BadRequest, "MANIFEST_BLOB_UNKNOWN");
                    foreach (var blob in layers.Append(config)) await EnsureBlobAsync(repo, await ContentOfAsync(blob, pool, rounds), blob.MediaType);
                }
            }
            Assert.NotNull(pushed);
            kept.Add(($"r{rounds}", pushed));
            // Keep only every third image: the others' blobs become garbage the collector races for.
            if (previous is not null && rounds % 3 != 1)
            {
                (await _client.DeleteAsync($"/v2/{repo}/manifests/{previous.Digest}")).Dispose();
                kept.RemoveAll(k => k.Manifest.Digest == previous.Digest);
            }
            previous = pushed;
        }
        // Pushes can finish before the collector has reached the garbage they left (a deleted manifest's blobs are
        // only due in a pass after the one that deleted the manifest): let it sweep on, bounded, until it has deleted
        // something, then check that every kept image is still whole.
        var settle = Stopwatch.StartNew();
        while (Volatile.Read(ref collected) == 0 && !gc.IsCompleted && settle.Elapsed < TimeSpan.FromSeconds(15))
            await Task.Delay(50);
        await stop.CancelAsync();
        await gc;

        Assert.True(rounds >= 10, $"only {rounds} rounds ran");
        Assert.True(sweeps >= 3, $"only {sweeps} GC passes ran");
        Assert.True(collected > 0, "the collector never deleted a blob: the test raced for nothing");
        foreach (var (tag, manifest) in kept) await AssertPullableAsync(_client, repo, tag, manifest);
    }

    [Fact]
    public async Task Berth_gc_dry_run_reports_and_changes_nothing_then_gc_deletes()
    {
        var repo = TestRegistry.NewRepo("gc");
        var loose = await _client.PushBlobAsync(repo, TestRegistry.RandomBytes(512));
        var (code, stdout) = await CliAsync("gc", "--dry-run");
        Assert.Equal(0, code);
        Assert.Contains("dry run", stdout);
        Assert.Contains($"queue (due ", stdout);
        Assert.Contains($"blob {loose.Digest}", stdout);
        Assert.Contains("no manifest references it", stdout);

        (code, stdout) = await CliAsync("gc");
        Assert.Equal(0, code);
        Assert.Matches(@"queued 0 manifests and \d+ blobs? for review", stdout);
        Assert.True(File.Exists(_factory.BlobFile(loose.Digest)));
    }

    private async Task<(int Code, string Stdout)> CliAsync(params string[] args)
    {
        var (verb, rest) = CommandLine.Split([.. args, "--data-dir", _factory.DataDir]);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = await Cli.AdminCommands.RunAsync(verb, rest, TextReader.Null, stdout, stderr);
        Assert.True(code == 0, $"berth {string.Join(' ', args)} exited {code}: {stderr}");
        return (code, stdout.ToString());
    }

    private static Task<byte[]> ContentOfAsync(BlobRef blob, byte[][] pool, int round)
    {
        foreach (var content in pool)
            if (TestRegistry.Sha256(content) == blob.Digest) return Task.FromResult(content);
        return Task.FromResult(Encoding.UTF8.GetBytes($"{{\"os\":\"linux\",\"architecture\":\"amd64\",\"round\":{round}}}"));
    }

    /// <summary>HEAD, and upload only when the repository cannot serve the blob: what docker and podman do.</summary>
    private async Task<BlobRef> EnsureBlobAsync(string repo, byte[] content, string mediaType = Media.OciLayer)
    {
        var digest = TestRegistry.Sha256(content);
        using var head = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v2/{repo}/blobs/{digest}"));
        if (head.StatusCode == HttpStatusCode.OK) return new BlobRef(mediaType, digest, content.Length);
        return await _client.PushBlobAsync(repo, content, mediaType);
    }

    internal static async Task<GcReport> RunGcAsync(BerthFactory factory, bool dryRun = false)
    {
        await using var scope = factory.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<GarbageCollector>().RunAsync(dryRun, null, CancellationToken.None);
    }

    private static List<string> BlobDigests(PushedManifest manifest)
    {
        var json = JsonNode.Parse(manifest.Content)!;
        return json["layers"]!.AsArray().Select(l => (string)l!["digest"]!).Append((string)json["config"]!["digest"]!).ToList();
    }

    /// <summary>Pulls like a client: the manifest by tag, then every blob it names, each with the right digest.</summary>
    internal static async Task AssertPullableAsync(HttpClient client, string repo, string tag, PushedManifest expected)
    {
        using var response = await client.GetAsync($"/v2/{repo}/manifests/{tag}");
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{repo}:{tag} answered {(int)response.StatusCode}");
        Assert.Equal(expected.Content, await response.Content.ReadAsByteArrayAsync());
        foreach (var digest in BlobDigests(expected))
        {
            using var blob = await client.GetAsync($"/v2/{repo}/blobs/{digest}");
            Assert.True(blob.StatusCode == HttpStatusCode.OK, $"blob {digest} of {repo}:{tag} answered {(int)blob.StatusCode}");
            Assert.Equal(digest, TestRegistry.Sha256(await blob.Content.ReadAsByteArrayAsync()));
        }
    }
}
