using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.Deployment.Tests.Infrastructure;

/// <summary>Paths of this repository and the Berth build the tests run.</summary>
public static class Repository
{
    /// <summary>The folder holding Berth.slnx.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The berth.dll built in src/Berth.Server, same configuration as this test assembly first.</summary>
    public static string ServerDll
    {
        get
        {
            string[] configurations = AppContext.BaseDirectory.Replace('\\', '/').Contains("/bin/Debug/", StringComparison.Ordinal)
                ? ["Debug", "Release"]
                : ["Release", "Debug"];
            var candidates = configurations.Select(c => Path.Combine(Root, "src", "Berth.Server", "bin", c, "net10.0", "berth.dll")).ToList();
            return candidates.FirstOrDefault(File.Exists)
                ?? throw new FileNotFoundException($"berth.dll not built ({candidates[0]}); run dotnet build Berth.slnx first");
        }
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Berth.slnx"))) return dir.FullName;
        throw new DirectoryNotFoundException("Berth.slnx not found above " + AppContext.BaseDirectory);
    }

    /// <summary>A free TCP port on 127.0.0.1 (free when asked; the caller binds it right away).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>
/// One Berth server process on 127.0.0.1 with its own data folder: <c>dotnet berth.dll serve</c> (or another
/// executable, e.g. a published single file), stdout and stderr kept for assertions and failure messages.
/// <see cref="StartAsync"/> returns when the port accepts connections (migrations are done by then).
/// </summary>
public sealed class BerthServer : IAsyncDisposable
{
    /// <summary>root's password, handed over in <c>BERTH_ROOT_PASSWORD</c>.</summary>
    public const string RootPassword = "deployment-tests-root-1";

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TempDirectory? _ownedDataDir;
    private readonly ITestOutputHelper? _log;

    private BerthServer(Process process, int port, string scheme, string dataDir, TempDirectory? ownedDataDir, ITestOutputHelper? log)
    {
        _process = process;
        Port = port;
        DataDir = dataDir;
        _ownedDataDir = ownedDataDir;
        _log = log;
        BaseAddress = new Uri($"{scheme}://127.0.0.1:{port}/");
    }

    /// <summary>The listen port.</summary>
    public int Port { get; }

    /// <summary><c>scheme://127.0.0.1:port/</c>.</summary>
    public Uri BaseAddress { get; }

    /// <summary>The data folder.</summary>
    public string DataDir { get; }

    /// <summary>Everything the process wrote so far (stdout and stderr).</summary>
    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    /// <summary>Starts Berth: <c>serve --urls scheme://127.0.0.1:port --data-dir … [arguments]</c>.</summary>
    /// <param name="log">Test output (the server's lines are copied there when it stops).</param>
    /// <param name="scheme"><c>http</c> or <c>https</c>.</param>
    /// <param name="arguments">Extra arguments after the defaults.</param>
    /// <param name="dataDir">The data folder (default: a new temp folder, deleted on dispose).</param>
    /// <param name="executable">A berth executable to run instead of <c>dotnet berth.dll</c>.</param>
    public static async Task<BerthServer> StartAsync(ITestOutputHelper? log, string scheme = "http", IEnumerable<string>? arguments = null,
        string? dataDir = null, string? executable = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        TempDirectory? owned = null;
        if (dataDir is null)
        {
            owned = new TempDirectory("deploy-data");
            dataDir = owned.Path;
        }
        var port = Repository.FreePort();
        var startInfo = executable is null ? new ProcessStartInfo("dotnet") : new ProcessStartInfo(executable);
        if (executable is null) startInfo.ArgumentList.Add(Repository.ServerDll);
        foreach (var a in new[] { "serve", "--urls", $"{scheme}://127.0.0.1:{port}", "--data-dir", dataDir }.Concat(arguments ?? []))
            startInfo.ArgumentList.Add(a);
        startInfo.RedirectStandardOutput = true;
        startInfo.RedirectStandardError = true;
        startInfo.RedirectStandardInput = true;
        startInfo.UseShellExecute = false;
        startInfo.WorkingDirectory = dataDir;
        startInfo.Environment["DOTNET_NOLOGO"] = "1";
        startInfo.Environment["BERTH_ROOT_PASSWORD"] = RootPassword;
        startInfo.Environment["Logging__Console__FormatterName"] = "simple";
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) startInfo.Environment[k] = v;

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        var server = new BerthServer(process, port, scheme, dataDir, owned, log);
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (true)
        {
            if (process.HasExited)
            {
                await Task.Delay(200); // let the output readers drain
                var output = server.Output;
                var exitCode = process.ExitCode;
                await server.DisposeAsync();
                throw new InvalidOperationException($"berth exited with code {exitCode} before listening:\n{output}");
            }
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return server;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
            catch (SocketException)
            {
                var output = server.Output;
                await server.DisposeAsync();
                throw new TimeoutException($"berth did not listen on {port} within 120 s:\n{output}");
            }
        }
    }

    /// <summary>The last lines of the output, for failure messages.</summary>
    public string Tail(int lines = 60)
    {
        var all = Output.Split('\n');
        return "--- berth output (last lines) ---\n" + string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(15));
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
        {
            // already gone
        }
        _process.Dispose();
        try
        {
            _log?.WriteLine(Tail(200));
        }
        catch (InvalidOperationException)
        {
            // no active test
        }
        _ownedDataDir?.Dispose();
    }
}
