using System.Diagnostics;
using System.Reflection;
using Berth.Metadata;
using Berth.Server.Configuration;
using Berth.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Berth.Server.Web.Pages.Admin;

/// <summary>One line of the health summary.</summary>
/// <param name="Name">What was checked.</param>
/// <param name="Status"><c>ok</c>, <c>warning</c> or <c>error</c>.</param>
/// <param name="Detail">What was found.</param>
public sealed record HealthCheck(string Name, string Status, string Detail);

/// <summary>The admin area's summary of the instance.</summary>
public sealed record HealthSummary(string Version, string Uptime, long Users, long Groups, long Projects, long Repositories, long Tags, long Blobs, long BlobBytes, IReadOnlyList<HealthCheck> Checks)
{
    /// <summary>True when no check is an error.</summary>
    public bool Healthy => Checks.All(c => c.Status != "error");
}

/// <summary><c>/admin</c>: counts and a health summary (database, storage, disk space, registry switches, signing keys).</summary>
public sealed class AdminIndexModel : WebPage
{
    /// <summary>The summary.</summary>
    public HealthSummary Health { get; private set; } = null!;

    /// <summary>GET.</summary>
    public async Task OnGetAsync()
    {
        var db = Service<BerthDbContext>();
        var checks = new List<HealthCheck>();
        var clock = Stopwatch.StartNew();
        bool dbOk = await db.Database.CanConnectAsync(Aborted);
        checks.Add(new("Metadata database", dbOk ? "ok" : "error",
            dbOk ? $"{db.Database.ProviderName?.Split('.').Last()} answered in {clock.ElapsedMilliseconds} ms" : "cannot connect"));

        var options = Service<IOptions<BerthOptions>>().Value;
        var driver = Service<IStorageDriver>();
        checks.Add(new("Blob storage", "ok", $"{driver.Name} driver"));
        try
        {
            var dataDir = Path.GetFullPath(options.DataDir);
            var drive = new DriveInfo(dataDir);
            double freeRatio = drive.TotalSize > 0 ? (double)drive.AvailableFreeSpace / drive.TotalSize : 1;
            checks.Add(new("Disk space", freeRatio < 0.05 ? "error" : freeRatio < 0.15 ? "warning" : "ok",
                $"{WebFormat.Bytes(drive.AvailableFreeSpace)} free of {WebFormat.Bytes(drive.TotalSize)} where the data folder is ({dataDir})"));
        }
        catch (Exception ex) when (ex is IOException or ArgumentException or UnauthorizedAccessException)
        {
            checks.Add(new("Disk space", "warning", "cannot be read: " + ex.Message));
        }
        var settings = await Service<InstanceSettings>().GetAsync(Aborted);
        checks.Add(new("Container registry", settings.RegistryEnabled ? "ok" : "warning", settings.RegistryEnabled ? "on" : "turned off for the whole instance"));
        checks.Add(new("Sign-up", "ok", settings.SignUpEnabled ? "anyone can create an account" : "off: administrators create accounts"));
        int keys = await db.SigningKeys.CountAsync(k => k.RetiredAt == null, Aborted);
        checks.Add(new("Token signing keys", keys > 0 ? "ok" : "warning", keys > 0 ? $"{keys} active" : "none yet: one is made at the first token request"));
        var external = settings.ExternalUrl ?? options.ExternalUrl;
        checks.Add(new("External URL", external is null ? "warning" : "ok", external ?? $"not set: instructions use the address of each request ({Request.Host})"));

        var version = typeof(AdminIndexModel).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion?.Split('+')[0] ?? "dev";
        var up = DateTime.Now - Process.GetCurrentProcess().StartTime;
        Health = new HealthSummary(version,
            up.TotalDays >= 1 ? $"{(int)up.TotalDays} d {up.Hours} h" : up.TotalHours >= 1 ? $"{(int)up.TotalHours} h {up.Minutes} min" : $"{Math.Max(1, (int)up.TotalMinutes)} min",
            await db.Users.LongCountAsync(Aborted),
            await db.Namespaces.LongCountAsync(n => n.Kind == "group", Aborted),
            await db.Projects.LongCountAsync(Aborted),
            await db.Repositories.LongCountAsync(r => db.Manifests.Any(m => m.RepositoryId == r.Id), Aborted),
            await db.Tags.LongCountAsync(Aborted),
            await db.Blobs.LongCountAsync(Aborted),
            await db.Blobs.SumAsync(b => (long?)b.Size, Aborted) ?? 0,
            checks);
    }
}
