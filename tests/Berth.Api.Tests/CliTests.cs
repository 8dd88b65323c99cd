using Berth.Api.Tests.Infrastructure;
using Berth.Auth;
using Berth.Server;
using Berth.Server.Cli;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Berth.Api.Tests;

/// <summary>The admin verbs, run in process through the same entry as <c>berth &lt;verb&gt; …</c>.</summary>
public sealed class CliTests(ApiFactory factory) : IClassFixture<ApiFactory>, IDisposable
{
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "berth-api-tests", "cli-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try { if (Directory.Exists(_dataDir)) Directory.Delete(_dataDir, true); } catch (IOException) { }
    }

    private sealed record Run(int ExitCode, string Stdout, string Stderr);

    private async Task<Run> BerthInAsync(string dataDir, string stdin, params string[] args)
    {
        var (verb, rest) = CommandLine.Split([.. args, "--data-dir", dataDir, "--Auth:Passwords:Iterations", "1000", "--RootPassword", "cli-root-password"]);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = await AdminCommands.RunAsync(verb, rest, new StringReader(stdin), stdout, stderr);
        return new Run(code, stdout.ToString(), stderr.ToString());
    }

    private Task<Run> BerthAsync(params string[] args) => BerthInAsync(_dataDir, "", args);

    private async Task<CredentialResult> SignInAsync(string dataDir, string username, string secret)
    {
        await using var provider = BuildServices(dataDir);
        await using var scope = provider.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<CredentialValidator>().ValidateAsync(username, secret, null, CancellationToken.None);
    }

    private static ServiceProvider BuildServices(string dataDir)
    {
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["DataDir"] = dataDir, ["Auth:Passwords:Iterations"] = "1000" }).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<Microsoft.Extensions.Configuration.IConfiguration>(configuration);
        BerthApp.AddBerth(services, configuration);
        return services.BuildServiceProvider();
    }

    [Fact]
    public async Task User_create_on_a_new_data_dir()
    {
        var run = await BerthAsync("user", "create", "alice", "--email", "alice@example.com", "--name", "Alice", "--password", "alice-password");
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains("Created user alice", run.Stdout);
        Assert.True((await SignInAsync(_dataDir, "alice", "alice-password")).Succeeded);
        // The first run also bootstrapped root with the configured password.
        Assert.True((await SignInAsync(_dataDir, "root", "cli-root-password")).Succeeded);

        var again = await BerthAsync("user", "create", "ALICE", "--email", "other@example.com");
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("already been taken", again.Stderr);
        Assert.Equal("", again.Stdout);
    }

    [Fact]
    public async Task User_create_admin_with_password_on_stdin()
    {
        var run = await BerthInAsync(_dataDir, "stdin-password\n", "user", "create", "boss", "--email", "boss@example.com", "--password-stdin", "--admin");
        Assert.True(run.ExitCode == 0, run.Stderr);
        var result = await SignInAsync(_dataDir, "boss", "stdin-password");
        Assert.True(result.Succeeded, result.Message);
        Assert.True(result.Principal!.IsAdmin);
    }

    [Fact]
    public async Task User_password()
    {
        Assert.Equal(0, (await BerthAsync("user", "create", "carol", "--email", "carol@example.com", "--password", "old-password")).ExitCode);
        var run = await BerthInAsync(_dataDir, "new-password\n", "user", "password", "carol", "--password-stdin");
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.False((await SignInAsync(_dataDir, "carol", "old-password")).Succeeded);
        Assert.True((await SignInAsync(_dataDir, "carol", "new-password")).Succeeded);
        Assert.Equal(1, (await BerthAsync("user", "password", "carol", "--password", "short")).ExitCode);
        Assert.Equal(1, (await BerthAsync("user", "password", "nobody", "--password", "long-enough")).ExitCode);
        Assert.Equal(2, (await BerthAsync("user", "password", "carol")).ExitCode);
    }

    [Fact]
    public async Task Two_factor_enable_and_disable()
    {
        Assert.Equal(0, (await BerthAsync("user", "create", "dave", "--email", "dave@example.com", "--password", "dave-password")).ExitCode);
        var run = await BerthAsync("user", "2fa", "enable", "dave");
        Assert.True(run.ExitCode == 0, run.Stderr);
        var lines = run.Stdout.Split('\n', StringSplitOptions.TrimEntries);
        var secret = lines.Single(l => l.StartsWith("secret: ", StringComparison.Ordinal))["secret: ".Length..];
        Assert.Matches("^[A-Z2-7]{32}$", secret);
        Assert.Contains(lines, l => l.StartsWith("uri: otpauth://totp/", StringComparison.Ordinal) && l.Contains(secret));
        Assert.Equal(10, lines.Count(l => System.Text.RegularExpressions.Regex.IsMatch(l, "^[0-9a-f]{16}$")));
        Assert.Equal(CredentialFailure.TwoFactorRequiresToken, (await SignInAsync(_dataDir, "dave", "dave-password")).Failure);

        Assert.Equal(0, (await BerthAsync("user", "2fa", "disable", "dave")).ExitCode);
        Assert.True((await SignInAsync(_dataDir, "dave", "dave-password")).Succeeded);
        Assert.Equal(1, (await BerthAsync("user", "2fa", "enable", "nobody")).ExitCode);
    }

    [Fact]
    public async Task Token_create_prints_only_the_token()
    {
        Assert.Equal(0, (await BerthAsync("user", "create", "erin", "--email", "erin@example.com")).ExitCode);
        var run = await BerthAsync("token", "create", "erin", "--scopes", "read_registry,write_registry", "--name", "ci", "--expires", "2099-12-31");
        Assert.True(run.ExitCode == 0, run.Stderr);
        var token = run.Stdout.Trim();
        Assert.Matches("^bpat-[A-Za-z0-9]{32}$", token);
        Assert.Equal(token + Environment.NewLine, run.Stdout);
        var result = await SignInAsync(_dataDir, "erin", token);
        Assert.True(result.Succeeded, result.Message);
        Assert.Equal(["read_registry", "write_registry"], result.Principal!.Scopes!.Order());

        Assert.Equal(1, (await BerthAsync("token", "create", "erin", "--scopes", "sudo")).ExitCode);
        Assert.Equal(1, (await BerthAsync("token", "create", "nobody", "--scopes", "api")).ExitCode);
        Assert.Equal(1, (await BerthAsync("token", "create", "erin", "--scopes", "api", "--expires", "2001-01-01")).ExitCode);
        Assert.Equal(2, (await BerthAsync("token", "create", "erin")).ExitCode);
        Assert.Equal(2, (await BerthAsync("token", "create", "erin", "--scopes", "api", "--expires", "next-year")).ExitCode);
    }

    [Fact]
    public async Task Usage_errors()
    {
        var run = await BerthAsync("user", "frobnicate", "x");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("unknown command", run.Stderr);
        Assert.Contains("token create", run.Stderr);
        Assert.Equal(2, (await BerthAsync("user")).ExitCode);
        Assert.Equal(2, (await BerthAsync("user", "create", "x")).ExitCode);
        Assert.Equal(2, (await BerthAsync("user", "create", "x", "--email")).ExitCode);
    }

    [Fact]
    public async Task Works_while_the_server_runs()
    {
        var root = await factory.RootClientAsync();
        var name = ApiFactory.Unique("live");
        Assert.Equal(0, (await BerthInAsync(factory.DataDir, "", "user", "create", name, "--email", $"{name}@example.com")).ExitCode);
        var run = await BerthInAsync(factory.DataDir, "", "token", "create", name, "--scopes", "api");
        Assert.True(run.ExitCode == 0, run.Stderr);
        var me = (await factory.ClientWithToken(run.Stdout.Trim()).ApiGetAsync("/api/v4/user")).Expect(200);
        Assert.Equal(name, me.Str("username"));
        Assert.Contains((await root.ApiGetAsync($"/api/v4/users?username={name}")).Expect(200).AsArray(), u => u!.Str("username") == name);
    }
}
