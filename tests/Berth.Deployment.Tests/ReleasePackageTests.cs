using System.Diagnostics;
using System.Net;
using Berth.Deployment.Tests.Infrastructure;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.Deployment.Tests;

/// <summary>
/// The release tarball as an operator gets it: <c>scripts/package.sh linux-x64</c> runs the single-file,
/// self-contained, ReadyToRun <c>dotnet publish</c> profile (in its own artifacts folder), and the unpacked
/// <c>berth</c> binary runs without the .NET SDK's help: <c>berth --version</c>, then <c>serve</c>
/// answering <c>/v2/</c> with the same version in its <c>Berth-Version</c> header. The tarball holds the
/// example config, the systemd unit (checked with <c>systemd-analyze verify</c> where available) and the
/// nginx config.
/// </summary>
public sealed class ReleasePackageTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_linux_x64_single_file_tarball_starts_and_answers_v2()
    {
        using var work = new TempDirectory("deploy-package");
        var clock = Stopwatch.StartNew();
        var packaged = await ProcessRunner.RunAsync("bash", [Path.Combine(Repository.Root, "scripts", "package.sh"), "linux-x64", "--out", work.Path],
            Repository.Root, null, TimeSpan.FromMinutes(15), output.WriteLine); // ReadyToRun compiles every assembly: minutes on a busy 2-core machine
        Assert.True(packaged.Succeeded, packaged.Describe());
        output.WriteLine($"package.sh linux-x64 took {clock.Elapsed.TotalSeconds:F0} s");

        var tarball = Assert.Single(Directory.GetFiles(work.Path, "berth-*-linux-x64.tar.gz"));
        Assert.Contains(Path.GetFileName(tarball), await File.ReadAllTextAsync(Path.Combine(work.Path, "SHA256SUMS")), StringComparison.Ordinal);
        var unpacked = Directory.CreateDirectory(Path.Combine(work.Path, "unpacked")).FullName;
        var untar = await ProcessRunner.RunAsync("tar", ["-xzf", tarball, "-C", unpacked, "--strip-components=1"], work.Path, null, TimeSpan.FromMinutes(1), output.WriteLine);
        Assert.True(untar.Succeeded, untar.Describe());
        var files = Directory.GetFiles(unpacked).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["README.md", "appsettings.json", "berth", "berth.env", "berth.logrotate", "berth.service", "libe_sqlite3.so", "nginx-berth.conf"], files);
        Assert.DoesNotContain(Directory.GetFiles(unpacked), f => f.EndsWith(".dll", StringComparison.Ordinal));
        var binary = Path.Combine(unpacked, "berth");
        Assert.True(File.GetUnixFileMode(binary).HasFlag(UnixFileMode.UserExecute));

        // No .NET on the PATH for the binary: it must be self-contained.
        var bare = new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin", ["DOTNET_ROOT"] = "/nonexistent" };
        var version = await ProcessRunner.RunAsync(binary, ["--version"], unpacked, bare, TimeSpan.FromSeconds(60), output.WriteLine);
        Assert.True(version.Succeeded, version.Describe());
        Assert.Matches(@"^berth \d+\.\d+\.\d+", version.StandardOutput.Trim());
        var versionText = version.StandardOutput.Trim()["berth ".Length..];

        await using (var server = await BerthServer.StartAsync(output, "http", executable: binary, environment: bare))
        {
            using var client = new HttpClient { BaseAddress = server.BaseAddress };
            using var response = await client.GetAsync("/v2/");
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode); // token auth is the default
            Assert.Equal("registry/2.0", response.Headers.GetValues("Docker-Distribution-API-Version").Single());
            Assert.Equal(versionText, response.Headers.GetValues("Berth-Version").Single());
            Assert.Contains("realm=", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        }

        await VerifyUnitAsync(unpacked, binary);
    }

    /// <summary><c>systemd-analyze verify</c> on the shipped unit, pointed at the unpacked binary (skipped without systemd-analyze).</summary>
    private async Task VerifyUnitAsync(string unpacked, string binary)
    {
        if (!File.Exists("/usr/bin/systemd-analyze"))
        {
            output.WriteLine("systemd-analyze not installed: unit not verified");
            return;
        }
        var unit = await File.ReadAllTextAsync(Path.Combine(unpacked, "berth.service"));
        Assert.Contains("ExecStart=/opt/berth/berth serve --data-dir /var/lib/berth", unit, StringComparison.Ordinal);
        foreach (var setting in new[] { "User=berth", "StateDirectory=berth", "LogsDirectory=berth", "ProtectSystem=strict", "NoNewPrivileges=yes", "EnvironmentFile=-/etc/berth/berth.env" })
            Assert.Contains(setting, unit, StringComparison.Ordinal);
        var copy = Path.Combine(unpacked, "verify", "berth.service");
        Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
        await File.WriteAllTextAsync(copy, unit.Replace("/opt/berth/berth", binary, StringComparison.Ordinal));
        var verify = await ProcessRunner.RunAsync("systemd-analyze", ["verify", "--man=no", copy], unpacked, null, TimeSpan.FromSeconds(60), output.WriteLine);
        output.WriteLine(verify.Describe());
        // Complaints about the file come as "<path>/berth.service:<line>: …" (unknown keys, bad values); messages
        // about the host's other units or a missing running systemd are not about this file.
        var aboutUnit = (verify.StandardError + verify.StandardOutput).Split('\n')
            .Where(l => l.Contains("berth.service:", StringComparison.Ordinal))
            .ToList();
        Assert.True(aboutUnit.Count == 0, "systemd-analyze verify complains about berth.service:\n" + string.Join('\n', aboutUnit));
    }
}
