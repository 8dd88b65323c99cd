using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Berth.Deployment.Tests.Infrastructure;

/// <summary>
/// A throw-away PKI for tests: a root CA, an intermediate CA it signs, and server certificates the
/// intermediate signs (ECDSA P-256). Clients trust only the root, so a handshake validates only when the
/// server sends the intermediate too.
/// </summary>
public sealed class TestPki : IDisposable
{
    /// <summary>Creates the root and the intermediate.</summary>
    public TestPki(string name = "Berth test")
    {
        var now = DateTimeOffset.UtcNow;
        using (var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256))
        {
            var request = new CertificateRequest($"CN={name} root CA", rootKey, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
            Root = request.CreateSelfSigned(now.AddHours(-1), now.AddYears(2));
        }
        using var intermediateKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var intermediateRequest = new CertificateRequest($"CN={name} intermediate CA", intermediateKey, HashAlgorithmName.SHA256);
        intermediateRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        intermediateRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        intermediateRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(intermediateRequest.PublicKey, false));
        intermediateRequest.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Root, true, false));
        using var signed = intermediateRequest.Create(Root, now.AddHours(-1), now.AddYears(1), RandomNumberGenerator.GetBytes(12));
        Intermediate = signed.CopyWithPrivateKey(intermediateKey);
    }

    /// <summary>The root CA clients trust.</summary>
    public X509Certificate2 Root { get; }

    /// <summary>The intermediate CA that signs server certificates.</summary>
    public X509Certificate2 Intermediate { get; }

    /// <summary>The root as PEM (a <c>ca.crt</c>).</summary>
    public string RootPem => Root.ExportCertificatePem() + "\n";

    /// <summary>A server certificate (with private key) for <paramref name="names"/> (DNS names or IP addresses).</summary>
    public X509Certificate2 IssueServer(params string[] names)
    {
        var now = DateTimeOffset.UtcNow;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={names[0]}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var san = new SubjectAlternativeNameBuilder();
        foreach (var n in names)
        {
            if (IPAddress.TryParse(n, out var ip)) san.AddIpAddress(ip);
            else san.AddDnsName(n);
        }
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Intermediate, true, false));
        using var signed = request.Create(Intermediate, now.AddMinutes(-10), now.AddDays(30), RandomNumberGenerator.GetBytes(12));
        return signed.CopyWithPrivateKey(key);
    }

    /// <summary>Writes <c>fullchain.pem</c> (leaf + intermediate) and <c>privkey.pem</c> into <paramref name="folder"/>,
    /// each through a temp file renamed over the target; returns their paths.</summary>
    public (string Certificate, string Key) WritePem(X509Certificate2 server, string folder, string prefix = "")
    {
        var certificate = Path.Combine(folder, prefix + "fullchain.pem");
        var key = Path.Combine(folder, prefix + "privkey.pem");
        ReplaceFile(key, server.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem() + "\n");
        ReplaceFile(certificate, server.ExportCertificatePem() + "\n" + Intermediate.ExportCertificatePem() + "\n");
        return (certificate, key);
    }

    /// <summary>A PKCS#12 file with the server certificate, its key and the intermediate.</summary>
    public string WritePkcs12(X509Certificate2 server, string path, string password)
    {
        var collection = new X509Certificate2Collection { server, X509CertificateLoader.LoadCertificate(Intermediate.RawData) };
        File.WriteAllBytes(path, collection.Export(X509ContentType.Pkcs12, password)!);
        return path;
    }

    /// <summary>A chain policy that trusts <see cref="Root"/> alone (intermediates must come from the server).</summary>
    public X509ChainPolicy TrustRootOnly()
    {
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
        };
        policy.CustomTrustStore.Add(Root);
        return policy;
    }

    private static void ReplaceFile(string path, string text)
    {
        var temp = path + ".new";
        File.WriteAllText(temp, text);
        File.Move(temp, path, overwrite: true);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Root.Dispose();
        Intermediate.Dispose();
    }
}
