using System.Diagnostics;
using System.Text;

namespace Berth.Schema1.Tests.Infrastructure;

/// <summary>The outcome of an external command; stdout is kept as bytes (<c>skopeo inspect --raw</c> is compared byte for byte).</summary>
public sealed record CommandResult(string CommandLine, int ExitCode, byte[] Output, string Error)
{
    /// <summary>stdout as UTF-8 text.</summary>
    public string Text => Encoding.UTF8.GetString(Output);
}

/// <summary>
/// skopeo and umoci in a sandbox of one test: a temp folder holding the trust policy, registries.conf, auth file,
/// HOME and TMPDIR, so nothing of the machine's container configuration is read or written. Every command is
/// logged to the test output; a failing one fails the test with its output and the server's log.
/// </summary>
public sealed class Tools : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"berth-schema1-tools-{Guid.NewGuid():N}"[..34]);
    private readonly Dictionary<string, string> _environment;
    private readonly string _policy;
    private readonly BerthServer _server;
    private readonly ITestOutputHelper _output;

    /// <summary>Creates the sandbox.</summary>
    public Tools(BerthServer server, ITestOutputHelper output)
    {
        _server = server;
        _output = output;
        Work = Directory.CreateDirectory(Path.Combine(_root, "work")).FullName;
        var home = Directory.CreateDirectory(Path.Combine(_root, "home")).FullName;
        var tmp = Directory.CreateDirectory(Path.Combine(_root, "tmp")).FullName;
        _policy = Path.Combine(_root, "policy.json");
        File.WriteAllText(_policy, """{ "default": [ { "type": "insecureAcceptAnything" } ] }""");
        var registries = Path.Combine(_root, "registries.conf");
        File.WriteAllText(registries, "unqualified-search-registries = []\n");
        var auth = Path.Combine(_root, "auth.json");
        File.WriteAllText(auth, """{ "auths": {} }""");
        _environment = new()
        {
            ["CONTAINERS_REGISTRIES_CONF"] = registries,
            ["REGISTRY_AUTH_FILE"] = auth,
            ["HOME"] = home,
            ["TMPDIR"] = tmp,
        };
    }

    /// <summary>A scratch folder for layouts and copies.</summary>
    public string Work { get; }

    /// <summary>Runs <c>skopeo --policy &lt;sandbox&gt; …</c>; throws on failure.</summary>
    public Task<CommandResult> SkopeoAsync(params string[] arguments) => RunAsync("skopeo", ["--policy", _policy, .. arguments], check: true);

    /// <summary>Runs skopeo and returns whatever happened.</summary>
    public Task<CommandResult> SkopeoUncheckedAsync(params string[] arguments) => RunAsync("skopeo", ["--policy", _policy, .. arguments], check: false);

    /// <summary>Runs <c>umoci</c>; throws on failure.</summary>
    public Task<CommandResult> UmociAsync(params string[] arguments) => RunAsync("umoci", arguments, check: true);

    /// <summary>Writes a line to the test output.</summary>
    public void Log(string line)
    {
        try { _output.WriteLine(line); }
        catch (InvalidOperationException) { /* no active test */ }
    }

    private async Task<CommandResult> RunAsync(string file, string[] arguments, bool check)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = Work,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var (key, value) in _environment) start.Environment[key] = value;
        var commandLine = file + " " + string.Join(' ', arguments);
        Log("$ " + commandLine);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        process.StandardInput.Close();
        var output = new MemoryStream();
        var copy = process.StandardOutput.BaseStream.CopyToAsync(output);
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{commandLine} did not finish within 4 minutes");
        }
        await copy;
        var result = new CommandResult(commandLine, process.ExitCode, output.ToArray(), await error);
        if (result.Error.Length > 0) Log(result.Error.TrimEnd());
        if (check && result.ExitCode != 0)
            throw new InvalidOperationException($"{commandLine} exited with {result.ExitCode}\n--- stdout ---\n{result.Text}\n--- stderr ---\n{result.Error}\n--- berth ---\n{_server.LogTail()}");
        return result;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { /* the OS cleans temp */ }
    }
}
