using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Berth.EndToEnd.Tests.Infrastructure;

/// <summary>
/// A CNCF Distribution 2.8 (<c>/usr/bin/docker-registry</c>) process that uses a Berth server as its token
/// server: <c>auth.token</c> with Berth's realm, service, issuer and its <c>/jwt/certificates.pem</c> as the
/// <c>rootcertbundle</c>; filesystem storage in a temp folder; HTTP on a free loopback port. Its log (which
/// says why a token was rejected) is captured for failure messages. Killed and deleted on dispose.
/// </summary>
public sealed class TokenAuthDistribution : IAsyncDisposable
{
    private const string Binary = "/usr/bin/docker-registry";
    private readonly TempDirectory _root = new("distribution-token");
    private readonly StringBuilder _log = new();
    private Process? _process;

    private TokenAuthDistribution(int port) => Port = port;

    /// <summary>The loopback port.</summary>
    public int Port { get; }

    /// <summary><c>127.0.0.1:port</c>.</summary>
    public string Host => $"127.0.0.1:{Port}";

    /// <summary>The configuration file written for the registry.</summary>
    public string Config { get; private set; } = "";

    /// <summary>Everything the registry printed so far.</summary>
    public string Log
    {
        get { lock (_log) { return _log.ToString(); } }
    }

    /// <summary>Downloads Berth's certificate bundle, writes the config, starts the registry and waits for <c>/v2/</c> to challenge.</summary>
    public static async Task<TokenAuthDistribution> StartAsync(RegistryServerFixture berth, CancellationToken cancellationToken)
    {
        if (!File.Exists(Binary))
        {
            throw new FileNotFoundException($"{Binary} is missing; run scripts/install-test-deps.sh", Binary);
        }
        var registry = new TokenAuthDistribution(FreePort());
        try
        {
            await registry.StartCoreAsync(berth, cancellationToken);
            return registry;
        }
        catch
        {
            await registry.DisposeAsync();
            throw;
        }
    }

    private async Task StartCoreAsync(RegistryServerFixture berth, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = berth.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        var bundle = await http.GetStringAsync("jwt/certificates.pem", cancellationToken);
        if (!bundle.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"GET /jwt/certificates.pem returned no certificate:\n{bundle}");
        }
        var bundlePath = _root.Combine("berth.pem");
        await File.WriteAllTextAsync(bundlePath, bundle, cancellationToken);
        var storage = _root.CreateSubdirectory("storage");
        Config = $"""
            version: 0.1
            log:
              level: debug
              accesslog:
                disabled: false
            storage:
              filesystem:
                rootdirectory: {storage}
              delete:
                enabled: true
            http:
              addr: {Host}
              secret: {Guid.NewGuid():N}
            auth:
              token:
                realm: http://{berth.Host}/jwt/auth
                service: container_registry
                issuer: berth
                rootcertbundle: {bundlePath}
            """;
        var configPath = _root.Combine("config.yml");
        await File.WriteAllTextAsync(configPath, Config, cancellationToken);

        var startInfo = new ProcessStartInfo(Binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = _root.Path,
        };
        startInfo.ArgumentList.Add("serve");
        startInfo.ArgumentList.Add(configPath);
        var process = new Process { StartInfo = startInfo };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException($"could not start {Binary}");
        }
        _process = process;
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"docker-registry exited with code {process.ExitCode}\n{Log}");
            }
            try
            {
                using var response = await client.GetAsync($"http://{Host}/v2/", cancellationToken);
                if (response.StatusCode == HttpStatusCode.Unauthorized &&
                    response.Headers.WwwAuthenticate.ToString().Contains($"http://{berth.Host}/jwt/auth", StringComparison.Ordinal))
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            await Task.Delay(100, cancellationToken);
        }
        throw new TimeoutException($"docker-registry did not challenge GET /v2/ within 30 s\n{Log}");
    }

    /// <summary>The last lines of the registry's log, for failure messages.</summary>
    public string LogTail(int lines = 60)
    {
        var all = Log.Split('\n');
        return $"--- docker-registry log (last {Math.Min(lines, all.Length)} lines, port {Port}) ---\n" + string.Join('\n', all.TakeLast(lines));
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_process is { } process)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                }
                await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException)
            {
                // already gone, or stuck: nothing more to do
            }
            process.Dispose();
        }
        _root.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_log)
        {
            _log.AppendLine(line);
        }
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
