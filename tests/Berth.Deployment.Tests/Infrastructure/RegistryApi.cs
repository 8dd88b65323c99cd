using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Berth.Deployment.Tests.Infrastructure;

/// <summary>The few calls the deployment tests make as a client: root's API token, a group and project
/// through <c>/api/v4</c>, the Bearer challenge of <c>/v2/</c> and a registry token from its realm.</summary>
public static partial class RegistryApi
{
    /// <summary>The parameters of a <c>WWW-Authenticate: Bearer …</c> challenge.</summary>
    public static Dictionary<string, string> ParseChallenge(HttpResponseMessage response)
    {
        var header = response.Headers.WwwAuthenticate.FirstOrDefault()
            ?? throw new InvalidOperationException($"{(int)response.StatusCode} without WWW-Authenticate");
        Assert.Equal("Bearer", header.Scheme);
        return ChallengeParameter().Matches(header.Parameter ?? "")
            .ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value, StringComparer.OrdinalIgnoreCase);
    }

    [GeneratedRegex("""(\w+)="([^"]*)"?""")]
    private static partial Regex ChallengeParameter();

    /// <summary>Signs in as root (<c>POST /oauth/token</c>, password grant) and returns the access token.</summary>
    public static async Task<string> RootApiTokenAsync(HttpClient client)
    {
        using var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password",
            ["username"] = "root",
            ["password"] = BerthServer.RootPassword,
        });
        using var response = await client.PostAsync("/oauth/token", form);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST /oauth/token -> {(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body)!["access_token"]!.GetValue<string>();
    }

    /// <summary>Creates group <paramref name="group"/> and project <paramref name="project"/> in it (private, registry on); returns <c>group/project</c>.</summary>
    public static async Task<string> CreateProjectAsync(HttpClient client, string apiToken, string group, string project)
    {
        await SendAsync(client, apiToken, HttpMethod.Post, "/api/v4/groups", new { name = group, path = group, visibility = "private" });
        var created = await SendAsync(client, apiToken, HttpMethod.Post, "/api/v4/projects",
            new { name = project, path = project, namespace_id = group, visibility = "private", container_registry_enabled = true });
        return created["path_with_namespace"]!.GetValue<string>();
    }

    /// <summary>Sends an <c>/api/v4</c> request with a Bearer token; asserts success; returns the JSON.</summary>
    public static async Task<JsonNode> SendAsync(HttpClient client, string apiToken, HttpMethod method, string path, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiToken);
        if (body is not null) request.Content = JsonContent.Create(body);
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{method} {path} -> {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text.Length == 0 ? "{}" : text)!;
    }

    /// <summary>Fetches a registry token from the realm of a challenge (HTTP Basic as root).</summary>
    public static async Task<string> RegistryTokenAsync(HttpClient client, Dictionary<string, string> challenge, string scope)
    {
        var url = $"{challenge["realm"]}?service={Uri.EscapeDataString(challenge["service"])}&scope={Uri.EscapeDataString(scope)}";
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"root:{BerthServer.RootPassword}")));
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {url} -> {(int)response.StatusCode}: {text}");
        var json = JsonNode.Parse(text)!;
        return (json["token"] ?? json["access_token"])!.GetValue<string>();
    }
}
