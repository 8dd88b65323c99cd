using System.Data.Common;
using System.Globalization;
using Berth.Auth.Tokens;
using Berth.Metadata;
using Berth.Server.Configuration;
using Berth.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Berth.Server.Cli;

/// <summary>
/// <c>berth doctor</c>: checks a deployment with the same configuration as <c>serve</c> (appsettings.json,
/// <c>BERTH_</c> environment variables, <c>--data-dir</c>, <c>--Section:Key value</c>), without listening anywhere and
/// without changing anything but scratch keys:
/// <list type="number">
/// <item>configuration: every section validates (the errors <c>serve</c> would refuse to start with);</item>
/// <item>database: reachable, and every migration applied;</item>
/// <item>clock: this host against the database's and the object store's clocks; a warning past the token leeway;</item>
/// <item>storage: each operation Berth needs on a scratch key (for S3: PutObject, HeadObject, GetObject,
/// ListObjectsV2, the multipart calls, CopyObject, UploadPartCopy, DeleteObjects, a presigned GET), each ok or the
/// failing operation with the backend's error and the permission to grant.</item>
/// </list>
/// Exit status: 0 when nothing failed (warnings allowed), 1 when a check failed, 3 on a configuration error.
/// </summary>
internal static class DoctorCommand
{
    public const string Usage = """
        Diagnostics:
          doctor                         check configuration, database, clocks and every storage operation;
                                         exit status 1 when a check fails
        """;

    public static async Task<int> RunAsync(string[] hostArgs, TextWriter stdout, TextWriter stderr, Action<HostApplicationBuilder>? configure = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = hostArgs, ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Logging:LogLevel:Default"] = "Warning" });
        builder.Configuration.AddEnvironmentVariables("BERTH_");
        builder.Configuration.AddCommandLine(hostArgs);
        builder.Logging.ClearProviders();
        configure?.Invoke(builder);
        BerthApp.AddBerth(builder.Services, builder.Configuration);
        using var host = builder.Build();
        var services = host.Services;
        var report = new Report(stdout);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var ct = timeout.Token;
        await stdout.WriteLineAsync($"berth doctor {Hosting.BerthVersion.Current}");

        // 1. configuration
        StorageOptions storage;
        DatabaseOptions database;
        BerthOptions data;
        try
        {
            data = services.GetRequiredService<IOptions<BerthOptions>>().Value;
            storage = services.GetRequiredService<IOptions<StorageOptions>>().Value;
            database = services.GetRequiredService<IOptions<DatabaseOptions>>().Value;
            _ = services.GetRequiredService<IOptions<AuthOptions>>().Value;
            _ = services.GetRequiredService<IOptions<RegistryOptions>>().Value;
        }
        catch (OptionsValidationException ex)
        {
            await stdout.WriteLineAsync("configuration");
            foreach (var failure in ex.Failures) report.Fail(failure);
            await stderr.WriteLineAsync("berth doctor: configuration error; nothing else was checked");
            return 3;
        }
        await stdout.WriteLineAsync("configuration");
        report.Ok($"data folder {Path.GetFullPath(data.DataDir)}");
        report.Ok(storage.IsS3
            ? $"storage: S3 bucket '{storage.S3.Bucket}'{(string.IsNullOrEmpty(storage.S3.RootDirectory) ? "" : $", prefix '{storage.S3.RootDirectory}'")}, {(string.IsNullOrEmpty(storage.S3.Endpoint) ? "AWS" : "endpoint " + storage.S3.Endpoint)}, credentials from {(string.IsNullOrEmpty(storage.S3.AccessKey) ? "the SDK's default chain" : "configuration")}, redirects {(storage.S3.Redirect ? "on" : "off")}"
            : $"storage: filesystem at {Path.GetFullPath(storage.FileSystem.RootDirectory ?? Path.Combine(data.DataDir, "storage"))}");
        report.Ok(database.IsPostgreSql ? $"database: PostgreSQL ({DescribeConnection(database.ConnectionString!)})" : "database: SQLite (embedded; one replica only)");

        // 2. database
        await stdout.WriteLineAsync("database");
        DateTimeOffset? databaseTime = null;
        await using (var scope = services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<BerthDbContext>();
            var sqliteFile = database.IsPostgreSql ? null : SqliteFile(db);
            if (sqliteFile is not null && !File.Exists(sqliteFile))
            {
                report.Fail($"no database at {sqliteFile}: 'berth serve' creates it on its first start");
            }
            else
            {
                try
                {
                    await db.Database.OpenConnectionAsync(ct);
                    report.Ok("reachable");
                    var applied = (await db.Database.GetAppliedMigrationsAsync(ct)).ToList();
                    var pending = (await db.Database.GetPendingMigrationsAsync(ct)).ToList();
                    if (pending.Count == 0) report.Ok($"migrated ({applied.Count} migrations applied)");
                    else report.Fail($"{pending.Count} migration(s) not applied ({string.Join(", ", pending)}): 'berth serve' applies them on start");
                    if (database.IsPostgreSql)
                    {
                        var at = await db.Database.SqlQueryRaw<DateTime>("SELECT now() AS \"Value\"").SingleAsync(ct);
                        databaseTime = new DateTimeOffset(DateTime.SpecifyKind(at.ToUniversalTime(), DateTimeKind.Utc));
                    }
                    await db.Database.CloseConnectionAsync();
                }
                catch (Exception ex) when (ex is DbException or InvalidOperationException or TimeoutException or DbUpdateException)
                {
                    report.Fail($"cannot use the database: {ex.GetBaseException().Message}");
                }
            }
        }

        // 3. storage (its clock is read below)
        var driver = services.GetRequiredService<IStorageDriver>();
        await stdout.WriteLineAsync($"storage ({driver.Name})");
        DateTimeOffset? storageTime = null;
        if (driver is IStorageChecks checks)
        {
            IReadOnlyList<StorageCheckResult> results;
            try
            {
                results = await checks.RunChecksAsync(StorageCheckDepth.Full, ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                results = [new StorageCheckResult("storage checks", false, ex.Message)];
            }
            foreach (var result in results)
            {
                if (result.Ok) report.Ok(result.Operation + (result.Error is null ? "" : $" ({result.Error})"));
                else if (result.Warning) report.Warn($"{result.Operation}: {result.Error}{(result.Grant is null ? "" : "; grant " + result.Grant)}");
                else report.Fail(Describe(result));
            }
            try
            {
                storageTime = await checks.GetServerTimeAsync(ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                report.Warn($"could not read the object store's clock: {ex.GetBaseException().Message}");
            }
        }
        else
        {
            report.Warn($"the {driver.Name} driver has no self-check");
        }

        // 4. clock
        await stdout.WriteLineAsync("clock");
        var leeway = TimeSpan.FromSeconds(services.GetRequiredService<IOptions<RegistryTokenOptions>>().Value.ClockSkewSeconds);
        var now = DateTimeOffset.UtcNow;
        void Compare(string what, DateTimeOffset? other, TimeSpan precision)
        {
            if (other is null) return;
            var skew = now - other.Value;
            var text = $"this host is {FormatSkew(skew)} {what}'s clock (token leeway {leeway.TotalSeconds:0} s)";
            if (skew.Duration() > leeway) report.Warn(text + ": tokens may be refused as not yet valid or expired; sync the clocks (NTP)");
            else if (skew.Duration() > leeway / 2 + precision) report.Warn(text);
            else report.Ok(text);
        }
        if (databaseTime is null && storageTime is null) report.Ok("nothing to compare with: the database and storage are local (same clock)");
        Compare("the database", databaseTime, TimeSpan.Zero);
        Compare("the object store", storageTime, TimeSpan.FromSeconds(1));

        await stdout.WriteLineAsync(report.Failures == 0
            ? $"all checks passed{(report.Warnings > 0 ? $" ({report.Warnings} warning(s))" : "")}"
            : $"{report.Failures} check(s) failed{(report.Warnings > 0 ? $", {report.Warnings} warning(s)" : "")}");
        return report.Failures == 0 ? 0 : 1;
    }

    private static string Describe(StorageCheckResult result)
    {
        // e.g. "HeadObject denied: 403 Forbidden …; grant s3:GetObject on arn:aws:s3:::bucket/prefix/*"
        if (result.Grant is not null) return $"{result.Operation} denied: {result.Error}; grant {result.Grant}";
        return $"{result.Operation} failed: {result.Error}";
    }

    private static string FormatSkew(TimeSpan skew) =>
        skew.Duration() < TimeSpan.FromMilliseconds(500) ? "in step with"
        : string.Create(CultureInfo.InvariantCulture, $"{Math.Abs(skew.TotalSeconds):0.0} s {(skew > TimeSpan.Zero ? "ahead of" : "behind")}");

    private static string? SqliteFile(BerthDbContext db)
    {
        var cs = db.Database.GetConnectionString();
        if (cs is null) return null;
        var builder = new DbConnectionStringBuilder { ConnectionString = cs };
        return builder.TryGetValue("Data Source", out var file) && file is string f && f != ":memory:" ? Path.GetFullPath(f) : null;
    }

    private static string DescribeConnection(string connectionString)
    {
        try
        {
            var builder = new DbConnectionStringBuilder { ConnectionString = connectionString };
            string Get(string key) => builder.TryGetValue(key, out var v) ? v?.ToString() ?? "" : "";
            return $"host {Get("Host")}{(Get("Port") is { Length: > 0 } p ? ":" + p : "")}, database {Get("Database")}, user {Get("Username")}";
        }
        catch (ArgumentException)
        {
            return "connection string not parseable";
        }
    }

    private sealed class Report(TextWriter output)
    {
        public int Failures { get; private set; }
        public int Warnings { get; private set; }

        public void Ok(string line) => output.WriteLine("  ok       " + line);

        public void Warn(string line)
        {
            Warnings++;
            output.WriteLine("  WARNING  " + line);
        }

        public void Fail(string line)
        {
            Failures++;
            output.WriteLine("  FAILED   " + line);
        }
    }
}
