using System.Globalization;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Berth.Server.Hosting;

/// <summary>A server certificate ready for TLS handshakes: the leaf (with its private key) and the
/// context (leaf plus intermediates) that is sent to clients.</summary>
/// <param name="Leaf">The server certificate, with its private key.</param>
/// <param name="Context">What the handshake sends: the leaf and its intermediates.</param>
public sealed record LoadedCertificate(X509Certificate2 Leaf, SslStreamCertificateContext Context) : IDisposable
{
    /// <inheritdoc/>
    public void Dispose() => Leaf.Dispose();
}

/// <summary>
/// The certificate Kestrel presents on every <c>https://</c> address, read from PEM or PKCS#12 files and read
/// again when they change. <see cref="Current"/> is asked on every new TLS connection; it compares each file's
/// resolved path (symbolic links followed, as certbot's <c>live/</c> folder uses them), size and modification
/// time with those of the last load, and loads the files again when any differs. A file that does not load
/// (e.g. the certificate written but not yet its new key) leaves the previous certificate in use; the next
/// connection after the next change tries again.
/// </summary>
public sealed class ServerCertificateSource
{
    private readonly string _certificatePath;
    private readonly string? _keyPath;
    private readonly string? _password;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private LoadedCertificate _current;
    private string _stamp;
    private string? _failedStamp;

    /// <summary>Loads the certificate now.</summary>
    /// <exception cref="IOException">A file cannot be read.</exception>
    /// <exception cref="System.Security.Cryptography.CryptographicException">The files do not hold a usable certificate and key.</exception>
    public ServerCertificateSource(string certificatePath, string? keyPath, string? password, ILogger<ServerCertificateSource> logger)
    {
        _certificatePath = Path.GetFullPath(certificatePath);
        _keyPath = string.IsNullOrWhiteSpace(keyPath) ? null : Path.GetFullPath(keyPath);
        _password = string.IsNullOrEmpty(password) ? null : password;
        _logger = logger;
        _stamp = Stamp();
        _current = Load(_certificatePath, _keyPath, _password);
        LogLoaded("loaded", _current.Leaf);
    }

    /// <summary>The certificate to present now (files checked for changes first).</summary>
    public LoadedCertificate Current
    {
        get
        {
            Refresh();
            return _current;
        }
    }

    private void Refresh()
    {
        string stamp;
        try
        {
            stamp = Stamp();
        }
        catch (IOException)
        {
            return; // a file is being replaced right now; keep serving the current one
        }
        if (stamp == _stamp || stamp == _failedStamp) return;
        lock (_lock)
        {
            if (stamp == _stamp || stamp == _failedStamp) return;
            try
            {
                var next = Load(_certificatePath, _keyPath, _password);
                // The previous certificate is not disposed: handshakes in flight may still use it.
                _current = next;
                _stamp = stamp;
                _failedStamp = null;
                LogLoaded("reloaded", next.Leaf);
            }
            catch (Exception ex) when (IsLoadFailure(ex))
            {
                _failedStamp = stamp;
                _logger.LogWarning(ex, "TLS certificate files changed but do not load ({Certificate}, key {Key}); still serving {Thumbprint}",
                    _certificatePath, _keyPath ?? "in the same file", _current.Leaf.Thumbprint);
            }
        }
    }

    private void LogLoaded(string what, X509Certificate2 leaf)
    {
        _logger.LogInformation("TLS certificate {What}: {Subject}, thumbprint {Thumbprint}, valid until {NotAfter} (from {Certificate})",
            what, leaf.Subject, leaf.Thumbprint, leaf.NotAfter.ToUniversalTime().ToString("u", CultureInfo.InvariantCulture), _certificatePath);
        if (leaf.NotAfter.ToUniversalTime() < DateTime.UtcNow.AddDays(14))
            _logger.LogWarning("TLS certificate {Thumbprint} expires on {NotAfter}: renew it (replacing the files is enough, no restart)",
                leaf.Thumbprint, leaf.NotAfter.ToUniversalTime().ToString("u", CultureInfo.InvariantCulture));
    }

    /// <summary>True for the exceptions a bad or half-written certificate file causes.</summary>
    internal static bool IsLoadFailure(Exception ex) =>
        ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException or InvalidOperationException;

    private string Stamp()
    {
        var parts = new List<string>(2) { StampOf(_certificatePath) };
        if (_keyPath is not null) parts.Add(StampOf(_keyPath));
        return string.Join('\n', parts);
    }

    private static string StampOf(string path)
    {
        var info = new FileInfo(path);
        if (info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is FileInfo target) info = target;
        if (!info.Exists) throw new FileNotFoundException("certificate file missing", path);
        return string.Create(CultureInfo.InvariantCulture, $"{info.FullName}|{info.Length}|{info.LastWriteTimeUtc.Ticks}");
    }

    /// <summary>
    /// Loads a server certificate: PKCS#12 when the file does not start as PEM (or is named <c>.pfx</c>/<c>.p12</c>),
    /// else PEM with the key from <paramref name="keyPath"/> or from the same file. Intermediates after the leaf are kept.
    /// </summary>
    /// <exception cref="System.Security.Cryptography.CryptographicException">No certificate, no matching private key, or a wrong password.</exception>
    /// <exception cref="InvalidOperationException">The certificate is not usable for a server.</exception>
    public static LoadedCertificate Load(string certificatePath, string? keyPath, string? password)
    {
        X509Certificate2 leaf;
        var chain = new X509Certificate2Collection();
        if (IsPkcs12(certificatePath))
        {
            var all = X509CertificateLoader.LoadPkcs12CollectionFromFile(certificatePath, password);
            leaf = all.FirstOrDefault(c => c.HasPrivateKey)
                ?? throw new System.Security.Cryptography.CryptographicException("the PKCS#12 file holds no certificate with a private key");
            foreach (var c in all)
                if (!ReferenceEquals(c, leaf)) chain.Add(c);
        }
        else
        {
            var certificatePem = File.ReadAllText(certificatePath);
            var keyPem = string.IsNullOrWhiteSpace(keyPath) ? certificatePem : File.ReadAllText(keyPath);
            leaf = string.IsNullOrEmpty(password)
                ? X509Certificate2.CreateFromPem(certificatePem, keyPem)
                : X509Certificate2.CreateFromEncryptedPem(certificatePem, keyPem, password);
            var all = new X509Certificate2Collection();
            all.ImportFromPem(certificatePem);
            foreach (var c in all.Skip(1)) chain.Add(c);
        }
        if (!leaf.HasPrivateKey)
            throw new System.Security.Cryptography.CryptographicException("the certificate has no private key");
        foreach (var extension in leaf.Extensions)
        {
            if (extension is X509EnhancedKeyUsageExtension eku && eku.EnhancedKeyUsages.Count > 0
                && !eku.EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Any(o => o.Value is "1.3.6.1.5.5.7.3.1" or "2.5.29.37.0"))
                throw new InvalidOperationException($"certificate {leaf.Thumbprint} is not allowed for server authentication (its extended key usage lacks serverAuth)");
        }
        var context = SslStreamCertificateContext.Create(leaf, chain, offline: true);
        return new LoadedCertificate(leaf, context);
    }

    private static bool IsPkcs12(string path)
    {
        var extension = Path.GetExtension(path);
        if (extension.Equals(".pfx", StringComparison.OrdinalIgnoreCase) || extension.Equals(".p12", StringComparison.OrdinalIgnoreCase))
            return true;
        using var stream = File.OpenRead(path);
        Span<byte> head = stackalloc byte[64];
        int n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        // PEM is text (possibly after a BOM, blank lines or explanatory text); PKCS#12 is DER and starts with a SEQUENCE (0x30).
        return n > 0 && head[0] == 0x30;
    }
}
