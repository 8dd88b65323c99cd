using System.Net;
using Berth.Deployment.Tests.Infrastructure;

namespace Berth.Deployment.Tests;

/// <summary>
/// <c>X-Forwarded-Proto</c>/<c>-Host</c> change the URLs Berth returns only when the connection comes from an
/// address in <c>Proxy:TrustedProxies</c>; from anyone else they are ignored (a client cannot point the token
/// realm at a host of its choosing). The token realm of the <c>/v2/</c> challenge shows which origin Berth used.
/// </summary>
public sealed class ForwardedHeadersTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Forwarded_headers_from_an_untrusted_address_are_ignored()
    {
        // The tests connect from 127.0.0.1; the trusted proxy is another address.
        await using var server = await BerthServer.StartAsync(output, arguments: ["--Proxy:TrustedProxies", "192.0.2.10, 198.51.100.0/24"]);
        Assert.Equal($"http://127.0.0.1:{server.Port}/jwt/auth", await RealmAsync(server, forwarded: true));
        Assert.Equal($"http://127.0.0.1:{server.Port}/jwt/auth", await RealmAsync(server, forwarded: false));
    }

    [Fact]
    public async Task Forwarded_headers_from_a_trusted_proxy_set_the_public_origin()
    {
        await using var server = await BerthServer.StartAsync(output, arguments: ["--Proxy:TrustedProxies", "127.0.0.1"]);
        Assert.Equal("https://registry.example.test:8443/jwt/auth", await RealmAsync(server, forwarded: true));
        Assert.Equal($"http://127.0.0.1:{server.Port}/jwt/auth", await RealmAsync(server, forwarded: false));
    }

    [Fact]
    public async Task External_url_wins_over_the_request_and_forwarded_headers()
    {
        await using var server = await BerthServer.StartAsync(output, arguments:
            ["--Proxy:TrustedProxies", "127.0.0.1", "--ExternalUrl", "https://registry.example.test"]);
        Assert.Equal("https://registry.example.test/jwt/auth", await RealmAsync(server, forwarded: true));
        Assert.Equal("https://registry.example.test/jwt/auth", await RealmAsync(server, forwarded: false));
    }

    [Fact]
    public async Task A_bad_trusted_proxy_entry_or_external_url_stops_the_start()
    {
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => BerthServer.StartAsync(output, arguments: ["--Proxy:TrustedProxies", "10.0.0.0/99"]));
        Assert.Contains("Proxy:TrustedProxies", ex.Message, StringComparison.Ordinal);
        ex = await Assert.ThrowsAsync<InvalidOperationException>(() => BerthServer.StartAsync(output, arguments: ["--ExternalUrl", "https://registry.example.test/sub/path"]));
        Assert.Contains("ExternalUrl", ex.Message, StringComparison.Ordinal);
    }

    private static async Task<string> RealmAsync(BerthServer server, bool forwarded)
    {
        using var client = new HttpClient { BaseAddress = server.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v2/");
        if (forwarded)
        {
            request.Headers.Add("X-Forwarded-Proto", "https");
            request.Headers.Add("X-Forwarded-Host", "registry.example.test:8443");
            request.Headers.Add("X-Forwarded-For", "203.0.113.7");
        }
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        return RegistryApi.ParseChallenge(response)["realm"];
    }
}
