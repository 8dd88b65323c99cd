using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Berth.ScaleOut.Tests.Infrastructure;
using Berth.Server.Cli;
using Berth.Tests.Shared;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Logging;

namespace Berth.ScaleOut.Tests;

/// <summary>
/// The classic misconfiguration: storage credentials that may PUT but not GET (so HEAD is refused too). moto enforces
/// an IAM policy that denies only s3:GetObject; <c>berth doctor</c> names HeadObject and GetObject and the permission
/// to grant, and a push gets a JSON 503 saying the storage backend refused HeadObject, never a bare 403.
/// Against the healthy scale-out setup (PostgreSQL + moto without restrictions) every check passes.
/// </summary>
[Collection(ScaleOutCollection.Name)]
public sealed class DoctorTests(ScaleOutFixture fixture, DoctorTests.RestrictedMoto restricted, ITestOutputHelper output) : IClassFixture<DoctorTests.RestrictedMoto>, IDisposable
{
    private const string DeniedBucket = "denied-bucket";
    private readonly MotoServer _restricted = restricted.Server;
    private readonly (string AccessKey, string SecretKey) _keys = restricted.Keys;
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "berth-doctor-" + Guid.NewGuid().ToString("N")[..12]);

    /// <summary>A moto server that enforces IAM, with a user whose policy denies only s3:GetObject (so HEAD too).</summary>
    public sealed class RestrictedMoto : IAsyncLifetime
    {
        public MotoServer Server { get; private set; } = null!;
        public (string AccessKey, string SecretKey) Keys { get; private set; }

        public async Task InitializeAsync()
        {
            Server = await MotoServer.StartAsync(initialNoAuthActions: 4);
            Keys = await Server.CreateRestrictedUserAsync(DeniedBucket, """
                {"Version":"2012-10-17","Statement":[
                  {"Effect":"Allow","Action":"s3:*","Resource":"*"},
                  {"Effect":"Deny","Action":"s3:GetObject","Resource":"*"}]}
                """);
        }

        public async Task DisposeAsync() => await Server.DisposeAsync();
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dataDir, recursive: true); } catch (IOException) { }
    }

    private static string[] Args(IDictionary<string, string> settings) =>
        settings.SelectMany(kv => new[] { "--" + kv.Key, kv.Value }).ToArray();

    private async Task<(int Code, string Output)> DoctorAsync(IDictionary<string, string> settings)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int code = await DoctorCommand.RunAsync(Args(settings), stdout, stderr);
        var text = stdout + stderr.ToString();
        output.WriteLine($"$ berth doctor (exit {code})\n{text}");
        return (code, text);
    }

    [Fact]
    public async Task Doctor_passes_on_the_healthy_scale_out_setup()
    {
        var settings = ScaleOutFixture.StorageSettings(fixture.Moto.Endpoint, ScaleOutFixture.Bucket, MotoServer.AccessKey, MotoServer.SecretKey);
        settings["Database:Type"] = "PostgreSQL";
        settings["Database:ConnectionString"] = fixture.ConnectionString;
        settings["DataDir"] = _dataDir;
        var (code, text) = await DoctorAsync(settings);
        Assert.True(code == 0, text);
        Assert.Contains("all checks passed", text);
        foreach (var operation in new[] { "PutObject", "HeadObject", "GetObject", "ListObjectsV2", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "AbortMultipartUpload", "CopyObject", "UploadPartCopy", "presigned GET", "DeleteObjects", "migrated", "reachable" })
            Assert.Contains("ok       " + operation, text);
        Assert.Contains("the database's clock", text);
        Assert.Contains("the object store's clock", text);
    }

    [Fact]
    public async Task Doctor_names_the_refused_operation_and_the_permission_to_grant()
    {
        var settings = ScaleOutFixture.StorageSettings(_restricted.Endpoint, DeniedBucket, _keys.AccessKey, _keys.SecretKey);
        settings["DataDir"] = _dataDir;
        var (code, text) = await DoctorAsync(settings);
        Assert.Equal(1, code);
        Assert.Contains("FAILED   HeadObject denied: 403", text);
        Assert.Contains("grant s3:GetObject on arn:aws:s3:::denied-bucket/registry/*", text);
        Assert.Contains("FAILED   GetObject denied: 403 AccessDenied", text);
        Assert.Contains("ok       PutObject", text);
        Assert.Contains("ok       CompleteMultipartUpload", text);
        Assert.Contains("check(s) failed", text);
    }

    [Fact]
    public async Task Doctor_refuses_a_bad_configuration_naming_the_key()
    {
        var (code, text) = await DoctorAsync(new Dictionary<string, string> { ["Storage:Type"] = "S3", ["Database:Provider"] = "Oracle", ["DataDir"] = _dataDir });
        Assert.Equal(3, code);
        Assert.Contains("Storage:S3:Bucket is required", text);
    }

    [Fact]
    public async Task A_push_refused_by_storage_is_a_json_503_naming_the_operation_and_the_replica_is_not_ready()
    {
        var settings = ScaleOutFixture.StorageSettings(_restricted.Endpoint, DeniedBucket, _keys.AccessKey, _keys.SecretKey);
        settings["DataDir"] = _dataDir;
        settings["Auth:Mode"] = "none";
        await using var app = new WebApplicationFactory<Program>().WithWebHostBuilder(builder =>
        {
            foreach (var (key, value) in settings) builder.UseSetting(key, value);
            builder.ConfigureLogging(logging => logging.ClearProviders());
        });
        using var client = app.CreateClient();

        using var start = await client.PostAsync("v2/group/project/app/blobs/uploads/", null);
        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode); // PutObject is allowed
        var content = RandomNumberGenerator.GetBytes(1000);
        using var patch = new HttpRequestMessage(HttpMethod.Patch, start.Headers.Location) { Content = new ByteArrayContent(content) };
        patch.Content.Headers.ContentType = new("application/octet-stream");
        using var refused = await client.SendAsync(patch);
        var body = await refused.Content.ReadAsStringAsync();
        output.WriteLine(body);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.StartsWith("application/json", refused.Content.Headers.ContentType!.ToString());
        var error = JsonNode.Parse(body)!["errors"]![0]!;
        Assert.Equal("UNAVAILABLE", error["code"]!.GetValue<string>());
        Assert.Contains("refused HeadObject (access denied)", error["message"]!.GetValue<string>());
        Assert.Equal("HeadObject", error["detail"]!["operation"]!.GetValue<string>());
        Assert.Equal("s3", error["detail"]!["backend"]!.GetValue<string>());

        using var ready = await client.GetAsync("-/health/ready");
        var readiness = await ready.Content.ReadAsStringAsync();
        output.WriteLine(readiness);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains("HeadObject", readiness);
    }
}
