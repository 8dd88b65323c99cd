using System.Collections.Concurrent;
using System.Net;
using Berth.Distribution;
using Berth.Server.Registry;
using Berth.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using static Berth.Server.Tests.Infrastructure.Registry;

namespace Berth.Server.Tests;

/// <summary>The one authorization check point of <c>/v2</c>, driven by a scripted authorizer: which repository and actions
/// each endpoint asks for, refusals written as the error envelope (401 with its challenge, 403 with a body), mounts that
/// need pull on the source, and unexpected failures answered as 500 UNKNOWN.</summary>
public sealed class AuthorizationTests : IClassFixture<BerthFactory>
{
    private const string Zero = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    private readonly ScriptedAuthorizer _authorizer = new();
    private readonly HttpClient _client;

    public AuthorizationTests(BerthFactory factory)
    {
        _client = factory.WithWebHostBuilder(b => b.ConfigureTestServices(s => s.AddSingleton<IRegistryAuthorizer>(_authorizer))).CreateDefaultClient();
    }

    private sealed class ScriptedAuthorizer : IRegistryAuthorizer
    {
        public Func<RepositoryName?, RegistryActions, AccessDecision> Decide { get; set; } = (_, _) => AccessDecision.Allow;

        public ConcurrentQueue<(string? Repository, RegistryActions Actions)> Asked { get; } = new();

        public ValueTask<AccessDecision> AuthorizeAsync(HttpContext context, RepositoryName? repository, RegistryActions actions, CancellationToken cancellationToken)
        {
            Asked.Enqueue((repository?.Value, actions));
            return ValueTask.FromResult(Decide(repository, actions));
        }
    }

    [Theory]
    [InlineData("GET", "/v2/", null, RegistryActions.None)]
    [InlineData("GET", "/v2/_catalog", null, RegistryActions.Catalog)]
    [InlineData("GET", "/v2/a/b/manifests/latest", "a/b", RegistryActions.Pull)]
    [InlineData("HEAD", "/v2/a/b/manifests/latest", "a/b", RegistryActions.Pull)]
    [InlineData("PUT", "/v2/a/b/manifests/latest", "a/b", RegistryActions.Push)]
    [InlineData("DELETE", "/v2/a/b/manifests/latest", "a/b", RegistryActions.Delete)]
    [InlineData("GET", "/v2/a/b/blobs/" + Zero, "a/b", RegistryActions.Pull)]
    [InlineData("DELETE", "/v2/a/b/blobs/" + Zero, "a/b", RegistryActions.Delete)]
    [InlineData("POST", "/v2/a/b/blobs/uploads/", "a/b", RegistryActions.Push)]
    [InlineData("GET", "/v2/a/b/blobs/uploads/6f1c2b9e-3f5d-4f0e-9a57-3c2d1e0f9a8b", "a/b", RegistryActions.Push)]
    [InlineData("GET", "/v2/a/b/tags/list", "a/b", RegistryActions.Pull)]
    [InlineData("GET", "/v2/a/b/referrers/" + Zero, "a/b", RegistryActions.Pull)]
    public async Task Each_endpoint_asks_for_its_repository_and_actions(string method, string path, string? repository, RegistryActions actions)
    {
        _authorizer.Decide = (_, _) => new AccessDecision(false, new RegistryException(ErrorCode.Denied, "scripted refusal"));
        _authorizer.Asked.Clear();

        using var response = await _client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        await response.AssertErrorAsync(HttpStatusCode.Forbidden, "DENIED");
        Assert.Equal((repository, actions), Assert.Single(_authorizer.Asked));
    }

    [Fact]
    public async Task Unauthorized_is_401_with_the_challenge_and_the_error_envelope()
    {
        const string challenge = "Bearer realm=\"https://berth.example/jwt/auth\",service=\"berth\",scope=\"repository:a/b:pull\"";
        _authorizer.Decide = (_, _) => new AccessDecision(false, new RegistryException(ErrorCode.Unauthorized, "authentication required"), challenge);

        using var response = await _client.GetAsync("/v2/a/b/tags/list");

        await response.AssertErrorAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        Assert.Equal(challenge, response.Header("WWW-Authenticate"));
        Assert.Equal("registry/2.0", response.Header("Docker-Distribution-API-Version"));
    }

    [Fact]
    public async Task Refusal_without_an_error_is_403_DENIED_with_a_body()
    {
        _authorizer.Decide = (_, _) => new AccessDecision(false);

        using var response = await _client.GetAsync("/v2/a/b/manifests/latest");

        await response.AssertErrorAsync(HttpStatusCode.Forbidden, "DENIED");
    }

    [Fact]
    public async Task Mount_without_pull_on_the_source_falls_back_to_an_upload_session()
    {
        _authorizer.Decide = (_, _) => AccessDecision.Allow;
        var source = NewRepo("secret");
        var blob = await _client.PushBlobAsync(source, RandomBytes(100));
        var target = NewRepo("mine");
        _authorizer.Decide = (repo, actions) => repo?.Value == source && actions.HasFlag(RegistryActions.Pull)
            ? new AccessDecision(false, new RegistryException(ErrorCode.Denied))
            : AccessDecision.Allow;

        using var mount = await _client.PostAsync($"/v2/{target}/blobs/uploads/?mount={blob.Digest}&from={source}", null);

        Assert.Equal(HttpStatusCode.Accepted, mount.StatusCode);
        using var get = await _client.GetAsync($"/v2/{target}/blobs/{blob.Digest}");
        await get.AssertErrorAsync(HttpStatusCode.NotFound, "BLOB_UNKNOWN");
    }

    [Fact]
    public async Task Unexpected_exception_is_500_UNKNOWN_with_the_error_envelope()
    {
        _authorizer.Decide = (_, _) => throw new InvalidOperationException("boom");

        using var response = await _client.GetAsync("/v2/a/b/tags/list");

        var error = await response.AssertErrorAsync(HttpStatusCode.InternalServerError, "UNKNOWN");
        Assert.DoesNotContain("boom", error.ToString()); // internals stay in the server log
        Assert.Equal("registry/2.0", response.Header("Docker-Distribution-API-Version"));
    }
}
