using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Berth.EndToEnd.Tests.Infrastructure;

/// <summary>Which registry server the end-to-end tests drive.</summary>
public enum RegistryTarget
{
    /// <summary>Berth itself: <c>dotnet src/Berth.Server/bin/&lt;config&gt;/net10.0/berth.dll serve …</c>.</summary>
    Berth,

    /// <summary>CNCF Distribution 2.8 from Debian (<c>/usr/bin/docker-registry</c>), the reference behaviour.</summary>
    Distribution,
}

/// <summary>
/// Starts one real registry server process on a free loopback port with a private data directory,
/// waits until <c>GET /v2/</c> answers, captures its output, and kills it and deletes its data on
/// dispose. Used as an xunit collection fixture, so one server serves a whole collection.
/// Against Berth it also signs in as <c>root</c> and creates the group and project of
/// <see cref="RepositoryPrefix"/> (private, Container Registry on), and offers account helpers
/// (users, groups, projects, members, tokens, 2FA) for the access tests.
/// </summary>
/// <remarks>
/// Environment:
/// <list type="bullet">
/// <item><c>BERTH_E2E_TARGET</c>: <c>berth</c> (default) or <c>distribution</c>.</item>
/// <item><c>BERTH_E2E_SERVER_DLL</c>: path of berth.dll (default: found under the repository root).</item>
/// <item><c>BERTH_E2E_SERVER_ARGS</c>: extra arguments appended to <c>serve …</c> (split on spaces).</item>
/// <item><c>BERTH_E2E_USERNAME</c>/<c>BERTH_E2E_PASSWORD</c>: credentials every client uses. Against Berth the
/// defaults are <c>root</c> and a random password, given to the server as <c>BERTH_ROOT_PASSWORD</c>; the
/// server runs with <c>--Auth:Mode token</c>, so every client goes through real token authentication.</item>
/// <item><c>BERTH_E2E_REPOSITORY_PREFIX</c>: namespace/project the tests push into (default <c>group/project</c>).</item>
/// <item><c>BERTH_E2E_LOG_DIR</c>: if set, the server's output is also written to a file there.</item>
/// </list>
/// </remarks>
public sealed partial class RegistryServerFixture : IAsyncLifetime
{
    private static readonly TimeSpan StartupTimeout = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _root = new("server");
    private readonly StringBuilder _log = new();
    private readonly string _httpSecret = Convert.ToHexString(RandomNumberGenerator.GetBytes(32));
    private readonly string? _logFile;
    private Process? _process;
    private int _generation;

    /// <summary>Reads the target and settings from the environment and picks a free port.</summary>
    public RegistryServerFixture()
    {
        Target = ParseTarget(Environment.GetEnvironmentVariable("BERTH_E2E_TARGET"));
        Port = GetFreeLoopbackPort();
        DataDirectory = _root.CreateSubdirectory("data");
        Username = NullIfEmpty(Environment.GetEnvironmentVariable("BERTH_E2E_USERNAME"));
        Password = NullIfEmpty(Environment.GetEnvironmentVariable("BERTH_E2E_PASSWORD"));
        if (Target == RegistryTarget.Berth)
        {
            // Real token authentication as the instance administrator unless told otherwise.
            Username ??= RootUsername;
            RootPassword = Username == RootUsername && Password is not null ? Password : "e2e-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
            Password ??= RootPassword;
        }
        RepositoryPrefix = (NullIfEmpty(Environment.GetEnvironmentVariable("BERTH_E2E_REPOSITORY_PREFIX")) ?? "group/project").Trim('/');
        var logDir = NullIfEmpty(Environment.GetEnvironmentVariable("BERTH_E2E_LOG_DIR"));
        if (logDir is not null)
        {
            Directory.CreateDirectory(logDir);
            _logFile = Path.Combine(logDir, $"server-{Target.ToString().ToLowerInvariant()}-{Port}.log");
        }
    }

    /// <summary>The server under test.</summary>
    public RegistryTarget Target { get; }

    /// <summary>The loopback TCP port the server listens on (kept across restarts).</summary>
    public int Port { get; }

    /// <summary><c>127.0.0.1:port</c>, the registry host in image references.</summary>
    public string Host => $"127.0.0.1:{Port}";

    /// <summary><c>http://127.0.0.1:port/</c>.</summary>
    public Uri BaseAddress => new($"http://{Host}/");

    /// <summary>The server's data directory (kept across restarts, deleted on dispose).</summary>
    public string DataDirectory { get; }

    /// <summary>User name every client signs in with, or null for anonymous access.</summary>
    public string? Username { get; }

    /// <summary>Password (or personal access token) for <see cref="Username"/>.</summary>
    public string? Password { get; }

    /// <summary>Whether clients should send credentials.</summary>
    public bool HasCredentials => Username is not null && Password is not null;

    /// <summary>The <c>namespace/project</c> repositories are created under.</summary>
    public string RepositoryPrefix { get; }

    /// <summary>Extra arguments for Berth's <c>serve</c> (e.g. <c>--Notifications:Endpoints:0:Url …</c>), used from the next (re)start on.</summary>
    public List<string> ExtraArguments { get; } = [];

    /// <summary>The running server's process id (null while stopped), e.g. to look at its open files in <c>/proc</c>.</summary>
    public int? ProcessId => _process?.Id;

    /// <summary>How many times the server process has been started.</summary>
    public int Generation => _generation;

    /// <summary>A unique repository name under <see cref="RepositoryPrefix"/>, e.g. <c>group/project/app-1a2b3c</c>.</summary>
    public string NewRepository(string image) => $"{RepositoryPrefix}/{image}-{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>An <see cref="HttpClient"/> for the registry, with HTTP Basic credentials if configured.</summary>
    public HttpClient CreateHttpClient()
    {
        var client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = true, PooledConnectionLifetime = TimeSpan.FromSeconds(5) })
        {
            BaseAddress = BaseAddress,
            Timeout = TimeSpan.FromMinutes(2),
        };
        if (HasCredentials)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(
                "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Username}:{Password}")));
        }
        return client;
    }

    /// <summary>Everything the server printed so far (all generations).</summary>
    public string ServerLog
    {
        get { lock (_log) { return _log.ToString(); } }
    }

    /// <summary>The last <paramref name="lines"/> lines of the server output, for failure messages.</summary>
    public string ServerLogTail(int lines = 80)
    {
        var all = ServerLog.Split('\n');
        return $"--- {Target} server log (last {Math.Min(lines, all.Length)} lines, port {Port}) ---\n" +
               string.Join('\n', all.TakeLast(lines));
    }

    /// <inheritdoc />
    public Task InitializeAsync() => StartAsync(CancellationToken.None);

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        await StopAsync(graceful: false, CancellationToken.None);
        _api?.Dispose();
        _apiLock.Dispose();
        _root.Dispose();
    }

    /// <summary>
    /// Stops the server (SIGTERM and wait, or SIGKILL when <paramref name="graceful"/> is false) and
    /// starts it again on the same port and data directory.
    /// </summary>
    public async Task RestartAsync(bool graceful, CancellationToken cancellationToken)
    {
        await StopAsync(graceful, cancellationToken);
        await StartAsync(cancellationToken);
    }

    private async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_process is not null)
        {
            throw new InvalidOperationException("server already running");
        }
        _generation++;
        var startInfo = Target switch
        {
            RegistryTarget.Distribution => DistributionStartInfo(),
            _ => BerthStartInfo(),
        };
        startInfo.RedirectStandardOutput = true;
        startInfo.RedirectStandardError = true;
        startInfo.RedirectStandardInput = true;
        startInfo.UseShellExecute = false;
        startInfo.WorkingDirectory = _root.Path;

        AppendLog($"=== start #{_generation}: {startInfo.FileName} {string.Join(' ', startInfo.ArgumentList)}");
        var process = new Process { StartInfo = startInfo };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { AppendLog(e.Data); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { AppendLog(e.Data); } };
        if (!process.Start())
        {
            throw new InvalidOperationException($"could not start {startInfo.FileName}");
        }
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;

        await WaitUntilReadyAsync(process, cancellationToken);
        if (Target == RegistryTarget.Berth)
        {
            await ProvisionAsync(cancellationToken);
        }
    }

    private async Task WaitUntilReadyAsync(Process process, CancellationToken cancellationToken)
    {
        using var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = Stopwatch.StartNew();
        string last = "no answer yet";
        while (deadline.Elapsed < StartupTimeout)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (process.HasExited)
            {
                throw new InvalidOperationException(
                    $"{Target} server exited with code {process.ExitCode} before answering GET /v2/\n{ServerLogTail(200)}");
            }
            try
            {
                using var response = await client.GetAsync("v2/", cancellationToken);
                // 200 when anonymous access is allowed; 401 means the server is up and wants a token.
                if (response.StatusCode == HttpStatusCode.OK ||
                    (response.StatusCode == HttpStatusCode.Unauthorized && response.Headers.WwwAuthenticate.Count > 0))
                {
                    AppendLog($"=== ready after {deadline.Elapsed.TotalSeconds:F1} s (GET /v2/ -> {(int)response.StatusCode})");
                    return;
                }
                last = $"GET /v2/ -> {(int)response.StatusCode}";
            }
            catch (HttpRequestException e)
            {
                last = e.Message;
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                last = "GET /v2/ timed out";
            }
            await Task.Delay(200, cancellationToken);
        }
        await StopAsync(graceful: false, CancellationToken.None);
        throw new TimeoutException($"{Target} server did not answer GET /v2/ with 200 within {StartupTimeout.TotalSeconds} s ({last})\n{ServerLogTail(200)}");
    }

    private async Task StopAsync(bool graceful, CancellationToken cancellationToken)
    {
        var process = _process;
        _process = null;
        if (process is null)
        {
            return;
        }
        try
        {
            if (!process.HasExited)
            {
                if (graceful)
                {
                    AppendLog("=== stopping (SIGTERM)");
                    using var term = Process.Start(new ProcessStartInfo("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false });
                    term?.WaitForExit(5_000);
                    using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    wait.CancelAfter(TimeSpan.FromSeconds(20));
                    try
                    {
                        await process.WaitForExitAsync(wait.Token);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        AppendLog("=== did not stop within 20 s after SIGTERM; killing");
                    }
                }
                if (!process.HasExited)
                {
                    AppendLog("=== killing (SIGKILL)");
                    process.Kill(entireProcessTree: true);
                }
            }
            await process.WaitForExitAsync(cancellationToken);
            AppendLog($"=== exited with code {process.ExitCode}");
        }
        catch (InvalidOperationException)
        {
            // the process already went away
        }
        finally
        {
            process.Dispose();
        }
    }

    private ProcessStartInfo BerthStartInfo()
    {
        var dll = ServerDll;
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"Berth server not found at {dll}; build it first: dotnet build Berth.slnx -c Release", dll);
        }
        var startInfo = new ProcessStartInfo("dotnet");
        foreach (var argument in new[] { dll, "serve", "--urls", $"http://{Host}", "--data-dir", DataDirectory, "--Auth:Mode", "token" })
        {
            startInfo.ArgumentList.Add(argument);
        }
        foreach (var argument in ExtraArguments)
        {
            startInfo.ArgumentList.Add(argument);
        }
        var extra = Environment.GetEnvironmentVariable("BERTH_E2E_SERVER_ARGS");
        if (!string.IsNullOrWhiteSpace(extra))
        {
            foreach (var argument in extra.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                startInfo.ArgumentList.Add(argument);
            }
        }
        startInfo.Environment["DOTNET_NOLOGO"] = "1";
        startInfo.Environment["BERTH_ROOT_PASSWORD"] = RootPassword;
        return startInfo;
    }

    private ProcessStartInfo DistributionStartInfo()
    {
        const string binary = "/usr/bin/docker-registry";
        if (!File.Exists(binary))
        {
            throw new FileNotFoundException($"{binary} is missing; run scripts/install-test-deps.sh", binary);
        }
        // A fixed http.secret is what lets an upload session (its state is HMAC-signed into the
        // Location URL) survive a restart; the storage purger is off so sessions stay put.
        var config = $"""
            version: 0.1
            log:
              level: info
              accesslog:
                disabled: false
            storage:
              filesystem:
                rootdirectory: {DataDirectory}
              delete:
                enabled: true
              maintenance:
                uploadpurging:
                  enabled: false
            http:
              addr: {Host}
              secret: {_httpSecret}
            """;
        var configPath = _root.Combine("config.yml");
        File.WriteAllText(configPath, config);
        var startInfo = new ProcessStartInfo(binary);
        startInfo.ArgumentList.Add("serve");
        startInfo.ArgumentList.Add(configPath);
        return startInfo;
    }

    /// <summary>The berth.dll the fixture runs (<c>BERTH_E2E_SERVER_DLL</c> or the one built in this repository).</summary>
    public static string ServerDll => NullIfEmpty(Environment.GetEnvironmentVariable("BERTH_E2E_SERVER_DLL")) ?? FindBerthServerDll();

    /// <summary>
    /// Finds berth.dll under the repository root: the configuration this test assembly was built
    /// with first (Release or Debug), then the other one.
    /// </summary>
    private static string FindBerthServerDll()
    {
        var root = RepositoryRoot.Find();
        var baseDirectory = AppContext.BaseDirectory.Replace('\\', '/');
        string[] configurations = baseDirectory.Contains("/bin/Debug/", StringComparison.Ordinal)
            ? ["Debug", "Release"]
            : ["Release", "Debug"];
        var candidates = configurations
            .Select(c => Path.Combine(root, "src", "Berth.Server", "bin", c, "net10.0", "berth.dll"))
            .ToList();
        return candidates.FirstOrDefault(File.Exists) ?? candidates[0];
    }

    private void AppendLog(string line)
    {
        var stamped = $"{DateTime.UtcNow:HH:mm:ss.fff} {line}";
        lock (_log)
        {
            _log.AppendLine(stamped);
            if (_logFile is not null)
            {
                try
                {
                    File.AppendAllText(_logFile, stamped + "\n");
                }
                catch (IOException)
                {
                    // diagnostics only
                }
            }
        }
    }

    private static RegistryTarget ParseTarget(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "berth" => RegistryTarget.Berth,
        "distribution" or "docker-registry" => RegistryTarget.Distribution,
        _ => throw new ArgumentException($"BERTH_E2E_TARGET must be 'berth' or 'distribution', not '{value}'"),
    };

    /// <summary>A TCP port on 127.0.0.1 that was free a moment ago.</summary>
    internal static int GetFreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}

/// <summary>Locates the repository root: the nearest ancestor of the test binaries holding <c>Berth.slnx</c>.</summary>
public static class RepositoryRoot
{
    /// <summary>Walks up from <see cref="AppContext.BaseDirectory"/>; throws if no <c>Berth.slnx</c> is found.</summary>
    public static string Find()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Berth.slnx")))
            {
                return directory.FullName;
            }
        }
        throw new DirectoryNotFoundException($"no Berth.slnx above {AppContext.BaseDirectory}");
    }
}
