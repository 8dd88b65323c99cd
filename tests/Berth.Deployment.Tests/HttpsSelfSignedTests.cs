using System.Security.Cryptography.X509Certificates;
using Berth.Deployment.Tests.Infrastructure;

namespace Berth.Deployment.Tests;

/// <summary>
/// <c>serve --tls-self-signed</c> as a first-time operator uses it: Berth makes a CA and a server certificate in
/// its data folder and prints the commands that install the CA in <c>certs.d</c>; podman, trusting only that CA
/// (a test-private <c>certs.d</c> passed with <c>--cert-dir</c>, never <c>--tls-verify=false</c>), logs in, pushes
/// and pulls over HTTPS, with token authentication (the realm is HTTPS too).
/// </summary>
public sealed class HttpsSelfSignedTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Podman_logs_in_pushes_and_pulls_over_https_trusting_only_the_printed_ca()
    {
        await using var server = await BerthServer.StartAsync(output, "https", ["--tls-self-signed"]);
        var host = $"127.0.0.1:{server.Port}";
        var caPath = Path.Combine(server.DataDir, "tls", "ca.crt");
        var podmanTrust = $"install -D -m 0644 {caPath} /etc/containers/certs.d/{host}/ca.crt";
        var dockerTrust = $"install -D -m 0644 {caPath} /etc/docker/certs.d/{host}/ca.crt";
        await Eventually(() => server.Output.Contains(podmanTrust, StringComparison.Ordinal) && server.Output.Contains(dockerTrust, StringComparison.Ordinal),
            () => $"the trust commands are not printed:\n{server.Output}");
        Assert.True(File.Exists(Path.Combine(server.DataDir, "tls", "server.key")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(server.DataDir, "tls", "server.key")));

        using var ca = X509CertificateLoader.LoadCertificateFromFile(caPath);
        var trust = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        trust.CustomTrustStore.Add(ca);
        using var api = TlsProbe.Client(server.BaseAddress, trust);
        var token = await RegistryApi.RootApiTokenAsync(api);
        var project = await RegistryApi.CreateProjectAsync(api, token, $"tls-{Guid.NewGuid():N}"[..12], "app");

        using var podman = new Podman(output);
        // The operator's step, into a private certs.d: what the printed command does under /etc/containers.
        var certDir = Path.Combine(podman.WorkDirectory, "certs.d", host);
        Directory.CreateDirectory(certDir);
        File.Copy(caPath, Path.Combine(certDir, "ca.crt"));

        // Without the CA, the certificate is refused: TLS verification is really on.
        var refused = await podman.RunUncheckedAsync(["login", "-u", "root", "-p", BerthServer.RootPassword, host]);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("certificate", refused.StandardError, StringComparison.OrdinalIgnoreCase);

        var login = await podman.RunAsync(["login", "--cert-dir", certDir, "-u", "root", "-p", BerthServer.RootPassword, host], () => server.Tail());
        Assert.Contains("Login Succeeded", login.StandardOutput + login.StandardError, StringComparison.Ordinal);

        var context = Directory.CreateDirectory(Path.Combine(podman.WorkDirectory, "context")).FullName;
        await File.WriteAllTextAsync(Path.Combine(context, "hello.txt"), $"hello over https {Guid.NewGuid()}\n");
        await File.WriteAllTextAsync(Path.Combine(context, "Containerfile"), "FROM scratch\nCOPY hello.txt /hello.txt\n");
        var image = $"{host}/{project}:v1";
        await podman.RunAsync(["build", "--isolation", "chroot", "--signature-policy", podman.PolicyPath, "-t", image, context]);

        var digestFile = Path.Combine(podman.WorkDirectory, "pushed.digest");
        await podman.RunAsync(["push", "--cert-dir", certDir, "--signature-policy", podman.PolicyPath, "--digestfile", digestFile, image], () => server.Tail());
        var pushed = (await File.ReadAllTextAsync(digestFile)).Trim();
        Assert.StartsWith("sha256:", pushed, StringComparison.Ordinal);

        await podman.RunAsync(["rmi", image]);
        await podman.RunAsync(["pull", "--cert-dir", certDir, "--signature-policy", podman.PolicyPath, image], () => server.Tail());
        var pulled = (await podman.RunAsync(["image", "inspect", "--format", "{{.Digest}}", image])).StandardOutput.Trim();
        Assert.Equal(pushed, pulled);
    }

    [Fact]
    public async Task A_second_start_keeps_the_ca_so_clients_trust_it_once()
    {
        using var data = new Berth.EndToEnd.Tests.Infrastructure.TempDirectory("deploy-keep-ca");
        string firstCa, firstServer;
        await using (var first = await BerthServer.StartAsync(output, "https", ["--tls-self-signed", "--Auth:Mode", "none"], dataDir: data.Path))
        {
            await Eventually(() => first.Output.Contains("(created now)", StringComparison.Ordinal), () => first.Output);
            firstCa = await File.ReadAllTextAsync(Path.Combine(data.Path, "tls", "ca.crt"));
            firstServer = await File.ReadAllTextAsync(Path.Combine(data.Path, "tls", "server.crt"));
        }
        await using var second = await BerthServer.StartAsync(output, "https", ["--tls-self-signed", "--Auth:Mode", "none"], dataDir: data.Path);
        await Eventually(() => second.Output.Contains("CA fingerprint", StringComparison.Ordinal), () => second.Output);
        Assert.DoesNotContain("(created now)", second.Output, StringComparison.Ordinal);
        Assert.Equal(firstCa, await File.ReadAllTextAsync(Path.Combine(data.Path, "tls", "ca.crt")));
        Assert.Equal(firstServer, await File.ReadAllTextAsync(Path.Combine(data.Path, "tls", "server.crt")));
    }

    internal static async Task Eventually(Func<bool> condition, Func<string> message)
    {
        for (int i = 0; i < 50 && !condition(); i++) await Task.Delay(100);
        Assert.True(condition(), message());
    }
}
