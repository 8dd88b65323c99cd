using System.Collections.Concurrent;
using Berth.Auth.Tokens;
using Berth.Distribution;
using Berth.Server.Configuration;
using Microsoft.Extensions.Options;

namespace Berth.Server.Registry;

/// <summary>
/// Serves Docker schema 2 images to clients older than Docker 1.10, which read only schema 1: builds the
/// schema 1 manifest from the image config (<see cref="Schema1Converter"/>), makes the empty layer it may
/// reference servable in the repository, signs it (<see cref="Schema1Jws"/>, with <see cref="Schema1KeySource"/>)
/// unless <c>Registry:Schema1:Sign</c> is false, and caches the result in memory. The served digest is the
/// SHA-256 of the canonical payload, the same on every replica whatever the key, so the cache is only a saving.
/// </summary>
public sealed class Schema1Conversions(RegistryService registry, Schema1ConversionCache cache, Schema1KeySource keys,
    IOptions<RegistryOptions> options, TimeProvider clock)
{
    /// <summary>The largest image config read for a conversion, in bytes.</summary>
    public const long MaxConfigBytes = 16 * 1024 * 1024;

    /// <summary>The schema 1 form of a stored Docker schema 2 image manifest pulled by <paramref name="tag"/>.</summary>
    /// <exception cref="RegistryException">MANIFEST_UNKNOWN when the image cannot be converted (its config is
    /// missing or does not describe its layers), with a message saying so.</exception>
    public async Task<ManifestRecord> ConvertAsync(RepositoryName repository, Tag tag, ManifestRecord stored, CancellationToken cancellationToken)
    {
        bool sign = options.Value.Schema1.Sign;
        var key = new Schema1ConversionCache.Key(repository.Value, tag.Value, stored.Digest, sign);
        if (cache.TryGet(key, out var cached))
        {
            if (cached.UsesEmptyLayer) await EnsureEmptyLayerAsync(repository, cancellationToken);
            return cached.Record;
        }

        var manifest = ManifestParser.Parse(stored.Content, stored.MediaType);
        var configDigest = manifest.Config!.Digest;
        var config = await registry.ReadSmallBlobAsync(repository, configDigest, MaxConfigBytes, cancellationToken)
            ?? throw new RegistryException(ErrorCode.ManifestUnknown,
                $"this image cannot be served as a Docker schema 1 manifest, which is all this client accepts: its image config {configDigest} is missing or larger than {MaxConfigBytes} bytes; pull it with Docker 1.10 or later",
                new { reason = "image config unavailable", digest = configDigest.ToString() });
        var conversion = Schema1Converter.Convert(repository, tag, config, manifest.Layers);
        if (conversion.UsesEmptyLayer) await EnsureEmptyLayerAsync(repository, cancellationToken);

        ManifestRecord record;
        if (sign)
        {
            var signingKey = await keys.GetAsync(cancellationToken);
            record = new ManifestRecord(Digest.ComputeSha256(conversion.Payload), MediaTypes.DockerSchema1Signed,
                Schema1Jws.Sign(conversion.Payload, signingKey, clock.GetUtcNow()), null);
        }
        else
        {
            record = new ManifestRecord(Digest.ComputeSha256(conversion.Payload), MediaTypes.DockerSchema1, conversion.Payload, null);
        }
        cache.Add(key, new Schema1ConversionCache.Entry(record, conversion.UsesEmptyLayer));
        return record;
    }

    private Task EnsureEmptyLayerAsync(RepositoryName repository, CancellationToken cancellationToken) =>
        registry.EnsureBlobAsync(repository, Schema1Converter.EmptyLayerDigest, Schema1Converter.EmptyLayer.ToArray(), cancellationToken);
}

/// <summary>
/// Converted schema 1 manifests by (repository, tag, schema 2 manifest digest, signed?), in memory, at most
/// <see cref="Capacity"/> entries (the cache is emptied when full). A tag moved to another manifest simply
/// misses; nothing needs invalidating.
/// </summary>
public sealed class Schema1ConversionCache
{
    /// <summary>The most entries kept.</summary>
    public const int Capacity = 2048;

    private readonly ConcurrentDictionary<Key, Entry> _entries = new();

    /// <summary>A cache key.</summary>
    public readonly record struct Key(string Repository, string Tag, Digest Manifest, bool Signed);

    /// <summary>A cached conversion.</summary>
    public sealed record Entry(ManifestRecord Record, bool UsesEmptyLayer);

    /// <summary>Looks a conversion up.</summary>
    public bool TryGet(Key key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Entry? entry) => _entries.TryGetValue(key, out entry);

    /// <summary>Adds a conversion.</summary>
    public void Add(Key key, Entry entry)
    {
        if (_entries.Count >= Capacity) _entries.Clear();
        _entries[key] = entry;
    }
}

/// <summary>
/// The key converted schema 1 manifests are signed with: the PEM file of <c>Registry:Schema1:SigningKeyFile</c>
/// when set, else the registry's active token-signing key (ES256, or RS256 for keys made by earlier versions) (<see cref="SigningKeyStore"/>), which lives in
/// the database and so is the same on every replica. Either way each signature carries its public key
/// (<c>jwk</c>), which is how schema 1 clients verify it.
/// </summary>
public sealed class Schema1KeySource(SigningKeyStore store, IOptions<RegistryOptions> options) : IDisposable
{
    private readonly Lazy<Schema1SigningKey?> _fileKey = new(() =>
        string.IsNullOrEmpty(options.Value.Schema1.SigningKeyFile)
            ? null
            : Schema1SigningKey.FromPem(File.ReadAllText(options.Value.Schema1.SigningKeyFile)));
    private readonly ConcurrentDictionary<string, Schema1SigningKey> _storeKeys = new(StringComparer.Ordinal);

    /// <summary>The key to sign with now.</summary>
    public async Task<Schema1SigningKey> GetAsync(CancellationToken cancellationToken)
    {
        if (_fileKey.Value is { } fileKey) return fileKey;
        var active = await store.GetActiveKeyAsync(cancellationToken);
        return _storeKeys.GetOrAdd(active.Id, _ => active.Ecdsa is { } ec ? Schema1SigningKey.FromECDsa(ec) : Schema1SigningKey.FromRsa(active.Rsa!));
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_fileKey.IsValueCreated) _fileKey.Value?.Dispose();
    }
}

/// <summary>Registration of the schema 1 services.</summary>
public static class Schema1ServiceCollectionExtensions
{
    /// <summary>Adds <see cref="Schema1Conversions"/> and its cache and key source.</summary>
    public static IServiceCollection AddSchema1Support(this IServiceCollection services)
    {
        services.AddSingleton<Schema1ConversionCache>();
        services.AddSingleton<Schema1KeySource>();
        services.AddScoped<Schema1Conversions>();
        return services;
    }
}
