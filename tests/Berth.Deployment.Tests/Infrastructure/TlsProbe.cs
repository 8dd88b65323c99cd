using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Berth.Deployment.Tests.Infrastructure;

/// <summary>What one TLS handshake showed.</summary>
/// <param name="Certificate">The server certificate presented.</param>
/// <param name="Errors">Validation errors against the trust given (None: the chain the server sent validates).</param>
/// <param name="Protocol">The negotiated TLS version.</param>
/// <param name="Alpn">The negotiated application protocol (<c>h2</c>, <c>http/1.1</c>).</param>
public sealed record TlsHandshake(X509Certificate2 Certificate, SslPolicyErrors Errors, SslProtocols Protocol, string Alpn);

/// <summary>Opens fresh TLS connections to 127.0.0.1 and reports the handshake.</summary>
public static class TlsProbe
{
    /// <summary>One new connection and handshake (offering h2 and http/1.1).</summary>
    /// <param name="port">Port on 127.0.0.1.</param>
    /// <param name="serverName">SNI and the name validated.</param>
    /// <param name="trust">Chain policy (e.g. <see cref="TestPki.TrustRootOnly"/>); null: the system store.</param>
    /// <param name="protocols">Versions the client allows.</param>
    public static async Task<TlsHandshake> HandshakeAsync(int port, string serverName, X509ChainPolicy? trust, SslProtocols protocols = SslProtocols.None)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        X509Certificate2? seen = null;
        var errors = SslPolicyErrors.None;
        await using var ssl = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = serverName,
            EnabledSslProtocols = protocols,
            ApplicationProtocols = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11],
            CertificateChainPolicy = trust,
            RemoteCertificateValidationCallback = (_, certificate, _, e) =>
            {
                seen = certificate is null ? null : X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
                errors = e;
                return true; // reported, not enforced
            },
        };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await ssl.AuthenticateAsClientAsync(options, timeout.Token);
        return new TlsHandshake(seen!, errors, ssl.SslProtocol, ssl.NegotiatedApplicationProtocol.ToString());
    }

    /// <summary>An HttpClient for 127.0.0.1 that validates the server against <paramref name="trust"/> and opens
    /// a new connection per request when <paramref name="pooled"/> is false.</summary>
    public static HttpClient Client(Uri baseAddress, X509ChainPolicy trust, bool pooled = true, Version? version = null)
    {
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = pooled ? TimeSpan.FromMinutes(5) : TimeSpan.Zero,
            SslOptions = new SslClientAuthenticationOptions { CertificateChainPolicy = trust },
            AllowAutoRedirect = false,
        };
        var client = new HttpClient(handler) { BaseAddress = baseAddress, Timeout = TimeSpan.FromMinutes(10) };
        if (version is not null)
        {
            client.DefaultRequestVersion = version;
            client.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        }
        client.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("berth-deployment-tests", "1"));
        return client;
    }
}
