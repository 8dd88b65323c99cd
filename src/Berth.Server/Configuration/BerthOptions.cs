using Microsoft.Extensions.Options;

namespace Berth.Server.Configuration;

/// <summary>
/// Top-level settings. Bound from configuration (appsettings.json, <c>BERTH_</c>-prefixed environment
/// variables such as <c>BERTH_Storage__Type</c>, and command-line switches such as <c>--data-dir</c>).
/// </summary>
public sealed class BerthOptions
{
    /// <summary>Folder for the embedded defaults (SQLite database, blob files). Default <c>./data</c>.</summary>
    public string DataDir { get; set; } = "data";

    /// <summary>The URL clients reach Berth at (e.g. <c>https://registry.example.com</c>), used in the token
    /// realm and wherever a URL is shown. Default: derived from each request's scheme and host.</summary>
    public string? ExternalUrl { get; set; }
}

/// <summary>Blob storage settings (section <c>Storage</c>).</summary>
public sealed class StorageOptions
{
    /// <summary>Allowed values of <see cref="Type"/>.</summary>
    public static readonly string[] Types = ["FileSystem", "S3"];

    /// <summary>The storage driver: <c>FileSystem</c> (default, under the data folder) or <c>S3</c> (AWS S3 or an
    /// S3-compatible store; settings in <c>Storage:S3</c>).</summary>
    public string Type { get; set; } = "FileSystem";

    /// <summary>True when <see cref="Type"/> is <c>S3</c>.</summary>
    public bool IsS3 => string.Equals(Type, "S3", StringComparison.OrdinalIgnoreCase);

    /// <summary>Filesystem driver settings.</summary>
    public FileSystemStorageOptions FileSystem { get; set; } = new();

    /// <summary>S3 driver settings (section <c>Storage:S3</c>: Bucket, Region, Endpoint, ForcePathStyle, AccessKey,
    /// SecretKey, RootDirectory, Redirect, ServerSideEncryption, KmsKeyId, PartSize).</summary>
    public Berth.Storage.S3.S3StorageOptions S3 { get; set; } = new();
}

/// <summary>Filesystem storage settings (section <c>Storage:FileSystem</c>).</summary>
public sealed class FileSystemStorageOptions
{
    /// <summary>Root folder of stored blobs and uploads. Default <c>&lt;DataDir&gt;/storage</c>.</summary>
    public string? RootDirectory { get; set; }
}

/// <summary>Metadata database settings (section <c>Database</c>).</summary>
public sealed class DatabaseOptions
{
    /// <summary>Allowed values of <see cref="Type"/>.</summary>
    public static readonly string[] Types = ["Sqlite", "PostgreSQL"];

    /// <summary>The database engine: <c>Sqlite</c> (default, embedded, one server) or <c>PostgreSQL</c> (needed for
    /// more than one replica; requires <see cref="ConnectionString"/>).</summary>
    public string Type { get; set; } = "Sqlite";

    /// <summary>Another name for <see cref="Type"/> (<c>Database:Provider</c>); when set it wins.</summary>
    public string? Provider { get; set; }

    /// <summary>The engine in force: <see cref="Provider"/> when set, else <see cref="Type"/>.</summary>
    public string EffectiveType => string.IsNullOrWhiteSpace(Provider) ? Type : Provider;

    /// <summary>True when the engine in force is PostgreSQL.</summary>
    public bool IsPostgreSql => string.Equals(EffectiveType, "PostgreSQL", StringComparison.OrdinalIgnoreCase)
        || string.Equals(EffectiveType, "Postgres", StringComparison.OrdinalIgnoreCase);

    /// <summary>Connection string; for SQLite default <c>Data Source=&lt;DataDir&gt;/berth.db</c>; for PostgreSQL an Npgsql
    /// connection string, e.g. <c>Host=db;Database=berth;Username=berth;Password=…</c>.</summary>
    public string? ConnectionString { get; set; }
}

/// <summary>Authentication settings (section <c>Auth</c>).</summary>
public sealed class AuthOptions
{
    /// <summary>Allowed values of <see cref="Mode"/>.</summary>
    public static readonly string[] Modes = ["token", "none"];

    /// <summary><c>token</c> (default): Docker token authentication with accounts and the access policy;
    /// <c>none</c>: anonymous read and write, for development only.</summary>
    public string Mode { get; set; } = "token";
}

/// <summary>Registry limits and behaviour (section <c>Registry</c>).</summary>
public sealed class RegistryOptions
{
    /// <summary>Largest accepted manifest in bytes (default and maximum 4 MiB).</summary>
    public int MaxManifestBytes { get; set; } = Berth.Distribution.ManifestParser.MaxManifestBytes;

    /// <summary>Largest <c>n</c> accepted by tag list and catalog pagination.</summary>
    public int MaxPageSize { get; set; } = 10_000;

    /// <summary>Seconds a manifest (by tag or digest) and a blob's size read for a pull are remembered
    /// (<see cref="Berth.Server.Registry.RegistryReadCache"/>): how long a tag moved or deleted, a manifest deleted or a
    /// blob unlinked by another replica may still be served here. Writes on this replica are seen at once. Default 1;
    /// 0 turns the cache off; at most 60.</summary>
    public double ReadCacheSeconds { get; set; } = 1;

    /// <summary>Docker schema 1 settings (section <c>Registry:Schema1</c>).</summary>
    public Schema1Options Schema1 { get; set; } = new();

    /// <summary>Online garbage collection (section <c>Registry:GarbageCollection</c>); see docs/garbage-collection.md.</summary>
    public Berth.Server.Registry.GarbageCollectionOptions GarbageCollection { get; set; } = new();

    /// <summary>Blob pulls (section <c>Registry:Pull</c>); see docs/performance.md.</summary>
    public PullOptions Pull { get; set; } = new();
}

/// <summary>How blob GETs are served (section <c>Registry:Pull</c>). See docs/performance.md, "Zero-copy blob pulls".</summary>
public sealed class PullOptions
{
    /// <summary>Serve filesystem blobs on cleartext HTTP/1.1 connections with the kernel's <c>sendfile(2)</c>
    /// (the response is written straight to the connection's socket and the connection is closed after it,
    /// <c>Connection: close</c>). Default true. TLS, HTTP/2, S3 storage and blobs smaller than
    /// <see cref="SendFileMinimumBytes"/> always take the regular path through Kestrel.</summary>
    public bool SendFile { get; set; } = true;

    /// <summary>Smallest response body, in bytes, served with <see cref="SendFile"/> (smaller ones keep the
    /// connection alive through Kestrel's regular path). Default 1 MiB (1048576); at least 0.</summary>
    public long SendFileMinimumBytes { get; set; } = 1 << 20;
}

/// <summary>Docker schema 1 manifests (section <c>Registry:Schema1</c>): legacy pushes, and conversion of
/// schema 2 images for clients older than Docker 1.10. See docs/manifests.md.</summary>
public sealed class Schema1Options
{
    /// <summary>Accept pushes of schema 1 manifests (signed and unsigned). Default true; when false they are
    /// refused with MANIFEST_INVALID.</summary>
    public bool AcceptPush { get; set; } = true;

    /// <summary>Serve a Docker schema 2 image pulled by tag as a converted schema 1 manifest to clients whose
    /// <c>Accept</c> names no schema 2 or OCI type. Default true.</summary>
    public bool Convert { get; set; } = true;

    /// <summary>Sign converted manifests (libtrust JWS, as Docker before 1.10 requires). Default true; when
    /// false they are served unsigned as <c>application/vnd.docker.distribution.manifest.v1+json</c>.</summary>
    public bool Sign { get; set; } = true;

    /// <summary>A PEM file with the RSA or ECDSA (P-256/P-384/P-521) private key converted manifests are signed
    /// with. Default: the registry's token-signing key (kept in the database, shared by every replica).</summary>
    public string? SigningKeyFile { get; set; }
}

/// <summary>Validates settings at start: a bad value stops the start with a message naming the key and the allowed values.</summary>
public sealed class OptionsValidator : IValidateOptions<StorageOptions>, IValidateOptions<DatabaseOptions>, IValidateOptions<AuthOptions>, IValidateOptions<RegistryOptions>
{
    /// <inheritdoc/>
    public ValidateOptionsResult Validate(string? name, StorageOptions options)
    {
        var type = OneOf("Storage:Type", options.Type, StorageOptions.Types);
        if (type.Failed || !options.IsS3) return type;
        var problems = options.S3.Validate();
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }

    /// <inheritdoc/>
    public ValidateOptionsResult Validate(string? name, DatabaseOptions options)
    {
        var key = string.IsNullOrWhiteSpace(options.Provider) ? "Database:Type" : "Database:Provider";
        var type = OneOf(key, options.EffectiveType, [.. DatabaseOptions.Types, "Postgres"]);
        if (type.Failed) return type;
        if (options.IsPostgreSql && string.IsNullOrWhiteSpace(options.ConnectionString))
            return ValidateOptionsResult.Fail($"{key} is PostgreSQL but Database:ConnectionString is empty; set it, e.g. BERTH_Database__ConnectionString=\"Host=db;Database=berth;Username=berth;Password=…\"");
        return ValidateOptionsResult.Success;
    }

    /// <inheritdoc/>
    public ValidateOptionsResult Validate(string? name, AuthOptions options) =>
        OneOf("Auth:Mode", options.Mode, AuthOptions.Modes);

    /// <inheritdoc/>
    public ValidateOptionsResult Validate(string? name, RegistryOptions options)
    {
        if (options.MaxManifestBytes is < 1024 or > Berth.Distribution.ManifestParser.MaxManifestBytes)
            return ValidateOptionsResult.Fail($"Registry:MaxManifestBytes is {options.MaxManifestBytes}; allowed: 1024 to {Berth.Distribution.ManifestParser.MaxManifestBytes}");
        if (options.MaxPageSize < 1)
            return ValidateOptionsResult.Fail($"Registry:MaxPageSize is {options.MaxPageSize}; it must be at least 1");
        if (!(options.ReadCacheSeconds is >= 0 and <= 60))
            return ValidateOptionsResult.Fail($"Registry:ReadCacheSeconds is {options.ReadCacheSeconds}; allowed: 0 (no cache) to 60 (default 1)");
        var gc = options.GarbageCollection;
        if (gc.ReviewDelay < TimeSpan.Zero)
            return ValidateOptionsResult.Fail($"Registry:GarbageCollection:ReviewDelay is {gc.ReviewDelay}; it must not be negative (default 1.00:00:00, 24 hours)");
        if (gc.Interval < TimeSpan.FromSeconds(1))
            return ValidateOptionsResult.Fail($"Registry:GarbageCollection:Interval is {gc.Interval}; it must be at least 00:00:01 (default 00:15:00)");
        if (options.Pull.SendFileMinimumBytes < 0)
            return ValidateOptionsResult.Fail($"Registry:Pull:SendFileMinimumBytes is {options.Pull.SendFileMinimumBytes}; it must be at least 0 (default 1048576, 1 MiB)");
        if (gc.BatchSize is < 1 or > 100_000)
            return ValidateOptionsResult.Fail($"Registry:GarbageCollection:BatchSize is {gc.BatchSize}; allowed: 1 to 100000");
        if (!string.IsNullOrEmpty(options.Schema1.SigningKeyFile))
        {
            try
            {
                using var key = Berth.Distribution.Schema1SigningKey.FromPem(File.ReadAllText(options.Schema1.SigningKeyFile));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
            {
                return ValidateOptionsResult.Fail($"Registry:Schema1:SigningKeyFile '{options.Schema1.SigningKeyFile}' is not a readable PEM file with an RSA or ECDSA (P-256, P-384, P-521) private key: {ex.Message}");
            }
        }
        return ValidateOptionsResult.Success;
    }

    private static ValidateOptionsResult OneOf(string key, string? value, string[] allowed) =>
        allowed.Contains(value, StringComparer.OrdinalIgnoreCase)
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"{key} is '{value}'; allowed values: {string.Join(", ", allowed)}");
}
