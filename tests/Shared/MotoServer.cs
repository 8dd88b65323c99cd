using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Berth.Tests.Shared;

/// <summary>
/// A private moto S3 server (<c>moto_server</c>, preinstalled Python moto) on a free loopback port, killed on
/// dispose. With <c>initialNoAuthActions</c> moto enforces IAM policies after that many requests
/// (<c>INITIAL_NO_AUTH_ACTION_COUNT</c>): the fixture spends them creating the bucket and a restricted user.
/// </summary>
public sealed class MotoServer : IAsyncDisposable
{
    /// <summary>Access key of moto's default (unrestricted) account when IAM is not enforced.</summary>
    public const string AccessKey = "testing";
    /// <summary>Secret key paired with <see cref="AccessKey"/>.</summary>
    public const string SecretKey = "testing";

    private readonly TestProcesses.Background _process;

    private MotoServer(TestProcesses.Background process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public string Endpoint => $"http://127.0.0.1:{Port}";

    public string Log => _process.Log;

    public static async Task<MotoServer> StartAsync(int? initialNoAuthActions = null)
    {
        int port = TestProcesses.GetFreeLoopbackPort();
        var environment = new Dictionary<string, string> { ["MOTO_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        if (initialNoAuthActions is { } n) environment["INITIAL_NO_AUTH_ACTION_COUNT"] = n.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var process = new TestProcesses.Background("moto_server", ["-H", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture)], environment);
        var server = new MotoServer(process, port);
        try
        {
            await TestProcesses.WaitForPortAsync(port, TimeSpan.FromSeconds(60), () => process.HasExited, () => process.LogTail());
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
        return server;
    }

    /// <summary>An S3 client for the server with the given (default: unrestricted) keys.</summary>
    public AmazonS3Client CreateClient(string accessKey = AccessKey, string secretKey = SecretKey) =>
        new(new BasicAWSCredentials(accessKey, secretKey), new AmazonS3Config
        {
            ServiceURL = Endpoint,
            ForcePathStyle = true,
            AuthenticationRegion = "us-east-1",
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        });

    public async Task CreateBucketAsync(string bucket)
    {
        using var client = CreateClient();
        await client.PutBucketAsync(new PutBucketRequest { BucketName = bucket });
    }

    /// <summary>
    /// On a server started with <c>initialNoAuthActions: 4</c>: creates the bucket, an IAM user with the given policy
    /// and its access key (exactly four requests, through boto3, which moto ships with); from then on moto enforces IAM.
    /// </summary>
    public async Task<(string AccessKey, string SecretKey)> CreateRestrictedUserAsync(string bucket, string policyJson)
    {
        var script = """
            import boto3, json, sys
            endpoint, bucket, policy = sys.argv[1], sys.argv[2], sys.argv[3]
            kw = dict(endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
            boto3.client("s3", **kw).create_bucket(Bucket=bucket)
            iam = boto3.client("iam", **kw)
            iam.create_user(UserName="berth")
            iam.put_user_policy(UserName="berth", PolicyName="berth", PolicyDocument=policy)
            key = iam.create_access_key(UserName="berth")["AccessKey"]
            print(key["AccessKeyId"] + " " + key["SecretAccessKey"])
            """;
        var output = await TestProcesses.RunCheckedAsync("python3", ["-c", script, Endpoint, bucket, policyJson]);
        var parts = output.Trim().Split('\n')[^1].Split(' ');
        return (parts[0], parts[1]);
    }

    public async ValueTask DisposeAsync() => await _process.DisposeAsync();
}
