using System.Net;
using Berth.Server.Tests.Infrastructure;

namespace Berth.Server.Tests;

/// <summary><c>/v2/</c> base endpoint, unknown routes, unsupported methods, and the API version header.</summary>
public sealed class BaseAndRoutingTests(BerthFactory factory) : IClassFixture<BerthFactory>
{
    private readonly HttpClient _client = factory.CreateRegistryClient();

    [Theory]
    [InlineData("/v2/")]
    [InlineData("/v2")]
    public async Task Base_answers_200_with_an_empty_json_object(string path)
    {
        using var response = await _client.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("registry/2.0", response.Header("Docker-Distribution-API-Version"));
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("{}", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Base_head_has_headers_and_no_body()
    {
        using var response = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/v2/"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, response.Content.Headers.ContentLength);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("/v2/nothing-here")]
    [InlineData("/v2/foo/bar")]
    [InlineData("/v2/foo/blobs")]
    [InlineData("/v2/foo/tags")]
    [InlineData("/v2/foo/manifests/")]
    public async Task Unknown_route_is_404_with_the_json_error_envelope(string path)
    {
        using var response = await _client.GetAsync(path);

        await response.AssertErrorAsync(HttpStatusCode.NotFound, "UNSUPPORTED");
    }

    [Theory]
    [InlineData("POST", "/v2/", "GET, HEAD")]
    [InlineData("DELETE", "/v2/_catalog", "GET")]
    [InlineData("POST", "/v2/library/app/manifests/latest", "GET, HEAD, PUT, DELETE")]
    [InlineData("PATCH", "/v2/library/app/manifests/latest", "GET, HEAD, PUT, DELETE")]
    [InlineData("PUT", "/v2/library/app/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000", "GET, HEAD, DELETE")]
    [InlineData("GET", "/v2/library/app/blobs/uploads/", "POST")]
    [InlineData("DELETE", "/v2/library/app/blobs/uploads/", "POST")]
    [InlineData("POST", "/v2/library/app/blobs/uploads/6f1c2b9e-3f5d-4f0e-9a57-3c2d1e0f9a8b", "GET, PATCH, PUT, DELETE")]
    [InlineData("DELETE", "/v2/library/app/tags/list", "GET")]
    [InlineData("PUT", "/v2/library/app/referrers/sha256:0000000000000000000000000000000000000000000000000000000000000000", "GET")]
    [InlineData("OPTIONS", "/v2/", "GET, HEAD")]
    [InlineData("OPTIONS", "/v2/library/app/manifests/latest", "GET, HEAD, PUT, DELETE")]
    public async Task Wrong_method_is_405_UNSUPPORTED_with_Allow(string method, string path, string allow)
    {
        using var response = await _client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        await response.AssertErrorAsync(HttpStatusCode.MethodNotAllowed, "UNSUPPORTED");
        Assert.Equal(allow, response.Header("Allow"));
    }

    [Fact]
    public async Task Head_of_an_unknown_resource_is_404_without_a_body()
    {
        using var response = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/v2/library/app/manifests/latest"));

        await response.AssertErrorAsync(HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
    }

    [Fact]
    public async Task Root_page_points_at_the_registry_api()
    {
        using var response = await _client.GetAsync("/");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("/v2/", await response.Content.ReadAsStringAsync());
    }
}
