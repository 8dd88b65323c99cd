using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Berth.Server.Tests.Infrastructure;

/// <summary>
/// The whole Berth app in process, on its embedded defaults (SQLite + filesystem storage) in a data folder of
/// its own. The parameterless constructor (used as a class fixture) makes a fresh temp folder and deletes it on
/// dispose; <see cref="OnDataDir"/> runs on a given folder and leaves it alone (restart tests).
/// </summary>
public sealed class BerthFactory : WebApplicationFactory<Program>
{
    private readonly bool _ownsDataDir;

    public BerthFactory() : this(NewDataDir(), ownsDataDir: true)
    {
    }

    private BerthFactory(string dataDir, bool ownsDataDir)
    {
        DataDir = dataDir;
        _ownsDataDir = ownsDataDir;
    }

    /// <summary>An app on an existing data folder, which it leaves in place when disposed.</summary>
    public static BerthFactory OnDataDir(string dataDir) => new(dataDir, ownsDataDir: false);

    /// <summary>The folder holding the SQLite database and the blob files.</summary>
    public string DataDir { get; }

    /// <summary>When set, replaces the host's TimeProvider (garbage collection delays, quotas).</summary>
    public TimeProvider? Clock { get; init; }

    /// <summary>Extra configuration (e.g. <c>Database:Type</c>), applied after the defaults.</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();

    /// <summary>The path of a blob's bytes under the filesystem storage root.</summary>
    public string BlobFile(string digest)
    {
        var hex = digest[(digest.IndexOf(':') + 1)..];
        return Path.Combine(DataDir, "storage", "blobs", digest[..digest.IndexOf(':')], hex[..2], hex, "data");
    }

    public static string NewDataDir() => Path.Combine(Path.GetTempPath(), "berth-server-tests", Guid.NewGuid().ToString("N"));

    /// <summary>A client whose every response is checked for the <c>Docker-Distribution-API-Version</c> header.</summary>
    public HttpClient CreateRegistryClient() => CreateDefaultClient(new ApiVersionHeaderCheck());

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("DataDir", DataDir);
        builder.UseSetting("Auth:Mode", "none"); // these tests cover the protocol; access control has its own tests
        builder.ConfigureLogging(logging => logging.ClearProviders());
        foreach (var (key, value) in Settings) builder.UseSetting(key, value);
        if (Clock is { } clock) builder.ConfigureServices(s => s.AddSingleton(clock));
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing && _ownsDataDir) DeleteDataDir(DataDir);
    }

    public static void DeleteDataDir(string dir)
    {
        SqliteConnection.ClearAllPools();
        try
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by a pooled connection of another test: the temp folder is cleaned by the OS.
        }
    }

    /// <summary>Fails the request when a <c>/v2</c> response lacks <c>Docker-Distribution-API-Version: registry/2.0</c>.</summary>
    private sealed class ApiVersionHeaderCheck : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            if (request.RequestUri!.AbsolutePath.StartsWith("/v2", StringComparison.Ordinal))
            {
                Assert.True(response.Headers.TryGetValues("Docker-Distribution-API-Version", out var values),
                    $"{request.Method} {request.RequestUri} answered {(int)response.StatusCode} without Docker-Distribution-API-Version");
                Assert.Equal("registry/2.0", Assert.Single(values));
            }
            return response;
        }
    }
}
