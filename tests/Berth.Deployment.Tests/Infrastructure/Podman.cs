using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.Deployment.Tests.Infrastructure;

/// <summary>
/// podman in a private sandbox (its own storage with vfs, runroot, tmpdir, registries.conf, policy, auth
/// file and HOME), so nothing under /etc/containers or /var/lib/containers is read for state or written.
/// TLS trust comes only from the <c>--cert-dir</c> the test passes.
/// </summary>
public sealed class Podman : IDisposable
{
    private readonly TempDirectory _sandbox = new("deploy-podman");
    private readonly Dictionary<string, string> _environment;
    private readonly string[] _global;
    private readonly ITestOutputHelper _output;

    /// <summary>Creates the sandbox.</summary>
    public Podman(ITestOutputHelper output)
    {
        _output = output;
        var root = _sandbox.CreateSubdirectory("root");
        var runRoot = _sandbox.CreateSubdirectory("runroot");
        var tmp = _sandbox.CreateSubdirectory("tmp");
        var home = _sandbox.CreateSubdirectory("home");
        WorkDirectory = _sandbox.CreateSubdirectory("work");
        PolicyPath = _sandbox.Combine("policy.json");
        File.WriteAllText(PolicyPath, """{ "default": [ { "type": "insecureAcceptAnything" } ] }""");
        var registries = _sandbox.Combine("registries.conf");
        File.WriteAllText(registries, "unqualified-search-registries = []\nshort-name-mode = \"permissive\"\n");
        var containersConf = _sandbox.Combine("containers.conf");
        File.WriteAllText(containersConf, $"[containers]\nlog_driver = \"k8s-file\"\n\n[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\ntmp_dir = \"{tmp}\"\n");
        var storageConf = _sandbox.Combine("storage.conf");
        File.WriteAllText(storageConf, $"[storage]\ndriver = \"vfs\"\ngraphroot = \"{root}\"\nrunroot = \"{runRoot}\"\n");
        var auth = _sandbox.Combine("auth.json");
        File.WriteAllText(auth, """{ "auths": {} }""");
        _environment = new Dictionary<string, string>
        {
            ["CONTAINERS_CONF"] = containersConf,
            ["CONTAINERS_STORAGE_CONF"] = storageConf,
            ["CONTAINERS_REGISTRIES_CONF"] = registries,
            ["REGISTRY_AUTH_FILE"] = auth,
            ["BUILDAH_ISOLATION"] = "chroot",
            ["TMPDIR"] = tmp,
            ["HOME"] = home,
        };
        _global = ["--root", root, "--runroot", runRoot, "--tmpdir", tmp, "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file"];
    }

    /// <summary>A scratch folder.</summary>
    public string WorkDirectory { get; }

    /// <summary>The sandbox's trust policy (for <c>--signature-policy</c>).</summary>
    public string PolicyPath { get; }

    /// <summary>Runs podman; throws with the output (and <paramref name="diagnostics"/>) unless it exits 0.</summary>
    public Task<ProcessResult> RunAsync(IEnumerable<string> arguments, Func<string>? diagnostics = null) =>
        ProcessRunner.RunCheckedAsync("podman", _global.Concat(arguments), WorkDirectory, _environment, TimeSpan.FromMinutes(3), Log, diagnostics);

    /// <summary>Runs podman and returns whatever happened.</summary>
    public Task<ProcessResult> RunUncheckedAsync(IEnumerable<string> arguments) =>
        ProcessRunner.RunAsync("podman", _global.Concat(arguments), WorkDirectory, _environment, TimeSpan.FromMinutes(3), Log);

    private void Log(string line)
    {
        try
        {
            _output.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _sandbox.Dispose();
}
