using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Berth.Tests.Shared;

namespace Berth.ScaleOut.Tests.Infrastructure;

/// <summary>
/// The production topology on one machine: PostgreSQL 15 (private cluster), an S3 store (moto), two Berth replicas
/// on their own loopback ports sharing both, and nginx round-robin in front. The replicas start one after the other
/// (the first applies the migrations and creates <c>root</c>); then the fixture signs in as root through nginx and
/// creates the private project <see cref="Project"/> with its registry on.
/// </summary>
public sealed class ScaleOutFixture : IAsyncLifetime
{
    public const string Bucket = "berth-scale-out";
    public const string Project = "scale/project";

    private readonly string _root = Path.Combine(Path.GetTempPath(), "berth-scale-out-" + Guid.NewGuid().ToString("N")[..12]);

    public PostgresServer Postgres { get; private set; } = null!;
    public MotoServer Moto { get; private set; } = null!;
    public string ConnectionString { get; private set; } = "";
    public BerthProcess[] Replicas { get; private set; } = [];
    public Nginx LoadBalancer { get; private set; } = null!;
    public string RootPassword { get; } = "scale-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(12)).ToLowerInvariant();

    /// <summary>The <c>BERTH_*</c> settings every replica gets.</summary>
    public Dictionary<string, string> Environment { get; } = [];

    public async Task InitializeAsync()
    {
        var postgres = PostgresServer.StartAsync();
        var moto = MotoServer.StartAsync();
        Postgres = await postgres;
        Moto = await moto;
        ConnectionString = await Postgres.CreateDatabaseAsync("berth");
        await Moto.CreateBucketAsync(Bucket);
        foreach (var (key, value) in StorageSettings(Moto.Endpoint, Bucket, MotoServer.AccessKey, MotoServer.SecretKey))
            Environment["BERTH_" + key.Replace(":", "__", StringComparison.Ordinal)] = value;
        Environment["BERTH_Database__Type"] = "PostgreSQL";
        Environment["BERTH_Database__ConnectionString"] = ConnectionString;
        Environment["BERTH_ROOT_PASSWORD"] = RootPassword;
        Environment["BERTH_Logging__LogLevel__Default"] = "Information";

        Replicas = [new BerthProcess("replica-a", Environment, Path.Combine(_root, "a")), new BerthProcess("replica-b", Environment, Path.Combine(_root, "b"))];
        LoadBalancer = await Nginx.StartAsync(Replicas.Select(r => r.Port));
        Environment["BERTH_ExternalUrl"] = LoadBalancer.BaseAddress.AbsoluteUri.TrimEnd('/');
        foreach (var replica in Replicas) await replica.StartAsync();
        await ProvisionAsync();
    }

    /// <summary>S3 settings as configuration keys (<c>Storage:S3:…</c>).</summary>
    public static Dictionary<string, string> StorageSettings(string endpoint, string bucket, string accessKey, string secretKey) => new()
    {
        ["Storage:Type"] = "S3",
        ["Storage:S3:Bucket"] = bucket,
        ["Storage:S3:Endpoint"] = endpoint,
        ["Storage:S3:ForcePathStyle"] = "true",
        ["Storage:S3:Region"] = "us-east-1",
        ["Storage:S3:AccessKey"] = accessKey,
        ["Storage:S3:SecretKey"] = secretKey,
        ["Storage:S3:RootDirectory"] = "registry",
    };

    public string Logs() => string.Join("\n", Replicas.Select(r => r.LogTail(80))) + "\n--- nginx access log ---\n" +
        string.Join('\n', LoadBalancer.AccessLog.Split('\n').TakeLast(40)) + "\n--- nginx error log ---\n" + LoadBalancer.ErrorLog;

    /// <summary>An HTTP client for a base address, optionally with HTTP Basic as root or a Bearer token.</summary>
    public HttpClient Client(Uri baseAddress, string? bearer = null, bool basic = false)
    {
        var client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.FromSeconds(2) })
        {
            BaseAddress = baseAddress,
            Timeout = TimeSpan.FromMinutes(3),
        };
        if (bearer is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        else if (basic) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("root:" + RootPassword)));
        return client;
    }

    /// <summary>A registry token for <paramref name="scope"/> from the token service of the server at <paramref name="baseAddress"/>.</summary>
    public async Task<string> TokenAsync(Uri baseAddress, string scope)
    {
        using var client = Client(baseAddress, basic: true);
        using var response = await client.GetAsync($"jwt/auth?service=container_registry&scope={Uri.EscapeDataString(scope)}");
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"token from {baseAddress}: {(int)response.StatusCode} {body}\n{Logs()}");
        return JsonNode.Parse(body)!["token"]!.GetValue<string>();
    }

    private async Task ProvisionAsync()
    {
        using var client = Client(LoadBalancer.BaseAddress);
        using var form = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "password", ["username"] = "root", ["password"] = RootPassword });
        using var tokenResponse = await client.PostAsync("oauth/token", form);
        var tokenBody = await tokenResponse.Content.ReadAsStringAsync();
        if (!tokenResponse.IsSuccessStatusCode) throw new InvalidOperationException($"oauth/token: {(int)tokenResponse.StatusCode} {tokenBody}\n{Logs()}");
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", JsonNode.Parse(tokenBody)!["access_token"]!.GetValue<string>());
        await PostJsonAsync(client, "api/v4/groups", new { name = "scale", path = "scale", visibility = "private" });
        await PostJsonAsync(client, "api/v4/projects", new { name = "project", path = "project", namespace_id = "scale", visibility = "private", container_registry_enabled = true });
    }

    private async Task PostJsonAsync(HttpClient client, string path, object body)
    {
        using var content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        using var response = await client.PostAsync(path, content);
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"POST {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}\n{Logs()}");
    }

    public async Task DisposeAsync()
    {
        if (LoadBalancer is not null) await LoadBalancer.DisposeAsync();
        foreach (var replica in Replicas) await replica.DisposeAsync();
        if (Moto is not null) await Moto.DisposeAsync();
        if (Postgres is not null) await Postgres.DisposeAsync();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}

[CollectionDefinition(Name)]
public sealed class ScaleOutCollection : ICollectionFixture<ScaleOutFixture>
{
    public const string Name = "scale-out";
}
