using System.Net;
using System.Security.Authentication;
using Berth.Server.Configuration;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace Berth.Server.Hosting;

/// <summary>
/// How Berth meets the network: HTTPS served by Kestrel (<see cref="TlsOptions"/>), forwarded headers from
/// trusted proxies only (<see cref="ProxyOptions"/>), and <c>ExternalUrl</c> as the origin of every URL Berth
/// builds. Called by <see cref="BerthApp.Build"/>: <see cref="Configure"/> before the app is built,
/// <see cref="UseDeployment"/> first in the request pipeline.
/// </summary>
public static class DeploymentHosting
{
    /// <summary>The listen address when TLS is configured and <c>urls</c> is not.</summary>
    public const string DefaultHttpsUrl = "https://127.0.0.1:5443";

    /// <summary>The configured listen addresses (<c>urls</c>, also from <c>--urls</c> and <c>ASPNETCORE_URLS</c>).</summary>
    public static IReadOnlyList<string> ListenUrls(IConfiguration configuration) =>
        (configuration["urls"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Whether TLS settings are present (a certificate file or self-signed).</summary>
    public static bool IsTlsConfigured(IConfiguration configuration) =>
        (configuration.GetSection("Tls").Get<TlsOptions>() ?? new TlsOptions()).IsConfigured;

    /// <summary>
    /// Registers the deployment options and their validation, makes the self-signed certificates when asked
    /// (printing the trust commands to standard output), and points Kestrel's HTTPS at <see cref="ServerCertificateSource"/>.
    /// </summary>
    public static void Configure(WebApplicationBuilder builder)
    {
        var services = builder.Services;
        var configuration = builder.Configuration;
        services.AddSingleton<DeploymentOptionsValidator>();
        services.AddSingleton<IValidateOptions<BerthOptions>>(sp => sp.GetRequiredService<DeploymentOptionsValidator>());
        services.AddSingleton<IValidateOptions<TlsOptions>>(sp => sp.GetRequiredService<DeploymentOptionsValidator>());
        services.AddSingleton<IValidateOptions<ProxyOptions>>(sp => sp.GetRequiredService<DeploymentOptionsValidator>());
        services.AddOptions<BerthOptions>().ValidateOnStart();
        services.AddOptions<TlsOptions>().BindConfiguration("Tls").ValidateOnStart();
        services.AddOptions<ProxyOptions>().BindConfiguration("Proxy").ValidateOnStart();

        // The slim builder leaves https:// addresses off otherwise. Kestrel's default protocols (HTTP/1.1 and
        // HTTP/2) stay: on https:// addresses clients get HTTP/2 by ALPN, on http:// ones HTTP/1.1.
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // HTTP/2 flow control: with the defaults (768 KiB per stream) one layer upload over a 50 ms path
            // tops out near 15 MB/s; 8 MiB windows let a single push fill a fast link.
            kestrel.Limits.Http2.InitialConnectionWindowSize = 16 << 20;
            kestrel.Limits.Http2.InitialStreamWindowSize = 8 << 20;
        });

        var tls = configuration.GetSection("Tls").Get<TlsOptions>() ?? new TlsOptions();
        if (!tls.IsConfigured || (tls.SelfSigned && !string.IsNullOrWhiteSpace(tls.CertificatePath)))
            return; // nothing to serve, or a conflict the validator reports at start

        string certificatePath, keyPath;
        string? password = tls.Password;
        if (tls.SelfSigned)
        {
            var dataDir = configuration["DataDir"] is { Length: > 0 } d ? d : new BerthOptions().DataDir;
            var external = ExternalOrigin(configuration);
            var hosts = SelfSignedHostNames(tls, external, ListenUrls(configuration));
            var result = SelfSignedCertificates.Ensure(SelfSignedCertificates.Folder(dataDir), hosts);
            Console.Out.Write(SelfSignedCertificates.TrustInstructions(result, RegistryHosts(external, hosts, ListenUrls(configuration))));
            Console.Out.Flush();
            (certificatePath, keyPath, password) = (result.ServerCertificatePath, result.ServerKeyPath, null);
        }
        else
        {
            certificatePath = tls.CertificatePath!;
            keyPath = tls.KeyPath!;
        }
        services.AddSingleton(sp => new ServerCertificateSource(certificatePath, keyPath, password, sp.GetRequiredService<ILogger<ServerCertificateSource>>()));
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureHttpsDefaults(https =>
        {
            // Runs when an https:// address is bound, after options validation.
            var source = kestrel.ApplicationServices.GetRequiredService<ServerCertificateSource>();
            https.SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;
            https.ServerCertificateSelector = (_, _) => source.Current.Leaf; // satisfies Kestrel; replaced below
            https.OnAuthenticate = (_, ssl) =>
            {
                // One context per certificate (leaf + intermediates), so the chain is sent as configured.
                ssl.ServerCertificateSelectionCallback = null;
                ssl.ServerCertificate = null;
                ssl.ServerCertificateContext = source.Current.Context;
            };
        }));
    }

    /// <summary>
    /// First middleware: honours <c>X-Forwarded-For/-Proto/-Host</c> from trusted proxies only, then, when
    /// <c>ExternalUrl</c> is set, makes it the request's scheme and host, so every absolute URL built from the
    /// request (token realm, pagination links, API representations) uses the external address.
    /// </summary>
    public static void UseDeployment(this WebApplication app)
    {
        var (addresses, networks) = app.Services.GetRequiredService<IOptions<ProxyOptions>>().Value.Parse();
        if (addresses.Count + networks.Count > 0)
        {
            // With no known proxy at all the middleware would trust everyone, so it is only added with some.
            var forwarded = new ForwardedHeadersOptions
            {
                ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto | ForwardedHeaders.XForwardedHost,
                ForwardLimit = null, // a chain of trusted proxies is walked until the first untrusted address
            };
            forwarded.KnownProxies.Clear();
            forwarded.KnownIPNetworks.Clear();
            foreach (var address in addresses) forwarded.KnownProxies.Add(address);
            foreach (var network in networks) forwarded.KnownIPNetworks.Add(network);
            app.UseForwardedHeaders(forwarded);
        }

        var external = ExternalOrigin(app.Configuration);
        if (external is not null)
        {
            var scheme = external.Scheme;
            var host = HostString.FromUriComponent(external);
            app.Use((context, next) =>
            {
                context.Request.Scheme = scheme;
                context.Request.Host = host;
                return next(context);
            });
        }
    }

    private static Uri? ExternalOrigin(IConfiguration configuration) =>
        PublicOrigin.TryParse(configuration["ExternalUrl"], out var origin, out _) ? origin : null;

    /// <summary>The names the self-signed server certificate covers.</summary>
    internal static IReadOnlyList<string> SelfSignedHostNames(TlsOptions tls, Uri? external, IReadOnlyList<string> urls)
    {
        var names = new List<string>();
        if (!string.IsNullOrWhiteSpace(tls.HostNames))
        {
            names.AddRange(tls.HostNames.Split([',', ' ', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }
        else
        {
            names.AddRange(["localhost", "127.0.0.1", "::1"]);
            try
            {
                names.Add(Dns.GetHostName());
            }
            catch (System.Net.Sockets.SocketException)
            {
                // no host name: the defaults still cover local use
            }
            foreach (var url in urls)
                if (ParseListenUrl(url) is { } listen && !IsWildcard(listen.Host)) names.Add(listen.Host);
        }
        if (external is not null) names.Add(external.IdnHost.Trim('[', ']'));
        return names.Where(n => n.Length > 0).Select(n => n.Trim('[', ']')).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
    }

    /// <summary>The registry addresses (<c>host[:port]</c>) clients use, for the trust instructions.</summary>
    internal static IReadOnlyList<string> RegistryHosts(Uri? external, IReadOnlyList<string> hostNames, IReadOnlyList<string> urls)
    {
        if (external is not null) return [PublicOrigin.RegistryHost(external)];
        var https = urls.Select(ParseListenUrl).FirstOrDefault(u => u is { Scheme: "https" });
        var port = https?.Port ?? 443;
        return hostNames
            .Where(h => !(IPAddress.TryParse(h, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6))
            .Select(h => port == 443 ? h : $"{h}:{port}")
            .ToList();
    }

    /// <summary>Parses a Kestrel listen URL (<c>https://*:5443</c>, <c>http://[::]:80</c>, …) into scheme, host and port.</summary>
    internal static (string Scheme, string Host, int Port)? ParseListenUrl(string url)
    {
        var schemeEnd = url.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd <= 0) return null;
        var scheme = url[..schemeEnd].ToLowerInvariant();
        var rest = url[(schemeEnd + 3)..];
        var slash = rest.IndexOf('/');
        if (slash >= 0) rest = rest[..slash];
        string host;
        int port = scheme == "https" ? 443 : 80;
        if (rest.StartsWith('['))
        {
            var close = rest.IndexOf(']');
            if (close < 0) return null;
            host = rest[1..close];
            if (rest.Length > close + 2 && rest[close + 1] == ':' && int.TryParse(rest[(close + 2)..], out var p6)) port = p6;
        }
        else
        {
            var colon = rest.LastIndexOf(':');
            host = colon >= 0 ? rest[..colon] : rest;
            if (colon >= 0 && int.TryParse(rest[(colon + 1)..], out var p)) port = p;
        }
        return (scheme, host, port);
    }

    private static bool IsWildcard(string host) => host is "*" or "+" or "0.0.0.0" or "::" or "";
}
