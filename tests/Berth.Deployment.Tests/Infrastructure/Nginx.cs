using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.Deployment.Tests.Infrastructure;

/// <summary>
/// Debian's nginx running the documented reverse-proxy config (<c>dist/nginx/berth.conf</c>, shown in
/// docs/reverse-proxy.md) in a temp prefix: only the marked lines are replaced (upstream address, listen
/// address, host name, certificate paths), and the test-only main config puts the pid, logs and temp paths in
/// the prefix and runs one foreground process (<c>daemon off; master_process off;</c>).
/// </summary>
public sealed class Nginx : IAsyncDisposable
{
    /// <summary>The documented config file.</summary>
    public static string DocumentedConfigPath => Path.Combine(Repository.Root, "dist", "nginx", "berth.conf");

    private readonly Process _process;
    private readonly TempDirectory _prefix;
    private readonly ITestOutputHelper _log;

    private Nginx(Process process, TempDirectory prefix, ITestOutputHelper log)
    {
        _process = process;
        _prefix = prefix;
        _log = log;
    }

    /// <summary>The error log so far.</summary>
    public string ErrorLog => File.Exists(_prefix.Combine("error.log")) ? File.ReadAllText(_prefix.Combine("error.log")) : "";

    /// <summary>Starts nginx listening on 127.0.0.1:<paramref name="port"/> in front of Berth on <paramref name="upstreamPort"/>.</summary>
    public static async Task<Nginx> StartAsync(ITestOutputHelper log, int port, int upstreamPort, string serverName, string certificatePath, string keyPath)
    {
        var prefix = new TempDirectory("deploy-nginx");
        var site = await File.ReadAllTextAsync(DocumentedConfigPath);
        site = ReplaceOnce(site, "server 127.0.0.1:5000;", $"server 127.0.0.1:{upstreamPort};");
        site = ReplaceOnce(site, "listen 443 ssl http2;", $"listen 127.0.0.1:{port} ssl http2;");
        site = ReplaceOnce(site, "server_name registry.example.com;", $"server_name {serverName};");
        site = ReplaceOnce(site, "/etc/nginx/tls/fullchain.pem", certificatePath);
        site = ReplaceOnce(site, "/etc/nginx/tls/privkey.pem", keyPath);
        await File.WriteAllTextAsync(prefix.Combine("berth.conf"), site);
        var p = prefix.Path;
        await File.WriteAllTextAsync(prefix.Combine("nginx.conf"), $$"""
            daemon off;
            master_process off;
            worker_processes 1;
            pid {{p}}/nginx.pid;
            error_log {{p}}/error.log info;
            events { worker_connections 256; }
            http {
                access_log {{p}}/access.log;
                client_body_temp_path {{p}}/client_body;
                proxy_temp_path {{p}}/proxy;
                fastcgi_temp_path {{p}}/fastcgi;
                uwsgi_temp_path {{p}}/uwsgi;
                scgi_temp_path {{p}}/scgi;
                include {{p}}/berth.conf;
            }
            """);

        var test = await ProcessRunner.RunAsync("nginx", ["-t", "-e", prefix.Combine("error.log"), "-p", p, "-c", prefix.Combine("nginx.conf")],
            p, null, TimeSpan.FromSeconds(30), log.WriteLine);
        Assert.True(test.Succeeded, "nginx -t refused the documented config:\n" + test.Describe());

        var startInfo = new ProcessStartInfo("nginx") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true, WorkingDirectory = p };
        foreach (var a in new[] { "-e", prefix.Combine("error.log"), "-p", p, "-c", prefix.Combine("nginx.conf") }) startInfo.ArgumentList.Add(a);
        var process = Process.Start(startInfo)!;
        var nginx = new Nginx(process, prefix, log);
        for (int i = 0; ; i++)
        {
            if (process.HasExited)
            {
                var message = $"nginx exited with {process.ExitCode}:\n{nginx.ErrorLog}";
                await nginx.DisposeAsync();
                throw new InvalidOperationException(message);
            }
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return nginx;
            }
            catch (SocketException) when (i < 100)
            {
                await Task.Delay(100);
            }
        }
    }

    private static string ReplaceOnce(string text, string marker, string replacement)
    {
        var count = (text.Length - text.Replace(marker, "", StringComparison.Ordinal).Length) / marker.Length;
        Assert.True(count == 1, $"'{marker}' occurs {count} times in {DocumentedConfigPath}; the test replaces exactly one occurrence");
        return text.Replace(marker, replacement, StringComparison.Ordinal);
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
        {
        }
        _process.Dispose();
        try
        {
            var errors = ErrorLog.Split('\n').Where(l => l.Contains("[error]", StringComparison.Ordinal) || l.Contains("[crit]", StringComparison.Ordinal) || l.Contains("[warn]", StringComparison.Ordinal));
            _log.WriteLine("--- nginx warnings and errors ---\n" + string.Join('\n', errors));
        }
        catch (InvalidOperationException)
        {
        }
        _prefix.Dispose();
    }
}
