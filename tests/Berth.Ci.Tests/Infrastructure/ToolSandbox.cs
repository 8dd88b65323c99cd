namespace Berth.Ci.Tests.Infrastructure;

/// <summary>
/// A private sandbox for podman, buildah and skopeo: its own policy, registries.conf, containers.conf,
/// storage.conf (vfs), auth file, TMPDIR and HOME in a temp folder, so nothing under /etc or /var is used.
/// </summary>
public sealed class ToolSandbox : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "berth-ci-tools-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly Dictionary<string, string> _environment;
    private readonly string _storageRoot;
    private readonly string _runRoot;
    private readonly string _podmanTmp;
    private readonly ITestOutputHelper _output;

    public ToolSandbox(ITestOutputHelper output)
    {
        _output = output;
        Directory.CreateDirectory(_root);
        _storageRoot = Make("storage/root");
        _runRoot = Make("storage/runroot");
        _podmanTmp = Make("storage/tmp");
        Work = Make("work");
        PolicyPath = Path.Combine(_root, "policy.json");
        File.WriteAllText(PolicyPath, """{ "default": [ { "type": "insecureAcceptAnything" } ] }""");
        var registries = Path.Combine(_root, "registries.conf");
        File.WriteAllText(registries, "unqualified-search-registries = []\nshort-name-mode = \"permissive\"\n");
        AuthFile = Path.Combine(_root, "auth.json");
        File.WriteAllText(AuthFile, """{ "auths": {} }""");
        var containers = Path.Combine(_root, "containers.conf");
        File.WriteAllText(containers, $"[containers]\nlog_driver = \"k8s-file\"\n\n[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\ntmp_dir = \"{_podmanTmp}\"\n");
        var storage = Path.Combine(_root, "storage.conf");
        File.WriteAllText(storage, $"[storage]\ndriver = \"vfs\"\ngraphroot = \"{_storageRoot}\"\nrunroot = \"{_runRoot}\"\n");
        _environment = new Dictionary<string, string>
        {
            ["CONTAINERS_CONF"] = containers,
            ["CONTAINERS_STORAGE_CONF"] = storage,
            ["CONTAINERS_REGISTRIES_CONF"] = registries,
            ["REGISTRY_AUTH_FILE"] = AuthFile,
            ["BUILDAH_ISOLATION"] = "chroot",
            ["TMPDIR"] = Make("tmp"),
            ["HOME"] = Make("home"),
        };
    }

    /// <summary>A scratch folder.</summary>
    public string Work { get; }

    public string PolicyPath { get; }

    /// <summary>The auth file podman login writes and podman/skopeo read.</summary>
    public string AuthFile { get; }

    private string Make(string relative)
    {
        var path = Path.Combine(_root, relative);
        Directory.CreateDirectory(path);
        return path;
    }

    public Task<ProcessResult> PodmanAsync(params string[] arguments) =>
        Processes.RunAsync("podman", new[] { "--root", _storageRoot, "--runroot", _runRoot, "--tmpdir", _podmanTmp, "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file" }.Concat(arguments),
            Work, _environment, TimeSpan.FromMinutes(4), Log);

    public Task<ProcessResult> SkopeoAsync(params string[] arguments) =>
        Processes.RunAsync("skopeo", new[] { "--policy", PolicyPath }.Concat(arguments), Work, _environment, TimeSpan.FromMinutes(3), Log);

    /// <summary>Builds a <c>FROM scratch</c> + <c>COPY</c> image in the sandbox's storage.</summary>
    public async Task BuildAsync(string image, string content)
    {
        var context = Make("context-" + Guid.NewGuid().ToString("N")[..8]);
        await File.WriteAllTextAsync(Path.Combine(context, "hello.txt"), content);
        await File.WriteAllTextAsync(Path.Combine(context, "Containerfile"), "FROM scratch\nCOPY hello.txt /hello.txt\n");
        var built = await PodmanAsync("build", "--isolation", "chroot", "--signature-policy", PolicyPath, "-f", Path.Combine(context, "Containerfile"), "-t", image, context);
        Assert.True(built.Succeeded, built.Describe());
    }

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

    public void Dispose()
    {
        try { Directory.Delete(_root, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
