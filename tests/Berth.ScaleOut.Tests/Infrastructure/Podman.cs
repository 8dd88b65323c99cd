using Berth.Tests.Shared;

namespace Berth.ScaleOut.Tests.Infrastructure;

/// <summary>podman in a sandbox of its own (root, runroot, tmpdir, vfs storage, cgroupfs, file events, private
/// policy, registries.conf, containers.conf and auth file), as in the end-to-end tests: nothing under /etc or
/// /var/lib/containers is read for state or written.</summary>
public sealed class Podman : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "berth-podman-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly Dictionary<string, string> _environment;
    private readonly ITestOutputHelper _output;

    public Podman(ITestOutputHelper output)
    {
        _output = output;
        foreach (var sub in new[] { "root", "runroot", "tmp", "home", "work", "podman-tmp" }) Directory.CreateDirectory(Path.Combine(_dir, sub));
        PolicyPath = Path.Combine(_dir, "policy.json");
        File.WriteAllText(PolicyPath, """{ "default": [ { "type": "insecureAcceptAnything" } ] }""");
        File.WriteAllText(Path.Combine(_dir, "registries.conf"), "unqualified-search-registries = []\nshort-name-mode = \"permissive\"\n");
        File.WriteAllText(Path.Combine(_dir, "auth.json"), """{ "auths": {} }""");
        File.WriteAllText(Path.Combine(_dir, "containers.conf"), $"[containers]\nlog_driver = \"k8s-file\"\n\n[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\ntmp_dir = \"{_dir}/podman-tmp\"\n");
        File.WriteAllText(Path.Combine(_dir, "storage.conf"), $"[storage]\ndriver = \"vfs\"\ngraphroot = \"{_dir}/root\"\nrunroot = \"{_dir}/runroot\"\n");
        _environment = new()
        {
            ["CONTAINERS_CONF"] = Path.Combine(_dir, "containers.conf"),
            ["CONTAINERS_STORAGE_CONF"] = Path.Combine(_dir, "storage.conf"),
            ["CONTAINERS_REGISTRIES_CONF"] = Path.Combine(_dir, "registries.conf"),
            ["REGISTRY_AUTH_FILE"] = Path.Combine(_dir, "auth.json"),
            ["BUILDAH_ISOLATION"] = "chroot",
            ["TMPDIR"] = Path.Combine(_dir, "tmp"),
            ["HOME"] = Path.Combine(_dir, "home"),
        };
    }

    public string PolicyPath { get; }

    public string WorkDirectory => Path.Combine(_dir, "work");

    public async Task<string> RunAsync(params string[] arguments)
    {
        var all = new[] { "--root", $"{_dir}/root", "--runroot", $"{_dir}/runroot", "--tmpdir", $"{_dir}/podman-tmp", "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file" }
            .Concat(arguments).ToList();
        var display = string.Join(' ', arguments.Select(a => a.Contains("scale-", StringComparison.Ordinal) && a.Length > 20 ? "***" : a));
        _output.WriteLine("$ podman " + display);
        var (code, output) = await TestProcesses.RunAsync("podman", all, _environment, TimeSpan.FromMinutes(4), WorkDirectory);
        _output.WriteLine(output.TrimEnd());
        if (code != 0) throw new InvalidOperationException($"podman {display} exited with {code}:\n{output}");
        return output;
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
