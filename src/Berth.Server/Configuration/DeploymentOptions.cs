using System.Net;
using Berth.Server.Hosting;
using Microsoft.Extensions.Options;

namespace Berth.Server.Configuration;

/// <summary>
/// HTTPS served by Berth itself (section <c>Tls</c>). Used by every <c>https://</c> address in <c>urls</c>:
/// TLS 1.2 and 1.3 only, HTTP/2 and HTTP/1.1 offered by ALPN. The certificate files are read again when they
/// change (checked on every new TLS connection), so a renewal needs no restart.
/// </summary>
public sealed class TlsOptions
{
    /// <summary>The server certificate: a PEM file (the certificate first, then any intermediates; it may also
    /// hold the private key) or a PKCS#12 file (<c>.pfx</c>/<c>.p12</c>, with the key and any intermediates).</summary>
    public string? CertificatePath { get; set; }

    /// <summary>PEM file with the private key (PKCS#8, PKCS#1 or SEC1; encrypted PKCS#8 with <see cref="Password"/>).
    /// Default: the key is in <see cref="CertificatePath"/>.</summary>
    public string? KeyPath { get; set; }

    /// <summary>Password of the PKCS#12 file or of an encrypted PEM key.</summary>
    public string? Password { get; set; }

    /// <summary>Creates (once) a private CA and a server certificate under <c>&lt;DataDir&gt;/tls</c> and serves
    /// that; prints the commands that make clients trust it. For a first try, not for production. Same as
    /// <c>serve --tls-self-signed</c>.</summary>
    public bool SelfSigned { get; set; }

    /// <summary>Comma-separated host names and IP addresses the self-signed server certificate is made for.
    /// Default: <c>localhost</c>, <c>127.0.0.1</c>, <c>::1</c>, this machine's host name, plus the host of
    /// <c>ExternalUrl</c> (always added).</summary>
    public string? HostNames { get; set; }

    /// <summary>Whether a certificate source is configured (files or self-signed).</summary>
    internal bool IsConfigured => SelfSigned || !string.IsNullOrWhiteSpace(CertificatePath);
}

/// <summary>
/// Reverse proxies and load balancers in front of Berth (section <c>Proxy</c>). <c>X-Forwarded-For</c>,
/// <c>X-Forwarded-Proto</c> and <c>X-Forwarded-Host</c> are honoured only on connections from these addresses;
/// from anyone else they are ignored.
/// </summary>
public sealed class ProxyOptions
{
    /// <summary>Comma-separated IP addresses and CIDR networks of trusted proxies, e.g.
    /// <c>127.0.0.1, 10.0.0.0/8</c>. Default: none (forwarded headers are ignored).</summary>
    public string? TrustedProxies { get; set; }

    /// <summary>Parses <see cref="TrustedProxies"/>.</summary>
    /// <exception cref="FormatException">An entry is neither an IP address nor a CIDR network.</exception>
    internal (List<IPAddress> Addresses, List<System.Net.IPNetwork> Networks) Parse()
    {
        var addresses = new List<IPAddress>();
        var networks = new List<System.Net.IPNetwork>();
        foreach (var entry in (TrustedProxies ?? "").Split([',', ' ', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (entry.Contains('/'))
            {
                if (!System.Net.IPNetwork.TryParse(entry, out var network))
                    throw new FormatException($"'{entry}' is not a CIDR network (like 10.0.0.0/8)");
                networks.Add(network);
            }
            else if (IPAddress.TryParse(entry, out var address))
            {
                addresses.Add(address);
            }
            else
            {
                throw new FormatException($"'{entry}' is not an IP address or CIDR network");
            }
        }
        return (addresses, networks);
    }
}

/// <summary>Validates <see cref="BerthOptions.ExternalUrl"/>, <see cref="TlsOptions"/> and <see cref="ProxyOptions"/> at start.</summary>
internal sealed class DeploymentOptionsValidator(IConfiguration configuration) :
    IValidateOptions<BerthOptions>, IValidateOptions<TlsOptions>, IValidateOptions<ProxyOptions>
{
    public ValidateOptionsResult Validate(string? name, BerthOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.ExternalUrl)) return ValidateOptionsResult.Success;
        return PublicOrigin.TryParse(options.ExternalUrl, out _, out var problem)
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"ExternalUrl is '{options.ExternalUrl}': {problem}");
    }

    public ValidateOptionsResult Validate(string? name, TlsOptions options)
    {
        var failures = new List<string>();
        if (options.SelfSigned && !string.IsNullOrWhiteSpace(options.CertificatePath))
            failures.Add("Tls:SelfSigned and Tls:CertificatePath are both set; choose one");
        if (!options.IsConfigured && !string.IsNullOrWhiteSpace(options.KeyPath))
            failures.Add("Tls:KeyPath is set but Tls:CertificatePath is not");
        var https = DeploymentHosting.ListenUrls(configuration).Where(u => u.StartsWith("https:", StringComparison.OrdinalIgnoreCase)).ToList();
        if (https.Count > 0 && !options.IsConfigured)
            failures.Add($"urls has an https address ({https[0]}) but no certificate is configured: set Tls:CertificatePath (and Tls:KeyPath) or pass --tls-self-signed");
        if (!options.SelfSigned && !string.IsNullOrWhiteSpace(options.CertificatePath))
        {
            try
            {
                using var loaded = ServerCertificateSource.Load(options.CertificatePath, options.KeyPath, options.Password);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException or InvalidOperationException)
            {
                failures.Add($"Tls:CertificatePath '{options.CertificatePath}'{(options.KeyPath is null ? "" : $" with Tls:KeyPath '{options.KeyPath}'")} cannot be used: {ex.Message}");
            }
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    public ValidateOptionsResult Validate(string? name, ProxyOptions options)
    {
        try
        {
            options.Parse();
            return ValidateOptionsResult.Success;
        }
        catch (FormatException ex)
        {
            return ValidateOptionsResult.Fail($"Proxy:TrustedProxies: {ex.Message}");
        }
    }
}
