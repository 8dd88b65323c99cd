using System.Text.Json.Nodes;

namespace Berth.Api.Tests.Infrastructure;

/// <summary>Creates groups, projects and memberships through the API (as the given client), asserting success.</summary>
public static class Setup
{
    public static async Task<JsonNode> GroupAsync(HttpClient client, string? path = null, string visibility = "private", long? parentId = null)
    {
        path ??= ApiFactory.Unique("g");
        return (await client.ApiPostAsync("/api/v4/groups", new { name = path.ToUpperInvariant(), path, visibility, parent_id = parentId })).Expect(201);
    }

    public static async Task<JsonNode> ProjectAsync(HttpClient client, long? namespaceId, string? path = null, string visibility = "private")
    {
        path ??= ApiFactory.Unique("p");
        return (await client.ApiPostAsync("/api/v4/projects", new { name = path, path, namespace_id = namespaceId, visibility })).Expect(201);
    }

    public static async Task MemberAsync(HttpClient client, string kind, long id, long userId, int level) =>
        (await client.ApiPostAsync($"/api/v4/{kind}/{id}/members", new { user_id = userId, access_level = level })).Expect(201);
}
