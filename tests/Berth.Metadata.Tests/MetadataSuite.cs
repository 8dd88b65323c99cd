using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Berth.Auth;
using Berth.Auth.Accounts;
using Berth.Auth.Tokens;
using Berth.Distribution;
using Berth.Metadata;
using Berth.Server.Registry;
using Berth.Server.Web;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Berth.Metadata.Tests;

/// <summary>
/// The metadata suite every database passes (SQLite and PostgreSQL): migrations match the model, the registry's
/// raw upserts and hot-path queries, byte-ordered listings, UTC times, cascades, concurrent writers, job leases, and
/// the state replicas share through the database (token-signing keys, data-protection keys, sign-in limits, upload
/// sessions). Each test gets a fresh database; "replicas" are separate service providers on the same database.
/// </summary>
public abstract class MetadataSuite : IAsyncLifetime
{
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "berth-metadata-tests", Guid.NewGuid().ToString("N"));
    private readonly List<Replica> _replicas = [];
    private Dictionary<string, string?> _settings = [];

    protected static CancellationToken Ct => CancellationToken.None;

    /// <summary>The <c>Database:*</c> settings of a new database (migrated unless <paramref name="migrated"/> is false).</summary>
    protected abstract Task<Dictionary<string, string?>> NewDatabaseAsync(bool migrated);

    protected abstract bool IsPostgreSql { get; }

    public async Task InitializeAsync()
    {
        _settings = await NewDatabaseAsync(migrated: true);
        _settings["DataDir"] = _dataDir;
        _settings["Auth:Mode"] = "token";
        _settings["Auth:Passwords:Iterations"] = "1000"; // fast hashing: these tests are about the database
        _settings["Auth:SignInLimits:PerAccount"] = "4";
        Directory.CreateDirectory(_dataDir);
        await using var scope = NewReplica().Scope();
        await scope.ServiceProvider.GetRequiredService<BerthDbContext>().Database.MigrateAsync(Ct);
    }

    public async Task DisposeAsync()
    {
        foreach (var replica in _replicas) await replica.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dataDir, recursive: true); } catch (IOException) { }
    }

    protected Replica NewReplica()
    {
        var replica = new Replica(_settings);
        _replicas.Add(replica);
        return replica;
    }

    private Replica? _main;
    protected Replica Main => _main ??= NewReplica();

    protected async Task<T> WithAsync<T>(Func<IServiceProvider, Task<T>> action, Replica? replica = null)
    {
        await using var scope = (replica ?? Main).Scope();
        return await action(scope.ServiceProvider);
    }

    protected Task WithAsync(Func<IServiceProvider, Task> action, Replica? replica = null) =>
        WithAsync<bool>(async s => { await action(s); return true; }, replica);

    private static RepositoryName Repo(string name) => RepositoryName.Parse(name);

    private static Digest DigestOf(byte[] content) => Digest.FromHash(Digest.Sha256, SHA256.HashData(content));

    /// <summary>Pushes a one-layer OCI image (config, layer, manifest) and tags it.</summary>
    private static async Task<Digest> PushImageAsync(RegistryService registry, string repository, string? tag, string seed, string? subject = null, string? artifactType = null)
    {
        var repo = Repo(repository);
        var config = Encoding.UTF8.GetBytes($"{{\"seed\":\"{seed}\"}}");
        var layer = Encoding.UTF8.GetBytes("layer " + seed);
        await registry.UploadMonolithicAsync(repo, DigestOf(config), new MemoryStream(config), Ct);
        await registry.UploadMonolithicAsync(repo, DigestOf(layer), new MemoryStream(layer), Ct);
        var subjectJson = subject is null ? "" : $",\"subject\":{subject}";
        var artifactJson = artifactType is null ? "" : $",\"artifactType\":\"{artifactType}\"";
        var manifest = Encoding.UTF8.GetBytes($$"""
            {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"{{artifactJson}},
             "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{DigestOf(config)}}","size":{{config.Length}}},
             "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{{DigestOf(layer)}}","size":{{layer.Length}}}],
             "annotations":{"org.example.seed":"{{seed}}"}{{subjectJson}}}
            """);
        var reference = tag is null ? Reference.FromDigest(DigestOf(manifest)) : Reference.FromTag(Tag.Parse(tag));
        var result = await registry.PutManifestAsync(repo, reference, manifest, "application/vnd.oci.image.manifest.v1+json", Ct);
        return result.Digest;
    }

    // ---- schema ----

    [Fact]
    public async Task Migrations_apply_to_an_empty_database_and_match_the_model()
    {
        var settings = await NewDatabaseAsync(migrated: false);
        settings["DataDir"] = _dataDir;
        await using var replica = new Replica(settings);
        await using var scope = replica.Scope();
        var db = scope.ServiceProvider.GetRequiredService<BerthDbContext>();
        Assert.Equal(IsPostgreSql, db.IsPostgreSql);
        // SQLite runs on the compiled model (no model building at start-up); PostgreSQL builds its own.
        Assert.Equal(!IsPostgreSql, db.Model is Berth.Metadata.CompiledModels.Sqlite.BerthDbContextModel);
        Assert.NotEmpty(await db.Database.GetPendingMigrationsAsync(Ct));
        await db.Database.MigrateAsync(Ct);
        Assert.Empty(await db.Database.GetPendingMigrationsAsync(Ct));
        Assert.False(db.Database.HasPendingModelChanges(), "the model has changes no migration of this database covers: add one (see docs/production.md, 'Migrations')");
        Assert.Contains(await db.Database.GetAppliedMigrationsAsync(Ct), m => m.EndsWith("_JobLeases", StringComparison.Ordinal) || m.EndsWith("_Initial", StringComparison.Ordinal));
    }

    // ---- registry: pushes, pulls, listings ----

    [Fact]
    public async Task A_pushed_manifest_is_found_by_tag_and_digest_and_the_tag_moves()
    {
        await WithAsync(async s =>
        {
            var registry = s.GetRequiredService<RegistryService>();
            var first = await PushImageAsync(registry, "group/project/app", "latest", "one");
            var byTag = await registry.GetManifestAsync(Repo("group/project/app"), Reference.FromTag(Tag.Parse("latest")), Ct);
            Assert.Equal(first, byTag!.Digest);
            var second = await PushImageAsync(registry, "group/project/app", "latest", "two");
            Assert.NotEqual(first, second);
            Assert.Equal(second, (await registry.GetManifestAsync(Repo("group/project/app"), Reference.FromTag(Tag.Parse("latest")), Ct))!.Digest);
            var byDigest = await registry.GetManifestAsync(Repo("group/project/app"), Reference.FromDigest(first), Ct);
            Assert.Equal(first, byDigest!.Digest);
            Assert.Equal("application/vnd.oci.image.manifest.v1+json", byDigest.MediaType);
            Assert.Null(await registry.GetManifestAsync(Repo("group/project/other"), Reference.FromDigest(first), Ct));
        });
    }

    [Fact]
    public async Task Tags_and_repositories_list_in_byte_order_with_pages()
    {
        string[] tags = ["b", "B", "a", "A", "_x", "1", "a-b", "a.b", "a_b", "Z9", "z"];
        await WithAsync(async s =>
        {
            var registry = s.GetRequiredService<RegistryService>();
            foreach (var tag in tags) await PushImageAsync(registry, "order/project/tags", tag, "same");
            foreach (var name in new[] { "order/project/b", "order/project/a-x", "order/project/a", "order/project/a/b" })
                await PushImageAsync(registry, name, "v1", name);
            var expected = tags.Order(StringComparer.Ordinal).ToList();
            var all = await registry.ListTagsAsync(Repo("order/project/tags"), null, null, Ct);
            Assert.Equal(expected, all!.Items);
            var page1 = await registry.ListTagsAsync(Repo("order/project/tags"), 4, null, Ct);
            Assert.Equal(expected.Take(4), page1!.Items);
            Assert.True(page1.HasMore);
            var page2 = await registry.ListTagsAsync(Repo("order/project/tags"), 4, page1.Items[^1], Ct);
            Assert.Equal(expected.Skip(4).Take(4), page2!.Items);
            var last = await registry.ListTagsAsync(Repo("order/project/tags"), 100, "a_b", Ct);
            Assert.Equal(expected.SkipWhile(t => string.CompareOrdinal(t, "a_b") <= 0), last!.Items);
            Assert.Null(await registry.ListTagsAsync(Repo("order/project/none"), null, null, Ct));
            var catalog = await registry.ListRepositoriesAsync(null, null, Ct);
            Assert.Equal(catalog.Items.Order(StringComparer.Ordinal), catalog.Items);
            Assert.Equal(["order/project/a", "order/project/a-x", "order/project/a/b", "order/project/b", "order/project/tags"], catalog.Items);
        });
    }

    [Fact]
    public async Task Blob_links_are_per_repository_and_mounts_are_idempotent()
    {
        await WithAsync(async s =>
        {
            var registry = s.GetRequiredService<RegistryService>();
            var content = Encoding.UTF8.GetBytes("a blob");
            var digest = DigestOf(content);
            await registry.UploadMonolithicAsync(Repo("links/project/one"), digest, new MemoryStream(content), Ct);
            Assert.Equal(content.Length, (await registry.GetBlobAsync(Repo("links/project/one"), digest, Ct))!.Size);
            Assert.Null(await registry.GetBlobAsync(Repo("links/project/two"), digest, Ct));
            Assert.NotNull(await registry.MountBlobAsync(Repo("links/project/two"), Repo("links/project/one"), digest, Ct));
            Assert.NotNull(await registry.MountBlobAsync(Repo("links/project/two"), Repo("links/project/one"), digest, Ct));
            Assert.NotNull(await registry.GetBlobAsync(Repo("links/project/two"), digest, Ct));
            Assert.True(await registry.DeleteBlobAsync(Repo("links/project/two"), digest, Ct));
            Assert.False(await registry.DeleteBlobAsync(Repo("links/project/two"), digest, Ct));
            Assert.NotNull(await registry.GetBlobAsync(Repo("links/project/one"), digest, Ct));
        });
    }

    [Fact]
    public async Task Deleting_a_manifest_removes_its_tags_and_references()
    {
        await WithAsync(async s =>
        {
            var registry = s.GetRequiredService<RegistryService>();
            var db = s.GetRequiredService<BerthDbContext>();
            var digest = await PushImageAsync(registry, "del/project/app", "v1", "x");
            await registry.PutManifestAsync(Repo("del/project/app"), Reference.FromTag(Tag.Parse("v2")),
                (await registry.GetManifestAsync(Repo("del/project/app"), Reference.FromDigest(digest), Ct))!.Content, "application/vnd.oci.image.manifest.v1+json", Ct);
            Assert.Equal(2, await db.Tags.CountAsync(Ct));
            Assert.True(await registry.DeleteManifestAsync(Repo("del/project/app"), Reference.FromTag(Tag.Parse("v1")), Ct));
            Assert.Equal(1, await db.Tags.CountAsync(Ct));
            Assert.True(await registry.DeleteManifestAsync(Repo("del/project/app"), Reference.FromDigest(digest), Ct));
            Assert.Equal(0, await db.Tags.CountAsync(Ct));
            Assert.Equal(0, await db.ManifestReferences.CountAsync(Ct));
            Assert.False(await registry.DeleteManifestAsync(Repo("del/project/app"), Reference.FromDigest(digest), Ct));
        });
    }

    [Fact]
    public async Task Referrers_are_filtered_by_artifact_type_and_keep_annotations()
    {
        await WithAsync(async s =>
        {
            var registry = s.GetRequiredService<RegistryService>();
            var subject = await PushImageAsync(registry, "ref/project/app", "v1", "subject");
            var manifest = (await registry.GetManifestAsync(Repo("ref/project/app"), Reference.FromDigest(subject), Ct))!;
            var subjectJson = $"{{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"{subject}\",\"size\":{manifest.Content.Length}}}";
            await PushImageAsync(registry, "ref/project/app", null, "sig", subjectJson, "application/vnd.example.signature");
            await PushImageAsync(registry, "ref/project/app", null, "sbom", subjectJson, "application/vnd.example.sbom");
            Assert.Equal(2, (await registry.ListReferrersAsync(Repo("ref/project/app"), subject, null, Ct)).Count);
            var sboms = await registry.ListReferrersAsync(Repo("ref/project/app"), subject, "application/vnd.example.sbom", Ct);
            var sbom = Assert.Single(sboms);
            Assert.Equal("sbom", sbom.Annotations!["org.example.seed"]);
        });
    }

    [Fact]
    public async Task A_4_MiB_manifest_and_times_round_trip_as_utc()
    {
        var before = DateTime.UtcNow.AddSeconds(-5);
        await WithAsync(async s =>
        {
            var registry = s.GetRequiredService<RegistryService>();
            var padding = new string('x', 4 * 1024 * 1024 - 2000);
            var manifest = Encoding.UTF8.GetBytes("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],"annotations":{"pad":"PAD"}}""".Replace("PAD", padding, StringComparison.Ordinal));
            var result = await registry.PutManifestAsync(Repo("big/project/app"), Reference.FromTag(Tag.Parse("big")), manifest, "application/vnd.oci.image.index.v1+json", Ct);
            var read = await registry.GetManifestAsync(Repo("big/project/app"), Reference.FromDigest(result.Digest), Ct);
            Assert.Equal(manifest, read!.Content);
        });
        await WithAsync(async s =>
        {
            var db = s.GetRequiredService<BerthDbContext>();
            var repository = await db.Repositories.SingleAsync(r => r.Name == "big/project/app", Ct);
            var tag = await db.Tags.SingleAsync(Ct);
            foreach (var time in new[] { repository.CreatedAt, tag.UpdatedAt })
            {
                Assert.InRange(DateTime.SpecifyKind(time, DateTimeKind.Utc), before, DateTime.UtcNow.AddSeconds(5));
            }
            var recent = DateTime.UtcNow.AddMinutes(-1);
            Assert.Equal(1, await db.Tags.CountAsync(t => t.UpdatedAt > recent, Ct));
        }, NewReplica());
    }

    [Fact]
    public async Task Concurrent_pushes_of_one_tag_and_repository_all_succeed()
    {
        var registries = Enumerable.Range(0, 2).Select(_ => NewReplica()).ToList();
        var pushes = Enumerable.Range(0, 12).Select(i => WithAsync(s =>
            PushImageAsync(s.GetRequiredService<RegistryService>(), "race/project/app", "latest", "seed" + (i % 3)), registries[i % 2]));
        var digests = await Task.WhenAll(pushes);
        await WithAsync(async s =>
        {
            var db = s.GetRequiredService<BerthDbContext>();
            Assert.Equal(1, await db.Repositories.CountAsync(r => r.Name == "race/project/app", Ct));
            Assert.Equal(3, await db.Manifests.CountAsync(Ct));
            var tag = await s.GetRequiredService<RegistryService>().GetManifestAsync(Repo("race/project/app"), Reference.FromTag(Tag.Parse("latest")), Ct);
            Assert.Contains(tag!.Digest, digests);
        });
    }

    [Fact]
    public async Task An_upload_session_started_on_one_replica_finishes_on_another()
    {
        var a = NewReplica();
        var b = NewReplica();
        var content = RandomNumberGenerator.GetBytes(300_000);
        var id = await WithAsync(s => s.GetRequiredService<RegistryService>().StartUploadAsync(Repo("up/project/app"), Ct), a);
        await WithAsync(s => s.GetRequiredService<RegistryService>().AppendUploadAsync(Repo("up/project/app"), id, 0, new MemoryStream(content, 0, 100_000), Ct), a);
        Assert.Equal(100_000, await WithAsync(s => s.GetRequiredService<RegistryService>().GetUploadSizeAsync(Repo("up/project/app"), id, Ct), b));
        await WithAsync(s => s.GetRequiredService<RegistryService>().AppendUploadAsync(Repo("up/project/app"), id, 100_000, new MemoryStream(content, 100_000, 100_000), Ct), b);
        await WithAsync(s => s.GetRequiredService<RegistryService>().AppendUploadAsync(Repo("up/project/app"), id, 200_000, new MemoryStream(content, 200_000, 50_000), Ct), a);
        var size = await WithAsync(s => s.GetRequiredService<RegistryService>().CompleteUploadAsync(Repo("up/project/app"), id, DigestOf(content), 250_000, new MemoryStream(content, 250_000, 50_000), Ct), b);
        Assert.Equal(content.Length, size);
        await WithAsync(async s =>
        {
            Assert.NotNull(await s.GetRequiredService<RegistryService>().GetBlobAsync(Repo("up/project/app"), DigestOf(content), Ct));
            Assert.Equal(0, await s.GetRequiredService<BerthDbContext>().UploadSessions.CountAsync(Ct));
        }, a);
        var gone = await Assert.ThrowsAsync<RegistryException>(() => WithAsync(s => s.GetRequiredService<RegistryService>().GetUploadSizeAsync(Repo("up/project/app"), id, Ct), a));
        Assert.Equal(ErrorCode.BlobUploadUnknown, gone.Code);
    }

    // ---- job leases ----

    [Fact]
    public async Task A_job_lease_has_one_holder_until_it_expires_or_is_released()
    {
        var t0 = DateTimeOffset.UtcNow;
        await WithAsync(async s =>
        {
            var db = s.GetRequiredService<BerthDbContext>();
            Assert.True(await db.TryAcquireLeaseAsync("gc", "replica-a", TimeSpan.FromMinutes(1), t0, Ct));
            Assert.False(await db.TryAcquireLeaseAsync("gc", "replica-b", TimeSpan.FromMinutes(1), t0.AddSeconds(30), Ct));
            Assert.True(await db.TryAcquireLeaseAsync("gc", "replica-a", TimeSpan.FromMinutes(1), t0.AddSeconds(30), Ct)); // renewal
            Assert.False(await db.TryAcquireLeaseAsync("gc", "replica-b", TimeSpan.FromMinutes(1), t0.AddSeconds(80), Ct));
            Assert.True(await db.TryAcquireLeaseAsync("gc", "replica-b", TimeSpan.FromMinutes(1), t0.AddSeconds(91), Ct)); // expired
            Assert.True(await db.TryAcquireLeaseAsync("other-job", "replica-a", TimeSpan.FromMinutes(1), t0, Ct));
            await db.ReleaseLeaseAsync("gc", "replica-a", Ct); // not the holder: no effect
            Assert.False(await db.TryAcquireLeaseAsync("gc", "replica-a", TimeSpan.FromMinutes(1), t0.AddSeconds(100), Ct));
            await db.ReleaseLeaseAsync("gc", "replica-b", Ct);
            Assert.True(await db.TryAcquireLeaseAsync("gc", "replica-a", TimeSpan.FromMinutes(1), t0.AddSeconds(100), Ct));
        });
    }

    [Fact]
    public async Task Racing_replicas_get_a_lease_exactly_once()
    {
        var replicas = Enumerable.Range(0, 3).Select(_ => NewReplica()).ToList();
        var now = DateTimeOffset.UtcNow;
        var attempts = Enumerable.Range(0, 12).Select(i => WithAsync(async s =>
        {
            try
            {
                return await s.GetRequiredService<BerthDbContext>().TryAcquireLeaseAsync("cleanup", "r" + i, TimeSpan.FromMinutes(5), now, Ct);
            }
            catch (Exception ex) when (ex is DbUpdateException || ex.GetType().Name is "SqliteException" or "PostgresException")
            {
                return false; // a lost insert race surfaces as a unique violation on some engines: not the holder
            }
        }, replicas[i % 3]));
        var results = await Task.WhenAll(attempts);
        Assert.Equal(1, results.Count(r => r));
    }

    // ---- state shared by replicas ----

    [Fact]
    public async Task Token_signing_keys_are_shared_so_another_replica_verifies_at_once()
    {
        var a = NewReplica();
        var b = NewReplica();
        // b reads the (empty) key set before a creates the first key: it must still verify a's tokens.
        await b.Services.GetRequiredService<SigningKeyStore>().GetVerificationKeysAsync(TimeSpan.FromDays(1), Ct);
        var keyA = await a.Services.GetRequiredService<SigningKeyStore>().GetActiveKeyAsync(Ct);
        var token = await WithAsync(s => s.GetRequiredService<RegistryTokenService>().IssueAsync(
            new Principal(PrincipalKind.User, "someone") { UserId = 1 }, [new AccessEntry("repository", "a/b", ["pull"])], Ct), a);
        var verified = await WithAsync(s => s.GetRequiredService<RegistryTokenService>().VerifyAsync(token.Token, Ct), b);
        Assert.Equal("someone", verified.Principal.Name);
        Assert.Equal(keyA.Id, (await b.Services.GetRequiredService<SigningKeyStore>().GetActiveKeyAsync(Ct)).Id);
    }

    [Fact]
    public async Task Data_protection_keys_written_by_one_replica_are_read_by_another()
    {
        var a = new DatabaseXmlRepository(NewReplica().Services.GetRequiredService<IServiceScopeFactory>());
        var b = new DatabaseXmlRepository(NewReplica().Services.GetRequiredService<IServiceScopeFactory>());
        a.StoreElement(new XElement("key", new XAttribute("id", "k1")), "key-k1");
        b.StoreElement(new XElement("key", new XAttribute("id", "k1")), "key-k1"); // the same key again: ignored
        b.StoreElement(new XElement("key", new XAttribute("id", "k2")), "key-k2");
        var ids = a.GetAllElements().Select(e => (string?)e.Attribute("id")).Order().ToList();
        Assert.Equal(["k1", "k2"], ids);
    }

    [Fact]
    public async Task Users_are_unique_case_insensitively_and_failed_sign_ins_count_across_replicas()
    {
        await WithAsync(s => s.GetRequiredService<AccountService>().CreateUserAsync(new NewUser("Alice", "alice@example.com", Password: "correct horse battery"), Ct));
        var duplicate = await Assert.ThrowsAsync<AccountException>(() =>
            WithAsync(s => s.GetRequiredService<AccountService>().CreateUserAsync(new NewUser("alice", "other@example.com", Password: "correct horse battery"), Ct), NewReplica()));
        Assert.Contains("taken", duplicate.Message, StringComparison.OrdinalIgnoreCase);

        var replicas = new[] { NewReplica(), NewReplica() };
        CredentialResult last = null!;
        for (int i = 0; i < 6; i++)
        {
            last = await WithAsync(s => s.GetRequiredService<CredentialValidator>().ValidateAsync("alice", "wrong password " + i, "192.0.2.7", Ct), replicas[i % 2]);
        }
        Assert.False(last.Succeeded);
        Assert.True(last.RetryAfterSeconds > 0, $"after 6 failures over two replicas (limit 4) the account is throttled ({last.Failure}: {last.Message})");
        var right = await WithAsync(s => s.GetRequiredService<CredentialValidator>().ValidateAsync("alice", "correct horse battery", "192.0.2.7", Ct), replicas[0]);
        Assert.False(right.Succeeded); // still throttled, whichever replica is asked
    }

    [Fact]
    public async Task Hot_path_lookups_are_single_indexed_queries()
    {
        await WithAsync(async s =>
        {
            var registry = s.GetRequiredService<RegistryService>();
            await PushImageAsync(registry, "hot/project/app", "v1", "hot");
            var db = s.GetRequiredService<BerthDbContext>();
            var indexes = IsPostgreSql
                ? await db.Database.SqlQueryRaw<string>("SELECT indexname AS \"Value\" FROM pg_indexes WHERE schemaname = 'public'").ToListAsync(Ct)
                : await db.Database.SqlQueryRaw<string>("SELECT name AS \"Value\" FROM sqlite_master WHERE type = 'index'").ToListAsync(Ct);
            Assert.Contains("IX_repositories_Name", indexes);
            Assert.Contains("IX_manifests_RepositoryId_Digest", indexes);
            Assert.Contains(indexes, i => i.StartsWith("PK_tags", StringComparison.Ordinal) || i.StartsWith("sqlite_autoindex_tags", StringComparison.Ordinal));
            Assert.Contains(indexes, i => i.StartsWith("PK_repository_blobs", StringComparison.Ordinal) || i.StartsWith("sqlite_autoindex_repository_blobs", StringComparison.Ordinal));
        });
    }
}

/// <summary>The metadata suite on SQLite (a temp file, as the embedded default).</summary>
public sealed class SqliteMetadataTests : MetadataSuite
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "berth-metadata-sqlite", Guid.NewGuid().ToString("N"));

    protected override bool IsPostgreSql => false;

    protected override Task<Dictionary<string, string?>> NewDatabaseAsync(bool migrated)
    {
        Directory.CreateDirectory(_dir);
        var file = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".db");
        return Task.FromResult(new Dictionary<string, string?>
        {
            ["Database:Type"] = "Sqlite",
            ["Database:ConnectionString"] = $"Data Source={file};Default Timeout=30;Pooling=True",
        });
    }
}

/// <summary>The metadata suite on PostgreSQL 15 (chosen with <c>Database:Provider</c>, the other name of <c>Database:Type</c>).</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgreSqlMetadataTests(PostgresFixture postgres) : MetadataSuite
{
    protected override bool IsPostgreSql => true;

    protected override async Task<Dictionary<string, string?>> NewDatabaseAsync(bool migrated) => new()
    {
        ["Database:Provider"] = "PostgreSQL",
        ["Database:ConnectionString"] = await postgres.NewDatabaseAsync(migrated),
    };
}
