namespace Berth.Web.Tests.Infrastructure;

/// <summary>
/// podman and skopeo in a private sandbox: their own storage (vfs), runroot, tmp, registries.conf, trust
/// policy and auth file, so nothing under /etc or /var/lib/containers is used.
/// </summary>
public sealed class ContainerSandbox : IDisposable
{
    private readonly TempFolder _root = new("tools");
    private readonly Dictionary<string, string> _environment;
    private readonly string _policy;
    private readonly string _storageRoot;
    private readonly string _runRoot;
    private readonly string _tmp;
    private readonly Action<string> _log;

    /// <summary>Creates the sandbox.</summary>
    public ContainerSandbox(Action<string> log)
    {
        _log = log;
        _storageRoot = _root.Sub("storage");
        _runRoot = _root.Sub("run");
        _tmp = _root.Sub("tmp");
        Work = _root.Sub("work");
        _policy = System.IO.Path.Combine(_root.Path, "policy.json");
        File.WriteAllText(_policy, """{ "default": [ { "type": "insecureAcceptAnything" } ] }""");
        var registries = System.IO.Path.Combine(_root.Path, "registries.conf");
        File.WriteAllText(registries, "unqualified-search-registries = []\nshort-name-mode = \"permissive\"\n");
        var auth = System.IO.Path.Combine(_root.Path, "auth.json");
        File.WriteAllText(auth, """{ "auths": {} }""");
        var containersConf = System.IO.Path.Combine(_root.Path, "containers.conf");
        File.WriteAllText(containersConf, $"[containers]\nlog_driver = \"k8s-file\"\n\n[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\ntmp_dir = \"{_tmp}\"\n");
        var storageConf = System.IO.Path.Combine(_root.Path, "storage.conf");
        File.WriteAllText(storageConf, $"[storage]\ndriver = \"vfs\"\ngraphroot = \"{_storageRoot}\"\nrunroot = \"{_runRoot}\"\n");
        _environment = new Dictionary<string, string>
        {
            ["CONTAINERS_CONF"] = containersConf,
            ["CONTAINERS_STORAGE_CONF"] = storageConf,
            ["CONTAINERS_REGISTRIES_CONF"] = registries,
            ["REGISTRY_AUTH_FILE"] = auth,
            ["BUILDAH_ISOLATION"] = "chroot",
            ["TMPDIR"] = _root.Sub("tmpdir"),
            ["HOME"] = _root.Sub("home"),
        };
    }

    /// <summary>A scratch folder.</summary>
    public string Work { get; }

    /// <summary>The trust policy, for <c>--signature-policy</c>.</summary>
    public string Policy => _policy;

    /// <summary>Runs podman; throws with its output unless it succeeds (or <paramref name="check"/> is false).</summary>
    public async Task<ProcessResult> PodmanAsync(IEnumerable<string> arguments, bool check = true)
    {
        string[] global = ["--root", _storageRoot, "--runroot", _runRoot, "--tmpdir", _tmp, "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file"];
        return Check(await Processes.RunAsync("podman", global.Concat(arguments), _environment, Work, TimeSpan.FromMinutes(3), _log), check);
    }

    /// <summary>Runs skopeo with the sandbox's policy; throws with its output unless it succeeds.</summary>
    public async Task<ProcessResult> SkopeoAsync(IEnumerable<string> arguments, bool check = true) =>
        Check(await Processes.RunAsync("skopeo", new[] { "--policy", _policy }.Concat(arguments), _environment, Work, TimeSpan.FromMinutes(3), _log), check);

    /// <summary>Builds a <c>FROM scratch</c> image with one file of <paramref name="content"/> and pushes it as <paramref name="image"/>.</summary>
    /// <returns>The pushed manifest's digest.</returns>
    public async Task<string> BuildAndPushAsync(string image, string content, string creds)
    {
        var context = System.IO.Path.Combine(Work, "ctx-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(context);
        await File.WriteAllTextAsync(System.IO.Path.Combine(context, "hello.txt"), content);
        await File.WriteAllTextAsync(System.IO.Path.Combine(context, "Containerfile"), "FROM scratch\nCOPY hello.txt /hello.txt\n");
        await PodmanAsync(["build", "--isolation", "chroot", "--signature-policy", _policy, "-f", System.IO.Path.Combine(context, "Containerfile"), "-t", image, context]);
        var digestFile = System.IO.Path.Combine(context, "digest");
        await PodmanAsync(["push", "--tls-verify=false", "--signature-policy", _policy, "--creds", creds, "--digestfile", digestFile, image]);
        return (await File.ReadAllTextAsync(digestFile)).Trim();
    }

    private static ProcessResult Check(ProcessResult result, bool check) =>
        check && !result.Succeeded ? throw new InvalidOperationException(result.Describe()) : result;

    /// <inheritdoc/>
    public void Dispose() => _root.Dispose();
}
