using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Playwright;

namespace Berth.Web.Tests.Infrastructure;

/// <summary>The collection of browser tests: one Berth process and one Chromium for all of them.</summary>
[CollectionDefinition(Name)]
public sealed class WebCollection : ICollectionFixture<WebFixture>
{
    /// <summary>Collection name.</summary>
    public const string Name = "web";
}

/// <summary>
/// Starts the real Berth server process (<c>dotnet src/Berth.Server/bin/&lt;config&gt;/net10.0/berth.dll serve</c>)
/// on a free loopback port with a temp data folder and <c>BERTH_ROOT_PASSWORD</c>, and Debian's Chromium
/// through Playwright (no browser download). Kills both on dispose.
/// </summary>
public sealed class WebFixture : IAsyncLifetime
{
    private readonly TempFolder _root = new("server");
    private readonly StringBuilder _log = new();
    private Process? _server;

    /// <summary>The loopback port.</summary>
    public int Port { get; } = FreePort();

    /// <summary><c>127.0.0.1:port</c>: the registry host.</summary>
    public string Host => $"127.0.0.1:{Port}";

    /// <summary><c>http://127.0.0.1:port</c>.</summary>
    public string BaseUrl => $"http://{Host}";

    /// <summary>root's password.</summary>
    public string RootPassword { get; } = "web-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));

    /// <summary>Playwright.</summary>
    public IPlaywright Playwright { get; private set; } = null!;

    /// <summary>The browser.</summary>
    public IBrowser Browser { get; private set; } = null!;

    /// <summary>Where screenshots go: <c>artifacts/screenshots</c> at the repository root.</summary>
    public static string ScreenshotDirectory => Path.Combine(RepositoryRoot.Path, "artifacts", "screenshots");

    /// <summary>The server's output so far.</summary>
    public string ServerLog
    {
        get { lock (_log) return _log.ToString(); }
    }

    /// <inheritdoc/>
    public async Task InitializeAsync()
    {
        var dll = ServerDll();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = _root.Path,
        };
        foreach (var a in new[] { dll, "serve", "--urls", BaseUrl, "--data-dir", _root.Sub("data"), "--Auth:Mode", "token" }) start.ArgumentList.Add(a);
        start.Environment["BERTH_ROOT_PASSWORD"] = RootPassword;
        start.Environment["DOTNET_NOLOGO"] = "1";
        _server = Process.Start(start) ?? throw new InvalidOperationException("cannot start the server");
        _server.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
        _server.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
        _server.BeginOutputReadLine();
        _server.BeginErrorReadLine();
        _server.StandardInput.Close();

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var watch = Stopwatch.StartNew();
        while (true)
        {
            if (_server.HasExited) throw new InvalidOperationException($"server exited with {_server.ExitCode}\n{ServerLog}");
            try
            {
                using var response = await http.GetAsync(BaseUrl + "/v2/");
                if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.OK) break;
            }
            catch (HttpRequestException)
            {
            }
            if (watch.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException("server did not start\n" + ServerLog);
            await Task.Delay(200);
        }

        Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        Browser = await Playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = File.Exists("/usr/lib/chromium/chromium") ? "/usr/lib/chromium/chromium" : "/usr/bin/chromium",
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        });
        Directory.CreateDirectory(ScreenshotDirectory);
    }

    /// <summary>A fresh browser context (own cookies) with a page, 1280×800.</summary>
    public async Task<IPage> NewPageAsync()
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = BaseUrl,
            ViewportSize = new ViewportSize { Width = 1280, Height = 800 },
            Permissions = ["clipboard-read", "clipboard-write"],
        });
        context.SetDefaultTimeout(15_000);
        return await context.NewPageAsync();
    }

    /// <summary>Signs in with a password (no 2FA) and waits for the dashboard.</summary>
    public static async Task SignInAsync(IPage page, string username, string password)
    {
        await page.GotoAsync("/users/sign_in");
        await page.GetByLabel("Username or e-mail").FillAsync(username);
        await page.GetByLabel("Password").FillAsync(password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.WaitForURLAsync(url => !url.Contains("/users/sign_in", StringComparison.Ordinal));
    }

    /// <summary>Saves a full-page screenshot as <c>artifacts/screenshots/&lt;name&gt;.png</c> (and to extra paths).</summary>
    public static async Task ScreenshotAsync(IPage page, string name, params string[] alsoTo)
    {
        var path = Path.Combine(ScreenshotDirectory, name + ".png");
        var bytes = await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        foreach (var extra in alsoTo)
        {
            var target = Path.Combine(RepositoryRoot.Path, extra);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            await File.WriteAllBytesAsync(target, bytes);
        }
    }

    /// <inheritdoc/>
    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.CloseAsync();
        Playwright?.Dispose();
        if (_server is { HasExited: false })
        {
            _server.Kill(entireProcessTree: true);
            await _server.WaitForExitAsync();
        }
        _server?.Dispose();
        _root.Dispose();
    }

    private static string ServerDll()
    {
        var configurations = AppContext.BaseDirectory.Contains("/bin/Release/", StringComparison.Ordinal) ? new[] { "Release", "Debug" } : ["Debug", "Release"];
        foreach (var c in configurations)
        {
            var path = Path.Combine(RepositoryRoot.Path, "src", "Berth.Server", "bin", c, "net10.0", "berth.dll");
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException("build src/Berth.Server first (dotnet build Berth.slnx)");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
