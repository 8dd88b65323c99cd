using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Berth.Tests.Shared;

/// <summary>Small helpers shared by the test projects that start real servers (moto, PostgreSQL, nginx, Berth).</summary>
public static class TestProcesses
{
    /// <summary>A TCP port on 127.0.0.1 that was free a moment ago.</summary>
    public static int GetFreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>Waits until something accepts TCP connections on 127.0.0.1:<paramref name="port"/>.</summary>
    public static async Task WaitForPortAsync(int port, TimeSpan timeout, Func<bool>? hasExited = null, Func<string>? describe = null)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < timeout)
        {
            if (hasExited?.Invoke() == true) throw new InvalidOperationException($"the process exited before listening on port {port}\n{describe?.Invoke()}");
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }
        throw new TimeoutException($"nothing listened on 127.0.0.1:{port} within {timeout.TotalSeconds} s\n{describe?.Invoke()}");
    }

    /// <summary>Runs a program to its end; returns exit code and combined output.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string fileName, IEnumerable<string> arguments, IDictionary<string, string>? environment = null, TimeSpan? timeout = null, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (workingDirectory is not null) info.WorkingDirectory = workingDirectory;
        foreach (var a in arguments) info.ArgumentList.Add(a);
        if (environment is not null) foreach (var (k, v) in environment) info.Environment[k] = v;
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {fileName}");
        var output = new StringBuilder();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', arguments)} did not finish in time");
        }
        output.Append(await stdout).Append(await stderr);
        return (process.ExitCode, output.ToString());
    }

    /// <summary>Runs a program and throws with its output unless it exits 0.</summary>
    public static async Task<string> RunCheckedAsync(string fileName, IEnumerable<string> arguments, IDictionary<string, string>? environment = null, TimeSpan? timeout = null)
    {
        var list = arguments.ToList();
        var (code, output) = await RunAsync(fileName, list, environment, timeout);
        if (code != 0) throw new InvalidOperationException($"{fileName} {string.Join(' ', list)} exited with {code}:\n{output}");
        return output;
    }

    /// <summary>A background process whose output is kept; killed with its children on dispose.</summary>
    public sealed class Background : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _log = new();

        public Background(string fileName, IEnumerable<string> arguments, IDictionary<string, string>? environment = null, string? workingDirectory = null)
        {
            var info = new ProcessStartInfo(fileName)
            {
                RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
            };
            if (workingDirectory is not null) info.WorkingDirectory = workingDirectory;
            foreach (var a in arguments) info.ArgumentList.Add(a);
            if (environment is not null) foreach (var (k, v) in environment) info.Environment[k] = v;
            _process = new Process { StartInfo = info };
            _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
            _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
            if (!_process.Start()) throw new InvalidOperationException($"could not start {fileName}");
            _process.StandardInput.Close();
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public int Id => _process.Id;

        public bool HasExited => _process.HasExited;

        public string Log { get { lock (_log) return _log.ToString(); } }

        public string LogTail(int lines = 60) => string.Join('\n', Log.Split('\n').TakeLast(lines));

        /// <summary>Kills the process (and its children) at once, like a crash.</summary>
        public async Task KillAsync()
        {
            try
            {
                if (!_process.HasExited) _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
            catch (InvalidOperationException)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            await KillAsync();
            _process.Dispose();
        }
    }
}
