using System.Globalization;
using Npgsql;

namespace Berth.Tests.Shared;

/// <summary>
/// A private PostgreSQL 15 cluster (Debian's <c>postgresql</c> package) in a temp folder on a free loopback port:
/// <c>initdb</c> and <c>pg_ctl</c> run as the <c>postgres</c> user (initdb refuses root) through <c>runuser</c>, in a
/// folder that user owns. Durability is off (fsync, synchronous_commit) since it is thrown away. Stopped and deleted
/// on dispose.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private const string BinDirectory = "/usr/lib/postgresql/15/bin";
    private readonly string _root;
    private bool _stopped;

    private PostgresServer(string root, int port)
    {
        _root = root;
        Port = port;
    }

    public int Port { get; }

    /// <summary>A connection string for <paramref name="database"/> as the superuser <c>postgres</c> (trust auth).</summary>
    public string ConnectionString(string database = "postgres") =>
        $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database};Pooling=true;Maximum Pool Size=50;Timeout=30;Command Timeout=60";

    public static bool IsInstalled => File.Exists(Path.Combine(BinDirectory, "initdb"));

    public static async Task<PostgresServer> StartAsync()
    {
        if (!IsInstalled) throw new InvalidOperationException($"{BinDirectory}/initdb is missing: run scripts/install-test-deps.sh (package postgresql)");
        var root = Path.Combine(Path.GetTempPath(), "berth-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        int port = TestProcesses.GetFreeLoopbackPort();
        var server = new PostgresServer(root, port);
        try
        {
            bool root0 = Environment.UserName == "root";
            if (root0) await TestProcesses.RunCheckedAsync("chown", ["postgres:postgres", root]);
            var data = Path.Combine(root, "data");
            await server.AsPostgresAsync(Path.Combine(BinDirectory, "initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"]);
            var options = string.Join(' ', "-p", port.ToString(CultureInfo.InvariantCulture), "-k", root, "-c", "listen_addresses=127.0.0.1",
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200");
            await server.AsPostgresAsync(Path.Combine(BinDirectory, "pg_ctl"), ["-D", data, "-o", options, "-l", Path.Combine(root, "server.log"), "-w", "-t", "60", "start"]);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
        return server;
    }

    private Task<string> AsPostgresAsync(string program, IEnumerable<string> arguments) =>
        Environment.UserName == "root"
            ? TestProcesses.RunCheckedAsync("runuser", new[] { "-u", "postgres", "--", program }.Concat(arguments), timeout: TimeSpan.FromMinutes(2))
            : TestProcesses.RunCheckedAsync(program, arguments, timeout: TimeSpan.FromMinutes(2));

    /// <summary>Creates an empty database and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string name)
    {
        await using var connection = new NpgsqlConnection(ConnectionString());
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        await command.ExecuteNonQueryAsync();
        return ConnectionString(name);
    }

    public string ServerLog => File.Exists(Path.Combine(_root, "server.log")) ? File.ReadAllText(Path.Combine(_root, "server.log")) : "";

    public async ValueTask DisposeAsync()
    {
        if (!_stopped)
        {
            _stopped = true;
            NpgsqlConnection.ClearAllPools();
            if (Directory.Exists(Path.Combine(_root, "data", "global")))
            {
                try
                {
                    await AsPostgresAsync(Path.Combine(BinDirectory, "pg_ctl"), ["-D", Path.Combine(_root, "data"), "-m", "immediate", "-w", "stop"]);
                }
                catch (Exception)
                {
                    // already stopped
                }
            }
            try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
