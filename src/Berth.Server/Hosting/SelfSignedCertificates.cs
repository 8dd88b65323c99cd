using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Berth.Server.Hosting;

/// <summary>
/// <c>serve --tls-self-signed</c>: a private CA and a server certificate it signs, kept in <c>&lt;DataDir&gt;/tls</c>
/// (<c>ca.crt</c>, <c>ca.key</c>, <c>server.crt</c>, <c>server.key</c>; PEM, keys mode 0600, ECDSA P-256). The CA
/// is made once and kept (10 years), so clients trust it once; the server certificate (1 year) is made again
/// when it is missing, expires within 30 days, was not signed by the CA, or lacks one of the host names.
/// </summary>
public static class SelfSignedCertificates
{
    /// <summary>File names inside the folder.</summary>
    public const string CaCertificateFile = "ca.crt", CaKeyFile = "ca.key", ServerCertificateFile = "server.crt", ServerKeyFile = "server.key";

    /// <summary>The folder under the data folder.</summary>
    public static string Folder(string dataDir) => Path.Combine(Path.GetFullPath(dataDir), "tls");

    /// <summary>What <see cref="Ensure"/> found or made.</summary>
    /// <param name="Folder">The folder holding the files.</param>
    /// <param name="CaCreated">Whether the CA was made now.</param>
    /// <param name="ServerCreated">Whether the server certificate was made now.</param>
    /// <param name="HostNames">The names and addresses the server certificate is valid for.</param>
    /// <param name="CaFingerprint">SHA-256 fingerprint of the CA certificate (colon-separated hex).</param>
    /// <param name="NotAfter">When the server certificate expires (UTC).</param>
    public sealed record Result(string Folder, bool CaCreated, bool ServerCreated, IReadOnlyList<string> HostNames, string CaFingerprint, DateTime NotAfter)
    {
        /// <summary>Path of the CA certificate clients must trust.</summary>
        public string CaCertificatePath => Path.Combine(Folder, CaCertificateFile);
        /// <summary>Path of the server certificate.</summary>
        public string ServerCertificatePath => Path.Combine(Folder, ServerCertificateFile);
        /// <summary>Path of the server key.</summary>
        public string ServerKeyPath => Path.Combine(Folder, ServerKeyFile);
    }

    /// <summary>Makes sure the CA and a server certificate for <paramref name="hostNames"/> exist in <paramref name="folder"/>.</summary>
    /// <exception cref="IOException">The folder cannot be written.</exception>
    public static Result Ensure(string folder, IReadOnlyList<string> hostNames, TimeProvider? clock = null)
    {
        clock ??= TimeProvider.System;
        var now = clock.GetUtcNow();
        Directory.CreateDirectory(folder);
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var caCertPath = Path.Combine(folder, CaCertificateFile);
        var caKeyPath = Path.Combine(folder, CaKeyFile);
        var serverCertPath = Path.Combine(folder, ServerCertificateFile);
        var serverKeyPath = Path.Combine(folder, ServerKeyFile);

        bool caCreated = false;
        X509Certificate2? ca = TryLoad(caCertPath, caKeyPath);
        if (ca is null || ca.NotAfter.ToUniversalTime() < now.UtcDateTime.AddDays(60))
        {
            ca?.Dispose();
            ca = CreateCa(now);
            WriteKey(caKeyPath, ca.GetECDsaPrivateKey()!);
            WriteText(caCertPath, ca.ExportCertificatePem() + "\n");
            caCreated = true;
        }

        bool serverCreated = false;
        var server = caCreated ? null : TryLoad(serverCertPath, serverKeyPath);
        if (server is null || !IsGoodServerCertificate(server, ca, hostNames, now))
        {
            server?.Dispose();
            server = CreateServer(ca, hostNames, now);
            // Key first, then certificate: a running server that reloads in between keeps its old pair
            // (the new certificate with the old key does not load) and picks up the pair at the next connection.
            WriteKey(serverKeyPath, server.GetECDsaPrivateKey()!);
            WriteText(serverCertPath, server.ExportCertificatePem() + "\n");
            serverCreated = true;
        }

        var result = new Result(folder, caCreated, serverCreated, hostNames, Fingerprint(ca), server.NotAfter.ToUniversalTime());
        ca.Dispose();
        server.Dispose();
        return result;
    }

    /// <summary>The commands an operator runs on a client machine to trust the CA, for podman/skopeo/buildah and Docker.</summary>
    /// <param name="result">What <see cref="Ensure"/> returned.</param>
    /// <param name="registryHosts">The registry addresses clients use (<c>host</c> or <c>host:port</c>).</param>
    public static string TrustInstructions(Result result, IReadOnlyList<string> registryHosts)
    {
        var text = new StringBuilder();
        var ca = result.CaCertificatePath;
        text.AppendLine(CultureInfo.InvariantCulture, $"berth: serving HTTPS with a self-signed certificate from {result.Folder}");
        text.AppendLine(CultureInfo.InvariantCulture, $"  CA certificate:     {ca}{(result.CaCreated ? " (created now)" : "")}");
        text.AppendLine(CultureInfo.InvariantCulture, $"  CA fingerprint:     SHA256 {result.CaFingerprint}");
        text.AppendLine(CultureInfo.InvariantCulture, $"  server certificate: {string.Join(", ", result.HostNames)}; valid until {result.NotAfter:yyyy-MM-dd}{(result.ServerCreated ? " (created now)" : "")}");
        text.AppendLine("To trust it, copy ca.crt to each client machine and run there (as root):");
        text.AppendLine("  # podman, skopeo, buildah (rootless podman also reads ~/.config/containers/certs.d/)");
        foreach (var host in registryHosts)
            text.AppendLine(CultureInfo.InvariantCulture, $"  install -D -m 0644 {ca} /etc/containers/certs.d/{host}/ca.crt");
        text.AppendLine("  # Docker (no restart needed)");
        foreach (var host in registryHosts)
            text.AppendLine(CultureInfo.InvariantCulture, $"  install -D -m 0644 {ca} /etc/docker/certs.d/{host}/ca.crt");
        text.AppendLine("  # curl and other programs using the system store (Debian, Ubuntu)");
        text.AppendLine(CultureInfo.InvariantCulture, $"  install -m 0644 {ca} /usr/local/share/ca-certificates/berth-ca.crt && update-ca-certificates");
        return text.ToString();
    }

    private static X509Certificate2? TryLoad(string certPath, string keyPath)
    {
        if (!File.Exists(certPath) || !File.Exists(keyPath)) return null;
        try
        {
            return X509Certificate2.CreateFromPemFile(certPath, keyPath);
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or ArgumentException)
        {
            return null;
        }
    }

    private static bool IsGoodServerCertificate(X509Certificate2 server, X509Certificate2 ca, IReadOnlyList<string> hostNames, DateTimeOffset now)
    {
        if (server.NotAfter.ToUniversalTime() < now.UtcDateTime.AddDays(30)) return false;
        if (!string.Equals(server.Issuer, ca.Subject, StringComparison.Ordinal)) return false;
        using (var key = ca.GetECDsaPublicKey())
        {
            // Signed by this CA: the authority key identifier names the CA's subject key identifier.
            var aki = server.Extensions.OfType<X509AuthorityKeyIdentifierExtension>().FirstOrDefault();
            var ski = ca.Extensions.OfType<X509SubjectKeyIdentifierExtension>().FirstOrDefault();
            if (key is null || aki?.KeyIdentifier is null || ski is null || !aki.KeyIdentifier.Value.Span.SequenceEqual(ski.SubjectKeyIdentifierBytes.Span)) return false;
        }
        var san = server.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
        if (san is null) return false;
        var names = san.EnumerateDnsNames().Select(n => n.ToLowerInvariant())
            .Concat(san.EnumerateIPAddresses().Select(a => a.ToString())).ToHashSet(StringComparer.Ordinal);
        return hostNames.All(h => names.Contains(IPAddress.TryParse(h, out var ip) ? ip.ToString() : h.ToLowerInvariant()));
    }

    private static X509Certificate2 CreateCa(DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var name = new X500DistinguishedName($"CN=Berth self-signed CA {Dns.GetHostName()} {now:yyyy-MM-dd}, O=Berth");
        var request = new CertificateRequest(name, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, true));
        var ski = new X509SubjectKeyIdentifierExtension(request.PublicKey, false);
        request.CertificateExtensions.Add(ski);
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromSubjectKeyIdentifier(ski));
        return request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(10));
    }

    private static X509Certificate2 CreateServer(X509Certificate2 ca, IReadOnlyList<string> hostNames, DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var first = hostNames.FirstOrDefault(h => !IPAddress.TryParse(h, out _)) ?? hostNames.FirstOrDefault() ?? "localhost";
        var request = new CertificateRequest(new X500DistinguishedName($"CN={first}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1", "Server Authentication")], false));
        var san = new SubjectAlternativeNameBuilder();
        foreach (var host in hostNames)
        {
            if (IPAddress.TryParse(host, out var ip)) san.AddIpAddress(ip);
            else san.AddDnsName(host);
        }
        request.CertificateExtensions.Add(san.Build(critical: false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F; // positive
        var notAfter = now.AddDays(365);
        if (notAfter > ca.NotAfter) notAfter = ca.NotAfter;
        using var signed = request.Create(ca, now.AddMinutes(-5), notAfter, serial);
        return signed.CopyWithPrivateKey(key);
    }

    private static string Fingerprint(X509Certificate2 certificate) =>
        string.Join(':', certificate.GetCertHash(HashAlgorithmName.SHA256).Select(b => b.ToString("X2", CultureInfo.InvariantCulture)));

    private static void WriteKey(string path, ECDsa key) => WriteFile(path, key.ExportPkcs8PrivateKeyPem() + "\n", UnixFileMode.UserRead | UnixFileMode.UserWrite);

    private static void WriteText(string path, string text) =>
        WriteFile(path, text, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

    /// <summary>Writes to a temp file beside the target, then renames it over the target (readers never see half a file).</summary>
    private static void WriteFile(string path, string text, UnixFileMode mode)
    {
        var temp = path + ".tmp-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = mode;
        using (var stream = new FileStream(temp, options))
        using (var writer = new StreamWriter(stream, new UTF8Encoding(false)))
        {
            writer.Write(text);
        }
        File.Move(temp, path, overwrite: true);
    }
}
