using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Berth.Schema1.Tests.Infrastructure;

/// <summary>
/// One real Berth process (<c>dotnet berth.dll serve</c>) on a free loopback port with a temp data folder and
/// <c>--Auth:Mode none</c> (these tests cover manifest formats; access control has its own tests). Started once
/// per test collection, killed and deleted on dispose. <c>BERTH_E2E_SERVER_DLL</c> overrides the berth.dll found
/// under the repository root (the build configuration of this test assembly first).
/// </summary>
public sealed class BerthServer : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"berth-schema1-{Guid.NewGuid():N}"[..28]);
    private readonly StringBuilder _log = new();
    private Process? _process;

    /// <summary>The loopback port.</summary>
    public int Port { get; } = FreePort();

    /// <summary><c>127.0.0.1:port</c>, the registry host of image references.</summary>
    public string Host => $"127.0.0.1:{Port}";

    /// <summary>An HTTP client for the registry.</summary>
    public HttpClient CreateClient() => new() { BaseAddress = new Uri($"http://{Host}/"), Timeout = TimeSpan.FromMinutes(2) };

    /// <summary>The end of the server's output, for failure messages.</summary>
    public string LogTail()
    {
        lock (_log) return string.Join('\n', _log.ToString().Split('\n').TakeLast(60));
    }

    /// <inheritdoc/>
    public async Task InitializeAsync()
    {
        var dll = Environment.GetEnvironmentVariable("BERTH_E2E_SERVER_DLL") is { Length: > 0 } configured ? configured : FindServerDll();
        if (!File.Exists(dll)) throw new FileNotFoundException($"berth.dll not found at {dll}; build Berth.slnx first", dll);
        Directory.CreateDirectory(_root);
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _root,
        };
        foreach (var argument in new[] { dll, "serve", "--urls", $"http://{Host}", "--data-dir", Path.Combine(_root, "data"), "--Auth:Mode", "none" })
            start.ArgumentList.Add(argument);
        start.Environment["DOTNET_NOLOGO"] = "1";
        _process = Process.Start(start) ?? throw new InvalidOperationException("could not start berth");
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        using var client = CreateClient();
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (_process.HasExited) throw new InvalidOperationException($"berth exited with code {_process.ExitCode}\n{LogTail()}");
            try
            {
                using var response = await client.GetAsync("v2/");
                if (response.StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            await Task.Delay(200);
        }
        throw new TimeoutException($"berth did not answer GET /v2/ within 60 s\n{LogTail()}");
    }

    /// <inheritdoc/>
    public async Task DisposeAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        _process?.Dispose();
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { /* the OS cleans temp */ }
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_log) _log.AppendLine(line);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string FindServerDll()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Berth.slnx"))) directory = directory.Parent;
        if (directory is null) throw new DirectoryNotFoundException($"no Berth.slnx above {AppContext.BaseDirectory}");
        string[] configurations = AppContext.BaseDirectory.Replace('\\', '/').Contains("/bin/Debug/", StringComparison.Ordinal) ? ["Debug", "Release"] : ["Release", "Debug"];
        var candidates = configurations.Select(c => Path.Combine(directory.FullName, "src", "Berth.Server", "bin", c, "net10.0", "berth.dll")).ToList();
        return candidates.FirstOrDefault(File.Exists) ?? candidates[0];
    }
}

/// <summary>The tests sharing one Berth process.</summary>
[CollectionDefinition(Name)]
public sealed class BerthServerCollection : ICollectionFixture<BerthServer>
{
    /// <summary>The collection name.</summary>
    public const string Name = "Berth server";
}
