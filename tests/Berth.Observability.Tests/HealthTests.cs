using System.Net;
using System.Text.Json;

namespace Berth.Observability.Tests;

public sealed class HealthTests : IClassFixture<HealthTests.Fixture>
{
    public sealed class Fixture : IDisposable
    {
        public ObsFactory Factory { get; } = new();
        public void Dispose() => Factory.Dispose();
    }

    private readonly ObsFactory _factory;

    public HealthTests(Fixture fixture) => _factory = fixture.Factory;

    [Fact]
    public async Task Liveness_answers_alive()
    {
        using var response = await _factory.CreateClient().GetAsync("/-/liveness");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("alive", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("/-/readiness")]
    [InlineData("/-/health")]
    public async Task Readiness_and_health_name_database_storage_and_signing_key(string path)
    {
        using var response = await _factory.CreateClient().GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        using var doc = JsonDocument.Parse(body);
        var checks = doc.RootElement.GetProperty("checks").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!, c => c.GetProperty("ok").GetBoolean());
        Assert.True(checks["database"]);
        Assert.True(checks["storage"]);
        Assert.True(checks["signing key"]);
        Assert.Equal("application/json; charset=utf-8", response.Content.Headers.ContentType!.ToString());
    }

    [Fact]
    public async Task Request_id_is_taken_from_the_caller_or_generated()
    {
        var client = _factory.CreateClient();
        using var given = new HttpRequestMessage(HttpMethod.Get, "/-/liveness");
        given.Headers.Add("X-Request-Id", "caller-id-42");
        using var r1 = await client.SendAsync(given);
        Assert.Equal("caller-id-42", r1.Headers.GetValues("X-Request-Id").Single());

        using var bad = new HttpRequestMessage(HttpMethod.Get, "/-/liveness");
        bad.Headers.TryAddWithoutValidation("X-Request-Id", "has spaces and <html>");
        using var r2 = await client.SendAsync(bad);
        var generated = r2.Headers.GetValues("X-Request-Id").Single();
        Assert.Matches("^[0-9a-f]{32}$", generated);
    }
}
