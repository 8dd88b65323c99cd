using Berth.Storage.S3;
using Berth.Tests.Shared;

namespace Berth.Storage.Tests;

/// <summary>One moto server and bucket for all S3 driver tests; each test gets its own key prefix.</summary>
public sealed class MotoFixture : IAsyncLifetime
{
    public const string Bucket = "berth-tests";

    public MotoServer Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await MotoServer.StartAsync();
        await Server.CreateBucketAsync(Bucket);
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();

    /// <summary>A driver on a fresh key prefix; parts of the 5 MiB minimum so multipart paths run on small data.</summary>
    public S3StorageDriver CreateDriver(bool redirect = false, string? prefix = null) => new(new S3StorageOptions
    {
        Bucket = Bucket,
        Endpoint = Server.Endpoint,
        ForcePathStyle = true,
        AccessKey = MotoServer.AccessKey,
        SecretKey = MotoServer.SecretKey,
        Region = "us-east-1",
        RootDirectory = prefix ?? "t-" + Guid.NewGuid().ToString("N")[..12],
        Redirect = redirect,
        PartSize = S3StorageOptions.MinPartSize,
    })
    {
        ListPageSize = 50,
    };
}

[CollectionDefinition(Name)]
public sealed class MotoCollection : ICollectionFixture<MotoFixture>
{
    public const string Name = "moto";
}

/// <summary>The driver suite on the S3 driver against moto, with presigned redirects on.</summary>
[Collection(MotoCollection.Name)]
public sealed class S3DriverTests(MotoFixture moto) : StorageDriverSuite, IDisposable
{
    private readonly S3StorageDriver _driver = moto.CreateDriver(redirect: true);

    protected override IStorageDriver Driver => _driver;

    protected override bool RedirectsEnabled => true;

    public void Dispose() => _driver.Dispose();
}
