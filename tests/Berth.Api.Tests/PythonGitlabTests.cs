using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Xunit.Abstractions;

namespace Berth.Api.Tests;

/// <summary>
/// python-gitlab (Debian's python3-gitlab), a real GitLab API client, drives a real Berth process:
/// <c>python/gitlab_client.py</c> creates a group, a subgroup, a project, a user, memberships, a personal
/// access token and a deploy token, toggles the registry, reads everything back and asserts;
/// <c>python/registry_client.py</c> drives the container registry API and checks with skopeo. The root token
/// comes from the <c>berth token create</c> CLI verb run while the server is up.
/// </summary>
public sealed class PythonGitlabTests(ITestOutputHelper output)
{
    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Berth.slnx"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Berth.slnx not found above " + AppContext.BaseDirectory);
    }

    /// <summary>berth.dll of the same configuration as this test assembly (Debug or Release).</summary>
    private static string ServerDll()
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent?.Name ?? "Debug"; // …/bin/<Configuration>/net10.0/
        var dll = Path.Combine(RepositoryRoot(), "src", "Berth.Server", "bin", configuration, "net10.0", "berth.dll");
        return File.Exists(dll) ? dll : Path.Combine(AppContext.BaseDirectory, "berth.dll");
    }

    private static string Python() => File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static ProcessStartInfo Start(string file, IEnumerable<string> args, IDictionary<string, string>? env = null)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        if (env is not null) foreach (var (k, v) in env) info.Environment[k] = v;
        return info;
    }

    private static async Task<(int Code, string Stdout, string Stderr)> RunAsync(ProcessStartInfo info, TimeSpan timeout)
    {
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{info.FileName} {string.Join(' ', info.ArgumentList)} did not finish in {timeout}: {await stdout}{await stderr}");
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public Task Python_gitlab_drives_the_api() => RunScriptAsync("gitlab_client.py", "python-gitlab: all checks passed");

    /// <summary>python-gitlab's container registry calls (repositories, tags, tag delete, bulk deletes with keep_n and
    /// name_regex_delete, repository delete), checked with <c>skopeo list-tags</c>.</summary>
    [Fact]
    public Task Python_gitlab_manages_the_container_registry() => RunScriptAsync("registry_client.py", "python-gitlab registry: all checks passed");

    /// <summary>Starts a real Berth process (the lifecycle worker ticking every second), makes a root token with the
    /// CLI, runs <paramref name="scriptName"/> from <c>python/</c> against it and expects <paramref name="success"/>.</summary>
    private async Task RunScriptAsync(string scriptName, string success)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "berth-api-tests", "py-" + Guid.NewGuid().ToString("N"));
        var port = FreePort();
        var url = $"http://127.0.0.1:{port}";
        var dll = ServerDll();
        const string rootPassword = "python-gitlab-root-pw";
        var env = new Dictionary<string, string> { ["BERTH_ROOT_PASSWORD"] = rootPassword, ["BERTH_Registry__Lifecycle__IntervalSeconds"] = "1" };
        var serverLog = new StringBuilder();
        using var server = new Process { StartInfo = Start("dotnet", [dll, "serve", "--urls", url, "--data-dir", dataDir], env) };
        server.OutputDataReceived += (_, e) => { lock (serverLog) serverLog.AppendLine(e.Data); };
        server.ErrorDataReceived += (_, e) => { lock (serverLog) serverLog.AppendLine(e.Data); };
        server.Start();
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (true)
            {
                try
                {
                    using var response = await http.GetAsync(url + "/api/v4/user");
                    if (response.StatusCode == HttpStatusCode.Unauthorized) break;
                }
                catch (HttpRequestException)
                {
                }
                Assert.False(server.HasExited, "server exited: " + serverLog);
                Assert.True(DateTime.UtcNow < deadline, "server did not start: " + serverLog);
                await Task.Delay(200);
            }

            var token = await RunAsync(Start("dotnet", [dll, "token", "create", "root", "--scopes", "api", "--name", "python-gitlab", "--data-dir", dataDir], env), TimeSpan.FromMinutes(2));
            Assert.True(token.Code == 0, $"berth token create failed ({token.Code}): {token.Stderr}");

            var script = Path.Combine(AppContext.BaseDirectory, "python", scriptName);
            var run = await RunAsync(Start(Python(), [script], new Dictionary<string, string>
            {
                ["BERTH_URL"] = url,
                ["BERTH_TOKEN"] = token.Stdout.Trim(),
                ["BERTH_ROOT_PASSWORD"] = rootPassword,
                ["PYTHONUNBUFFERED"] = "1",
            }), TimeSpan.FromMinutes(3));
            output.WriteLine(run.Stdout);
            output.WriteLine(run.Stderr);
            Assert.True(run.Code == 0, $"python-gitlab script failed ({run.Code}):\n{run.Stdout}\n{run.Stderr}\n--- server log ---\n{serverLog}");
            Assert.Contains(success, run.Stdout);
        }
        finally
        {
            if (!server.HasExited) server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync();
            try { Directory.Delete(dataDir, true); } catch (IOException) { }
        }
    }
}
