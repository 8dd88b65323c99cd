using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using Berth.Deployment.Tests.Infrastructure;
using Berth.EndToEnd.Tests.Infrastructure;
using Berth.Server.Hosting;

namespace Berth.Deployment.Tests;

/// <summary>
/// HTTPS with the operator's own certificate files (<c>Tls:CertificatePath</c>/<c>Tls:KeyPath</c>, PKCS#12):
/// the chain is sent (clients trusting only the root validate), TLS 1.2+ only, HTTP/2 by ALPN, and replacing
/// the files changes the certificate of the next new connection without a restart.
/// </summary>
public sealed class TlsCertificateTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Replacing_the_pem_files_changes_the_certificate_of_the_next_connection()
    {
        using var pki = new TestPki();
        using var folder = new TempDirectory("deploy-reload");
        using var first = pki.IssueServer("localhost", "127.0.0.1");
        var (certificate, key) = pki.WritePem(first, folder.Path);
        await using var server = await BerthServer.StartAsync(output, "https",
            ["--Tls:CertificatePath", certificate, "--Tls:KeyPath", key, "--Auth:Mode", "none"]);

        var before = await TlsProbe.HandshakeAsync(server.Port, "localhost", pki.TrustRootOnly());
        Assert.Equal(first.Thumbprint, before.Certificate.Thumbprint);
        Assert.Equal(SslPolicyErrors.None, before.Errors); // leaf + intermediate sent, validated up to the root alone
        Assert.Equal("h2", before.Alpn);
        Assert.True(before.Protocol is SslProtocols.Tls12 or SslProtocols.Tls13, before.Protocol.ToString());

        // A renewal: new key and certificate written over the old files (each renamed into place).
        using var second = pki.IssueServer("localhost", "127.0.0.1");
        pki.WritePem(second, folder.Path);
        var after = await TlsProbe.HandshakeAsync(server.Port, "localhost", pki.TrustRootOnly());
        Assert.Equal(second.Thumbprint, after.Certificate.Thumbprint);
        Assert.Equal(SslPolicyErrors.None, after.Errors);

        // HttpClient over HTTP/2, one new connection per request, sees the new certificate too.
        using var client = TlsProbe.Client(server.BaseAddress, pki.TrustRootOnly(), pooled: false, version: HttpVersion.Version20);
        using (var response = await client.GetAsync("/v2/"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(HttpVersion.Version20, response.Version);
            Assert.StartsWith(BerthVersion.Current.Split('+')[0], Assert.Single(response.Headers.GetValues(BerthVersion.Header)), StringComparison.Ordinal);
        }

        // A broken write (not a certificate) keeps the current certificate in service and is logged.
        await File.WriteAllTextAsync(certificate, "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n");
        var broken = await TlsProbe.HandshakeAsync(server.Port, "localhost", pki.TrustRootOnly());
        Assert.Equal(second.Thumbprint, broken.Certificate.Thumbprint);
        await HttpsSelfSignedTests.Eventually(() => server.Output.Contains("do not load", StringComparison.Ordinal), () => server.Tail());

        // Fixed again: the next connection has the third certificate.
        using var third = pki.IssueServer("localhost", "127.0.0.1");
        pki.WritePem(third, folder.Path);
        Assert.Equal(third.Thumbprint, (await TlsProbe.HandshakeAsync(server.Port, "localhost", pki.TrustRootOnly())).Certificate.Thumbprint);
    }

    [Fact]
    public async Task Pkcs12_serves_its_chain_and_only_tls_12_or_newer()
    {
        using var pki = new TestPki();
        using var folder = new TempDirectory("deploy-p12");
        using var leaf = pki.IssueServer("localhost", "127.0.0.1");
        var pfx = pki.WritePkcs12(leaf, Path.Combine(folder.Path, "berth.p12"), "s3cret-p12");
        await using var server = await BerthServer.StartAsync(output, "https",
            ["--Tls:CertificatePath", pfx, "--Tls:Password", "s3cret-p12", "--Auth:Mode", "none"]);

        var tls12 = await TlsProbe.HandshakeAsync(server.Port, "127.0.0.1", pki.TrustRootOnly(), SslProtocols.Tls12);
        Assert.Equal(leaf.Thumbprint, tls12.Certificate.Thumbprint);
        Assert.Equal(SslPolicyErrors.None, tls12.Errors);
        Assert.Equal(SslProtocols.Tls12, tls12.Protocol);

        var tls13 = await TlsProbe.HandshakeAsync(server.Port, "127.0.0.1", pki.TrustRootOnly(), SslProtocols.Tls13);
        Assert.Equal(SslProtocols.Tls13, tls13.Protocol);

#pragma warning disable SYSLIB0039 // TLS 1.0/1.1 on purpose: they must be refused
        await Assert.ThrowsAnyAsync<Exception>(() => TlsProbe.HandshakeAsync(server.Port, "127.0.0.1", pki.TrustRootOnly(), SslProtocols.Tls11 | SslProtocols.Tls));
#pragma warning restore SYSLIB0039
    }

    [Fact]
    public async Task An_https_address_without_a_certificate_stops_the_start_with_a_clear_message()
    {
        using var data = new TempDirectory("deploy-nocert");
        var result = await ProcessRunner.RunAsync("dotnet",
            [Repository.ServerDll, "serve", "--urls", $"https://127.0.0.1:{Repository.FreePort()}", "--data-dir", data.Path],
            data.Path, new Dictionary<string, string> { ["BERTH_ROOT_PASSWORD"] = BerthServer.RootPassword }, TimeSpan.FromSeconds(60), output.WriteLine);
        Assert.Equal(3, result.ExitCode);
        Assert.Contains("Tls:CertificatePath", result.StandardError, StringComparison.Ordinal);
        Assert.Contains("--tls-self-signed", result.StandardError, StringComparison.Ordinal);

        var missing = await ProcessRunner.RunAsync("dotnet",
            [Repository.ServerDll, "serve", "--urls", $"https://127.0.0.1:{Repository.FreePort()}", "--data-dir", data.Path,
             "--Tls:CertificatePath", Path.Combine(data.Path, "nope.pem")],
            data.Path, new Dictionary<string, string> { ["BERTH_ROOT_PASSWORD"] = BerthServer.RootPassword }, TimeSpan.FromSeconds(60), output.WriteLine);
        Assert.Equal(3, missing.ExitCode);
        Assert.Contains("nope.pem", missing.StandardError, StringComparison.Ordinal);
    }
}
