using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Berth.Ci.Tests.Infrastructure;

/// <summary>
/// The real Berth process (<c>dotnet src/Berth.Server/bin/&lt;config&gt;/net10.0/berth.dll serve</c>) on a free
/// loopback port with token authentication and a private data folder; root's password comes from
/// <c>BERTH_ROOT_PASSWORD</c>. Offers <c>/api/v4</c> calls as root (password grant at <c>/oauth/token</c>).
/// </summary>
public sealed class BerthServerFixture : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "berth-ci-e2e-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly StringBuilder _log = new();
    private Process? _process;
    private HttpClient? _api;

    public int Port { get; } = FreePort();

    public string Host => $"127.0.0.1:{Port}";

    public Uri BaseAddress => new($"http://{Host}/");

    public string RootPassword { get; } = "ci-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));

    public string ServerLog
    {
        get { lock (_log) return _log.ToString(); }
    }

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_root);
        var dll = ServerDll();
        if (!File.Exists(dll)) throw new FileNotFoundException($"build Berth first (dotnet build Berth.slnx): {dll} is missing", dll);
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false, WorkingDirectory = _root,
        };
        foreach (var a in new[] { dll, "serve", "--urls", $"http://{Host}", "--data-dir", Path.Combine(_root, "data"), "--Auth:Mode", "token", "--Auth:Passwords:Iterations", "1000" })
            info.ArgumentList.Add(a);
        info.Environment["BERTH_ROOT_PASSWORD"] = RootPassword;
        info.Environment["DOTNET_NOLOGO"] = "1";
        _process = Process.Start(info) ?? throw new InvalidOperationException("could not start berth");
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        _process.StandardInput.Close();

        using var probe = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited) throw new InvalidOperationException($"berth exited with {_process.ExitCode}\n{ServerLog}");
            try
            {
                using var response = await probe.GetAsync("v2/");
                if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.OK) break;
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }
            if (deadline.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException("berth did not answer GET /v2/ within 60 s\n" + ServerLog);
            await Task.Delay(200);
        }

        var api = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromMinutes(1) };
        using var form = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "password", ["username"] = "root", ["password"] = RootPassword });
        using var signIn = await api.PostAsync("oauth/token", form);
        var body = await signIn.Content.ReadAsStringAsync();
        if (!signIn.IsSuccessStatusCode) throw new InvalidOperationException($"root sign-in: {(int)signIn.StatusCode} {body}\n{ServerLog}");
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", JsonNode.Parse(body)!["access_token"]!.GetValue<string>());
        _api = api;
    }

    /// <summary>An <c>/api/v4</c> call as root; throws unless it succeeds.</summary>
    public async Task<JsonNode> ApiAsync(HttpMethod method, string path, object? body = null, IDictionary<string, string>? headers = null, bool asRoot = true)
    {
        using var request = new HttpRequestMessage(method, "api/v4/" + path.TrimStart('/'));
        if (body is not null) request.Content = JsonContent.Create(body);
        foreach (var (k, v) in headers ?? new Dictionary<string, string>()) request.Headers.TryAddWithoutValidation(k, v);
        if (!asRoot) request.Headers.Authorization = null;
        using var client = asRoot ? null : new HttpClient { BaseAddress = BaseAddress };
        using var response = await (client ?? _api!).SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"{method} /api/v4/{path} -> {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text.Length == 0 ? "{}" : text)!;
    }

    public async Task DisposeAsync()
    {
        _api?.Dispose();
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process?.Dispose();
        try { Directory.Delete(_root, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static string ServerDll()
    {
        var env = Environment.GetEnvironmentVariable("BERTH_E2E_SERVER_DLL");
        if (!string.IsNullOrWhiteSpace(env)) return env;
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Berth.slnx"))) dir = dir.Parent;
        if (dir is null) throw new DirectoryNotFoundException("no Berth.slnx above " + AppContext.BaseDirectory);
        string[] configurations = AppContext.BaseDirectory.Contains("/bin/Debug/", StringComparison.Ordinal) ? ["Debug", "Release"] : ["Release", "Debug"];
        var candidates = configurations.Select(c => Path.Combine(dir.FullName, "src", "Berth.Server", "bin", c, "net10.0", "berth.dll")).ToList();
        return candidates.FirstOrDefault(File.Exists) ?? candidates[0];
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
