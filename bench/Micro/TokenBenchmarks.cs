using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using Berth.Auth;
using Berth.Auth.Tokens;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Berth.Bench.Micro;

/// <summary>
/// Registry tokens: Berth's own issue and verify (<see cref="RegistryTokenService"/> with its active ES256 key
/// from the database; verification once with a cold cache, once answered from <see cref="VerifiedTokenCache"/>),
/// and the raw signing cost of ES256 (P-256) against RS256 (RSA-2048) with the same claims — the reason new keys
/// are ES256.
/// </summary>
[MemoryDiagnoser]
public class TokenBenchmarks
{
    private BenchHost _host = null!;
    private AsyncServiceScope _scope;
    private RegistryTokenService _tokens = null!;
    private string _token = "";
    private readonly Principal _principal = new(PrincipalKind.User, "bench") { UserId = 1, IsAdmin = true, Via = "personal_access_token", CredentialId = 1 };
    private readonly IReadOnlyList<AccessEntry> _access = [new AccessEntry("repository", "bench/app", ["pull", "push"])];
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };
    private SigningCredentials _es256 = null!;
    private SigningCredentials _rs256 = null!;

    [GlobalSetup]
    public async Task Setup()
    {
        _host = await BenchHost.StartAsync();
        _scope = _host.Services.CreateAsyncScope();
        _tokens = _scope.ServiceProvider.GetRequiredService<RegistryTokenService>();
        _token = (await _tokens.IssueAsync(_principal, _access, CancellationToken.None)).Token;
        _es256 = new SigningCredentials(new ECDsaSecurityKey(ECDsa.Create(ECCurve.NamedCurves.nistP256)) { KeyId = "es" }, SecurityAlgorithms.EcdsaSha256);
        _rs256 = new SigningCredentials(new RsaSecurityKey(RSA.Create(2048)) { KeyId = "rs" }, SecurityAlgorithms.RsaSha256);
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _scope.DisposeAsync();
        await _host.DisposeAsync();
    }

    [Benchmark(Description = "issue a registry token (Berth, ES256)")]
    public async Task<string> Issue() => (await _tokens.IssueAsync(_principal, _access, CancellationToken.None)).Token;

    [Benchmark(Description = "verify a registry token, first time (signature + claims)")]
    public async Task<VerifiedToken> VerifyCold()
    {
        _scope.ServiceProvider.GetRequiredService<VerifiedTokenCache>().Clear();
        return await _tokens.VerifyAsync(_token, CancellationToken.None);
    }

    [Benchmark(Description = "verify a registry token, seen before (cache)")]
    public Task<VerifiedToken> VerifyCached() => _tokens.VerifyAsync(_token, CancellationToken.None);

    [Benchmark(Description = "sign the same claims, ES256 (P-256)")]
    public string SignEs256() => Sign(_es256);

    [Benchmark(Baseline = true, Description = "sign the same claims, RS256 (RSA-2048)")]
    public string SignRs256() => Sign(_rs256);

    private string Sign(SigningCredentials credentials) => _handler.CreateToken(new SecurityTokenDescriptor
    {
        Issuer = "berth",
        Audience = "container_registry",
        IssuedAt = DateTime.UtcNow,
        NotBefore = DateTime.UtcNow,
        Expires = DateTime.UtcNow.AddMinutes(5),
        Claims = new Dictionary<string, object>
        {
            ["sub"] = "bench",
            ["jti"] = Guid.NewGuid().ToString("N"),
            ["access"] = new[] { new Dictionary<string, object> { ["type"] = "repository", ["name"] = "bench/app", ["actions"] = new[] { "pull", "push" } } },
        },
        SigningCredentials = credentials,
    });
}
