using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Berth.Metadata;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Berth.Auth.Ci;

/// <summary>
/// The signing keys of trusted OIDC issuers: an identity's inline JWKS, or the JWKS fetched from its
/// <c>jwks_url</c>, or from the <c>jwks_uri</c> of the issuer's OpenID discovery document
/// (<c>&lt;issuer&gt;/.well-known/openid-configuration</c>). Fetched documents are cached for
/// <see cref="CiOptions.JwksCacheMinutes"/>; a forced refresh (a token signed with an unknown key) re-fetches
/// at most every 30 seconds. Only <c>https</c> URLs are fetched, or <c>http</c> on a loopback host. Documents
/// larger than 1 MiB are refused.
/// </summary>
public sealed class JwksCache(IHttpClientFactory http, IOptions<CiOptions> options, TimeProvider clock)
{
    /// <summary>Name of the HTTP client used for fetches.</summary>
    public const string HttpClientName = "berth-oidc";

    private const int MaxDocumentBytes = 1 << 20;
    private static readonly TimeSpan MinRefreshInterval = TimeSpan.FromSeconds(30);
    private readonly ConcurrentDictionary<string, (string Json, DateTimeOffset FetchedAt)> _documents = new(StringComparer.Ordinal);

    /// <summary>Why a URL may not be fetched, or null when it may: absolute, <c>https</c> (or <c>http</c> to a loopback host), no credentials in it.</summary>
    public static string? CheckUrl(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http"))
            return $"'{url}' is not an absolute http(s) URL";
        if (uri.Scheme == "http" && !uri.IsLoopback)
            return $"'{url}' must use https (plain http is allowed only for a loopback host)";
        if (!string.IsNullOrEmpty(uri.UserInfo)) return $"'{url}' must not hold credentials";
        return null;
    }

    /// <summary>Parses a JWKS document and keeps its public signing keys (RSA, EC; <c>use</c> absent or <c>sig</c>).</summary>
    /// <exception cref="ArgumentException">Not a JWKS, no signing key, or a private key in it.</exception>
    public static IReadOnlyList<JsonWebKey> ParseSigningKeys(string json)
    {
        JsonWebKeySet set;
        try
        {
            set = new JsonWebKeySet(json);
        }
        catch (Exception ex) when (ex is ArgumentException or JsonException or InvalidOperationException)
        {
            throw new ArgumentException("it is not a JWKS document ({\"keys\":[…]})", ex);
        }
        if (set.Keys.Any(k => !string.IsNullOrEmpty(k.D)))
            throw new ArgumentException("it holds a private key (a \"d\" member): give only the issuer's public keys");
        var keys = set.Keys.Where(k => k.Kty is "RSA" or "EC" && (string.IsNullOrEmpty(k.Use) || k.Use == "sig")).ToList();
        if (keys.Count == 0) throw new ArgumentException("it holds no RSA or EC signing key");
        return keys;
    }

    /// <summary>The signing keys of a trusted identity.</summary>
    /// <param name="trust">The identity.</param>
    /// <param name="refresh">Re-fetch now (a token was signed with a key not in the cached set), unless fetched in the last 30 seconds.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <exception cref="InvalidOperationException">The keys could not be fetched or parsed; the message says why.</exception>
    public async Task<IReadOnlyList<JsonWebKey>> GetKeysAsync(TrustedIdentityEntity trust, bool refresh, CancellationToken cancellationToken)
    {
        string json;
        string source;
        if (trust.JwksJson is { } inline)
        {
            json = inline;
            source = "the JWKS registered with the trusted identity";
        }
        else
        {
            var url = trust.JwksUrl ?? await DiscoverJwksUrlAsync(trust.Issuer, refresh, cancellationToken);
            json = await FetchAsync(url, refresh, cancellationToken);
            source = url;
        }
        try
        {
            return ParseSigningKeys(json);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidOperationException($"the issuer's keys from {source} are unusable: {ex.Message}");
        }
    }

    private async Task<string> DiscoverJwksUrlAsync(string issuer, bool refresh, CancellationToken cancellationToken)
    {
        var url = issuer.TrimEnd('/') + "/.well-known/openid-configuration";
        var json = await FetchAsync(url, refresh, cancellationToken);
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.TryGetProperty("jwks_uri", out var uri) && uri.ValueKind == JsonValueKind.String && uri.GetString() is { Length: > 0 } jwks)
            {
                if (CheckUrl(jwks) is { } problem) throw new InvalidOperationException($"the discovery document {url} names an unusable jwks_uri: {problem}");
                return jwks;
            }
        }
        catch (JsonException)
        {
        }
        throw new InvalidOperationException($"the OpenID discovery document {url} has no jwks_uri");
    }

    private async Task<string> FetchAsync(string url, bool refresh, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        if (_documents.TryGetValue(url, out var cached))
        {
            var age = now - cached.FetchedAt;
            if (age < MinRefreshInterval || (!refresh && age < TimeSpan.FromMinutes(options.Value.JwksCacheMinutes))) return cached.Json;
        }
        if (CheckUrl(url) is { } problem) throw new InvalidOperationException($"cannot fetch the issuer's keys: {problem}");
        var client = http.CreateClient(HttpClientName);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.Value.JwksFetchTimeoutSeconds));
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.Accept.ParseAdd("application/json");
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            if (response.StatusCode != HttpStatusCode.OK)
                throw new InvalidOperationException($"GET {url} answered {(int)response.StatusCode}");
            if (response.Content.Headers.ContentLength > MaxDocumentBytes)
                throw new InvalidOperationException($"GET {url} answered a document larger than 1 MiB");
            await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token);
            using var buffer = new MemoryStream();
            var chunk = new byte[16 * 1024];
            int n;
            while ((n = await stream.ReadAsync(chunk, timeout.Token)) > 0)
            {
                buffer.Write(chunk, 0, n);
                if (buffer.Length > MaxDocumentBytes) throw new InvalidOperationException($"GET {url} answered a document larger than 1 MiB");
            }
            var json = System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
            _documents[url] = (json, clock.GetUtcNow());
            return json;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new InvalidOperationException($"GET {url} timed out after {options.Value.JwksFetchTimeoutSeconds} s");
        }
        catch (HttpRequestException ex)
        {
            throw new InvalidOperationException($"GET {url} failed: {ex.Message}");
        }
    }
}
