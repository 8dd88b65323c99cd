using System.Diagnostics;
using System.Net;
using Berth.Tests.Shared;

namespace Berth.ScaleOut.Tests.Infrastructure;

/// <summary>One Berth replica: <c>dotnet berth.dll serve</c> on its own loopback port and data folder, configured by
/// <c>BERTH_</c> environment variables; ready when <c>/-/health/ready</c> answers 200.</summary>
public sealed class BerthProcess : IAsyncDisposable
{
    private readonly IReadOnlyDictionary<string, string> _environment;
    private readonly string _dataDir;
    private TestProcesses.Background? _process;
    private readonly System.Text.StringBuilder _previousLogs = new();

    public BerthProcess(string name, IReadOnlyDictionary<string, string> environment, string dataDir)
    {
        Name = name;
        _environment = environment;
        _dataDir = dataDir;
        Port = TestProcesses.GetFreeLoopbackPort();
    }

    public string Name { get; }

    public int Port { get; }

    public Uri BaseAddress => new($"http://127.0.0.1:{Port}/");

    public bool IsRunning => _process is { HasExited: false };

    public string Log => _previousLogs + (_process?.Log ?? "");

    public string LogTail(int lines = 60) => $"--- {Name} (port {Port}) ---\n" + string.Join('\n', Log.Split('\n').TakeLast(lines));

    /// <summary>berth.dll built in this repository (the configuration this test assembly was built with first).</summary>
    public static string ServerDll
    {
        get
        {
            var root = AppContext.BaseDirectory;
            while (root is not null && !File.Exists(Path.Combine(root, "Berth.slnx"))) root = Path.GetDirectoryName(root.TrimEnd('/'));
            if (root is null) throw new DirectoryNotFoundException("no Berth.slnx above the test binaries");
            string[] configurations = AppContext.BaseDirectory.Contains("/bin/Debug/", StringComparison.Ordinal) ? ["Debug", "Release"] : ["Release", "Debug"];
            var candidates = configurations.Select(c => Path.Combine(root, "src", "Berth.Server", "bin", c, "net10.0", "berth.dll")).ToList();
            return candidates.FirstOrDefault(File.Exists) ?? throw new FileNotFoundException("berth.dll is not built: dotnet build Berth.slnx", candidates[0]);
        }
    }

    public async Task StartAsync()
    {
        if (IsRunning) throw new InvalidOperationException($"{Name} is running");
        if (_process is not null)
        {
            _previousLogs.Append(_process.Log).AppendLine("=== restarted ===");
            await _process.DisposeAsync();
        }
        Directory.CreateDirectory(_dataDir);
        var environment = new Dictionary<string, string>(_environment) { ["DOTNET_NOLOGO"] = "1" };
        _process = new TestProcesses.Background("dotnet",
            [ServerDll, "serve", "--urls", $"http://127.0.0.1:{Port}", "--data-dir", _dataDir, "--Auth:Mode", "token"], environment, _dataDir);
        await WaitReadyAsync(TimeSpan.FromSeconds(90));
    }

    private async Task WaitReadyAsync(TimeSpan timeout)
    {
        using var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
        var watch = Stopwatch.StartNew();
        string last = "no answer";
        while (watch.Elapsed < timeout)
        {
            if (_process!.HasExited) throw new InvalidOperationException($"{Name} exited before it was ready\n{LogTail(120)}");
            try
            {
                using var response = await client.GetAsync("-/health/ready");
                if (response.StatusCode == HttpStatusCode.OK) return;
                last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                last = ex.Message;
            }
            await Task.Delay(200);
        }
        throw new TimeoutException($"{Name} was not ready within {timeout.TotalSeconds} s ({last})\n{LogTail(120)}");
    }

    /// <summary>Kills the process at once (SIGKILL), like a crashed machine.</summary>
    public Task KillAsync() => _process?.KillAsync() ?? Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (_process is not null) await _process.DisposeAsync();
    }
}
