namespace Berth.EndToEnd.Tests.Infrastructure;

/// <summary>
/// A hermetic sandbox for the container tools of one test: its own temp folder holding a trust
/// policy, registries.conf, containers.conf, storage.conf, auth file, podman storage (vfs) and
/// TMPDIR, so nothing under /etc or /var/lib/containers is read for state or written.
/// Every command is logged to the test output and fails with its full output (plus the server log).
/// </summary>
public sealed class ContainerTools : IDisposable
{
    private readonly TempDirectory _sandbox = new("tools");
    private readonly RegistryServerFixture _server;
    private readonly ITestOutputHelper _output;
    private readonly Dictionary<string, string> _environment;
    private readonly string _policyPath;
    private readonly string _podmanRoot;
    private readonly string _podmanRunRoot;
    private readonly string _podmanTmp;

    /// <summary>Creates the sandbox and its config files.</summary>
    public ContainerTools(RegistryServerFixture server, ITestOutputHelper output)
    {
        _server = server;
        _output = output;
        _podmanRoot = _sandbox.CreateSubdirectory("podman/root");
        _podmanRunRoot = _sandbox.CreateSubdirectory("podman/runroot");
        _podmanTmp = _sandbox.CreateSubdirectory("podman/tmp");
        var tmp = _sandbox.CreateSubdirectory("tmp");
        var home = _sandbox.CreateSubdirectory("home");
        WorkDirectory = _sandbox.CreateSubdirectory("work");

        _policyPath = _sandbox.Combine("policy.json");
        File.WriteAllText(_policyPath, """{ "default": [ { "type": "insecureAcceptAnything" } ] }""");
        var registries = _sandbox.Combine("registries.conf");
        File.WriteAllText(registries, """
            unqualified-search-registries = []
            short-name-mode = "permissive"
            """);
        var authFile = AuthFilePath = _sandbox.Combine("auth.json");
        File.WriteAllText(authFile, """{ "auths": {} }""");
        var containersConf = _sandbox.Combine("containers.conf");
        File.WriteAllText(containersConf, $"""
            [containers]
            log_driver = "k8s-file"

            [engine]
            cgroup_manager = "cgroupfs"
            events_logger = "file"
            tmp_dir = "{_podmanTmp}"
            """);
        var storageConf = _sandbox.Combine("storage.conf");
        File.WriteAllText(storageConf, $"""
            [storage]
            driver = "vfs"
            graphroot = "{_podmanRoot}"
            runroot = "{_podmanRunRoot}"
            """);

        _environment = new Dictionary<string, string>
        {
            ["CONTAINERS_CONF"] = containersConf,
            ["CONTAINERS_STORAGE_CONF"] = storageConf,
            ["CONTAINERS_REGISTRIES_CONF"] = registries,
            ["REGISTRY_AUTH_FILE"] = authFile,
            ["BUILDAH_ISOLATION"] = "chroot",
            ["TMPDIR"] = tmp,
            ["HOME"] = home,
        };
    }

    /// <summary>A scratch folder inside the sandbox for layouts, build contexts, etc.</summary>
    public string WorkDirectory { get; }

    /// <summary>Makes (or returns) a folder under <see cref="WorkDirectory"/>.</summary>
    public string CreateDirectory(string relative)
    {
        var path = Path.Combine(WorkDirectory, relative);
        System.IO.Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>Runs <c>umoci</c>; throws with the output on failure.</summary>
    public Task<ProcessResult> UmociAsync(IEnumerable<string> arguments, TimeSpan? timeout = null) =>
        RunCheckedAsync("umoci", arguments, timeout);

    /// <summary>Runs <c>skopeo --policy &lt;sandbox&gt; …</c>; throws with the output on failure.</summary>
    public Task<ProcessResult> SkopeoAsync(IEnumerable<string> arguments, TimeSpan? timeout = null) =>
        RunCheckedAsync("skopeo", SkopeoArguments(arguments), timeout);

    /// <summary>Runs skopeo and returns the result whatever the exit code (for expected failures).</summary>
    public Task<ProcessResult> SkopeoUncheckedAsync(IEnumerable<string> arguments, TimeSpan? timeout = null) =>
        RunUncheckedAsync("skopeo", SkopeoArguments(arguments), timeout);

    /// <summary>Runs <c>podman</c> with sandboxed root/runroot/tmpdir, vfs, cgroupfs and file events; throws on failure.</summary>
    public Task<ProcessResult> PodmanAsync(IEnumerable<string> arguments, TimeSpan? timeout = null) =>
        RunCheckedAsync("podman", PodmanArguments(arguments), timeout);

    /// <summary>Runs podman and returns the result whatever the exit code.</summary>
    public Task<ProcessResult> PodmanUncheckedAsync(IEnumerable<string> arguments, TimeSpan? timeout = null) =>
        RunUncheckedAsync("podman", PodmanArguments(arguments), timeout);

    /// <summary>The sandbox's registry auth file (<c>REGISTRY_AUTH_FILE</c>): what <c>podman login</c> writes and podman/skopeo read.</summary>
    public string AuthFilePath { get; }

    /// <summary>The sandbox's trust policy, for podman's <c>--signature-policy</c>.</summary>
    public string PolicyPath => _policyPath;

    /// <summary><c>[option, "user:password"]</c> when the server needs credentials, else nothing.</summary>
    public IEnumerable<string> Credentials(string option) =>
        _server.HasCredentials ? [option, $"{_server.Username}:{_server.Password}"] : [];

    /// <summary>Writes a line to the test output.</summary>
    public void Log(string line)
    {
        try
        {
            _output.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
            // no test is active (e.g. called from a background thread after the test ended)
        }
    }

    /// <inheritdoc />
    public void Dispose() => _sandbox.Dispose();

    private IEnumerable<string> SkopeoArguments(IEnumerable<string> arguments) =>
        new[] { "--policy", _policyPath }.Concat(arguments);

    private IEnumerable<string> PodmanArguments(IEnumerable<string> arguments) =>
        new[]
        {
            "--root", _podmanRoot,
            "--runroot", _podmanRunRoot,
            "--tmpdir", _podmanTmp,
            "--storage-driver", "vfs",
            "--cgroup-manager", "cgroupfs",
            "--events-backend", "file",
        }.Concat(arguments);

    private async Task<ProcessResult> RunUncheckedAsync(string fileName, IEnumerable<string> arguments, TimeSpan? timeout)
    {
        var result = await ProcessRunner.RunAsync(fileName, arguments, WorkDirectory, _environment, timeout, Log);
        if (!result.Succeeded && result.StandardError.Length > 0)
        {
            // Expected failures are the point of many tests: show what the client said.
            Log(result.StandardError.TrimEnd());
        }
        return result;
    }

    private async Task<ProcessResult> RunCheckedAsync(string fileName, IEnumerable<string> arguments, TimeSpan? timeout)
    {
        var result = await ProcessRunner.RunCheckedAsync(
            fileName, arguments, WorkDirectory, _environment, timeout, Log, () => _server.ServerLogTail());
        if (result.StandardError.Length > 0)
        {
            Log(result.StandardError.TrimEnd());
        }
        return result;
    }
}
