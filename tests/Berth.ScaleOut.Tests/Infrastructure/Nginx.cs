using Berth.Tests.Shared;

namespace Berth.ScaleOut.Tests.Infrastructure;

/// <summary>
/// nginx (Debian's package) as a round-robin load balancer in front of the replicas, with the settings a registry
/// needs (see docs/production.md): no body size limit, no request or response buffering, long timeouts, retry on the
/// next replica when one is down. Runs in the foreground as one process (<c>master_process off</c>) with every path
/// in its own temp folder; the access log records which replica (<c>$upstream_addr</c>) served each request.
/// </summary>
public sealed class Nginx : IAsyncDisposable
{
    private readonly string _dir;
    private readonly TestProcesses.Background _process;

    private Nginx(string dir, int port, TestProcesses.Background process)
    {
        _dir = dir;
        Port = port;
        _process = process;
    }

    public int Port { get; }

    public string Host => $"127.0.0.1:{Port}";

    public Uri BaseAddress => new($"http://{Host}/");

    public string AccessLog => File.Exists(Path.Combine(_dir, "access.log")) ? File.ReadAllText(Path.Combine(_dir, "access.log")) : "";

    public string ErrorLog => File.Exists(Path.Combine(_dir, "error.log")) ? File.ReadAllText(Path.Combine(_dir, "error.log")) : "";

    public static async Task<Nginx> StartAsync(IEnumerable<int> upstreamPorts)
    {
        var dir = Path.Combine(Path.GetTempPath(), "berth-nginx-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        int port = TestProcesses.GetFreeLoopbackPort();
        var servers = string.Join("\n", upstreamPorts.Select(p => $"        server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;"));
        var config = $$"""
            daemon off;
            master_process off;
            worker_processes 1;
            pid {{dir}}/nginx.pid;
            error_log {{dir}}/error.log warn;
            events { worker_connections 512; }
            http {
                log_format upstream '$remote_addr "$request" $status $body_bytes_sent upstream=$upstream_addr';
                access_log {{dir}}/access.log upstream;
                client_body_temp_path {{dir}}/client_body;
                proxy_temp_path {{dir}}/proxy;
                fastcgi_temp_path {{dir}}/fastcgi;
                uwsgi_temp_path {{dir}}/uwsgi;
                scgi_temp_path {{dir}}/scgi;
                upstream berth {
            {{servers}}
                    keepalive 16;
                }
                server {
                    listen 127.0.0.1:{{port}};
                    client_max_body_size 0;
                    location / {
                        proxy_pass http://berth;
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_set_header Host $http_host;
                        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                        proxy_set_header X-Forwarded-Proto $scheme;
                        proxy_request_buffering off;
                        proxy_buffering off;
                        proxy_read_timeout 900s;
                        proxy_send_timeout 900s;
                        proxy_next_upstream error timeout http_502;
                    }
                }
            }
            """;
        var configPath = Path.Combine(dir, "nginx.conf");
        await File.WriteAllTextAsync(configPath, config);
        var process = new TestProcesses.Background("nginx", ["-p", dir, "-c", configPath, "-e", Path.Combine(dir, "error.log")]);
        var nginx = new Nginx(dir, port, process);
        try
        {
            await TestProcesses.WaitForPortAsync(port, TimeSpan.FromSeconds(20), () => process.HasExited, () => process.Log + nginx.ErrorLog);
        }
        catch
        {
            await nginx.DisposeAsync();
            throw;
        }
        return nginx;
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
