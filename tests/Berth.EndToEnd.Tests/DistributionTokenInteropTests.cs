using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// Berth as the token server of a stock CNCF Distribution 2.8 (Debian's <c>docker-registry</c>), configured as
/// docs/auth.md says (<c>auth.token</c> with realm, service, issuer and <c>rootcertbundle</c> from
/// <c>/jwt/certificates.pem</c>): Distribution accepts a push made with a Berth-issued token (it checks the
/// signature through the <c>x5c</c> chain, <c>iss</c>, <c>aud</c>, lifetime and the <c>access</c> claim) and
/// refuses pushes whose token does not grant <c>push</c>.
/// </summary>
[Collection(RegistryCollection.Name)]
public sealed class DistributionTokenInteropTests(RegistryServerFixture server, ITestOutputHelper output) : IDisposable
{
    private readonly ContainerTools _tools = new(server, output);
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..8];

    [BerthOnlyFact("needs Berth as the token server")]
    public async Task Distribution_accepts_a_push_with_a_Berth_token_and_refuses_pushes_without_push_rights()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var project = await server.CreateProjectAsync("group", $"interop-{_suffix}");
        var reporter = await server.CreateUserAsync($"interop-rep-{_suffix}", "pw-" + Guid.NewGuid().ToString("N"));
        await server.AddProjectMemberAsync(project, reporter.Username, AccessLevels.Reporter);
        await using var distribution = await TokenAuthDistribution.StartAsync(server, timeout.Token);
        output.WriteLine(distribution.Config);

        var layout = await TestImages.BuildLayoutAsync(_tools, $"interop {_suffix}\n");
        var digest = layout.ResolveTag("v1").Digest;
        var repository = $"{distribution.Host}/{project}/interop";
        var root = $"{server.Username}:{server.Password}";
        try
        {
            // root (Owner) gets a token with push from Berth; Distribution validates it and stores the image.
            await _tools.SkopeoAsync(["copy", "--dest-tls-verify=false", "--dest-creds", root, $"oci:{layout.Path}:v1", $"docker://{repository}:v1"]);
            var inspected = await _tools.SkopeoAsync(["inspect", "--tls-verify=false", "--creds", root, "--format", "{{.Digest}}", $"docker://{repository}:v1"]);
            Assert.Equal(digest, inspected.StandardOutput.Trim());
            Assert.Contains("auth.user.name=root", distribution.Log, StringComparison.Ordinal);

            // A Reporter's token grants pull only: Distribution lets them read and refuses the push.
            var reporterCredentials = $"{reporter.Username}:{reporter.Password}";
            var pulled = await _tools.SkopeoAsync(["inspect", "--tls-verify=false", "--creds", reporterCredentials, "--format", "{{.Digest}}", $"docker://{repository}:v1"]);
            Assert.Equal(digest, pulled.StandardOutput.Trim());
            var reporterPush = await _tools.SkopeoUncheckedAsync(
                ["copy", "--dest-tls-verify=false", "--dest-creds", reporterCredentials, $"oci:{layout.Path}:v1", $"docker://{repository}:reporter"]);
            Assert.False(reporterPush.Succeeded, "a Reporter's push should be refused by Distribution\n" + reporterPush.Describe());
            Assert.Matches("(?i)denied|unauthorized|401|403", reporterPush.StandardError);

            // No credentials: Berth issues an anonymous token without actions, which Distribution refuses.
            var anonymousPush = await _tools.SkopeoUncheckedAsync(
                ["copy", "--dest-tls-verify=false", $"oci:{layout.Path}:v1", $"docker://{repository}:anonymous"]);
            Assert.False(anonymousPush.Succeeded, "an anonymous push should be refused by Distribution\n" + anonymousPush.Describe());
            Assert.Matches("(?i)denied|unauthorized|401|403", anonymousPush.StandardError);

            // Neither refused push left a tag behind.
            foreach (var tag in new[] { "reporter", "anonymous" })
            {
                var missing = await _tools.SkopeoUncheckedAsync(["inspect", "--raw", "--tls-verify=false", "--creds", root, $"docker://{repository}:{tag}"]);
                Assert.False(missing.Succeeded, missing.Describe());
                Assert.Contains("manifest unknown", missing.StandardError, StringComparison.OrdinalIgnoreCase);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            output.WriteLine(distribution.LogTail(120));
            output.WriteLine(server.ServerLogTail(60));
            throw;
        }
    }

    public void Dispose() => _tools.Dispose();
}
