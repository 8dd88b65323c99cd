using System.Globalization;
using Berth.Auth.Accounts;
using Microsoft.Extensions.Options;

namespace Berth.Server.Cli;

/// <summary>
/// The admin verbs of the <c>berth</c> executable, for automation and recovery:
/// <c>user create|password|2fa enable|2fa disable</c>, <c>token create</c> and <c>gc [--dry-run]</c>. They read the same configuration
/// as <c>serve</c> (appsettings.json, <c>BERTH_</c> environment variables, <c>--data-dir</c> and
/// <c>--Section:Key value</c> switches), apply pending migrations, and work on the database directly, without
/// listening on any port, so they can run while the server runs (SQLite in WAL mode).
/// Exit codes: 0 done, 1 refused (the reason on stderr), 2 usage error, 3 configuration error.
/// </summary>
internal static class AdminCommands
{
    public const string Usage = """
        Admin commands:
          user create <username> --email <e> [--name <n>] [--password <p> | --password-stdin] [--admin]
          user password <username> (--password <p> | --password-stdin)
          user 2fa enable <username>     turn on TOTP; prints the secret, the otpauth URI and recovery codes
          user 2fa disable <username>
          token create <username> --scopes <s1,s2> [--name <n>] [--expires <YYYY-MM-DD>]
                                         prints only the new personal access token
                                         (scopes: api, read_api, read_registry, write_registry)
          gc [--dry-run]                 one garbage collection pass now: queue what nothing references, delete
                                         what is due (Registry:GarbageCollection:ReviewDelay after it was queued);
                                         --dry-run lists what would be deleted and queued, and why, changing nothing
        """;

    private static readonly HashSet<string> ValueOptions = ["--email", "--name", "--password", "--scopes", "--expires"];
    private static readonly HashSet<string> FlagOptions = ["--admin", "--password-stdin", "--dry-run"];

    /// <summary>True for the verbs handled here.</summary>
    public static bool Handles(string verb) => verb is "user" or "token" or "gc";

    /// <summary>Runs one admin command.</summary>
    /// <param name="verb"><c>user</c> or <c>token</c>.</param>
    /// <param name="args">The rest of the command line (with <c>--data-dir</c> already turned into <c>--DataDir</c>).</param>
    /// <param name="stdin">Standard input (for <c>--password-stdin</c>).</param>
    /// <param name="stdout">Standard output: results only.</param>
    /// <param name="stderr">Standard error: errors and log lines.</param>
    /// <param name="configure">Extra host configuration (tests).</param>
    public static async Task<int> RunAsync(string verb, string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr,
        Action<HostApplicationBuilder>? configure = null)
    {
        var positional = new List<string>();
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        var hostArgs = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            var a = args[i];
            var (name, inline) = a.StartsWith("--", StringComparison.Ordinal) && a.Contains('=')
                ? (a[..a.IndexOf('=')], a[(a.IndexOf('=') + 1)..])
                : (a, null);
            if (FlagOptions.Contains(name)) options[name] = "true";
            else if (ValueOptions.Contains(name))
            {
                if (inline is null && i + 1 >= args.Length) return UsageError(stderr, $"{name} needs a value");
                options[name] = inline ?? args[++i];
            }
            else if (a.StartsWith('-'))
            {
                hostArgs.Add(a);
                if (inline is null && i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) hostArgs.Add(args[++i]);
            }
            else positional.Add(a);
        }

        Func<IServiceProvider, CancellationToken, Task<int>>? command;
        try
        {
            command = Parse(verb, positional, options, stdin, stdout, stderr);
        }
        catch (UsageException ex)
        {
            return UsageError(stderr, ex.Message);
        }

        try
        {
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
            {
                Args = hostArgs.ToArray(),
                ContentRootPath = AppContext.BaseDirectory,
            });
            // Quiet by default (results go to stdout, warnings and errors to stderr); --Logging:LogLevel:Default raises it.
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Logging:LogLevel:Default"] = "Warning",
                ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Warning",
            });
            builder.Configuration.AddEnvironmentVariables("BERTH_");
            builder.Configuration.AddCommandLine(hostArgs.ToArray());
            builder.Logging.ClearProviders();
            builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
            builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
            builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
            configure?.Invoke(builder);
            BerthApp.AddBerth(builder.Services, builder.Configuration);
            using var host = builder.Build();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
            await host.StartAsync(timeout.Token);
            try
            {
                await using var scope = host.Services.CreateAsyncScope();
                return await command(scope.ServiceProvider, timeout.Token);
            }
            finally
            {
                await host.StopAsync(CancellationToken.None);
            }
        }
        catch (AccountException ex)
        {
            await stderr.WriteLineAsync($"berth {verb}: {ex.Message}");
            return 1;
        }
        catch (OptionsValidationException ex)
        {
            await stderr.WriteLineAsync("berth: configuration error:");
            foreach (var failure in ex.Failures) await stderr.WriteLineAsync("  - " + failure);
            return 3;
        }
    }

    private sealed class UsageException(string message) : Exception(message);

    private static async Task WriteGcReportAsync(TextWriter stdout, Berth.Server.Registry.GcReport report)
    {
        static string Count(IEnumerable<Berth.Server.Registry.GcItem> items, Berth.Server.Registry.GcItemKind kind, string noun)
        {
            int n = items.Count(i => i.Kind == kind);
            return $"{n} {noun}{(n == 1 ? "" : "s")}";
        }
        var (delete, queue) = report.DryRun ? ("would delete", "would queue") : ("deleted", "queued");
        await stdout.WriteLineAsync(
            $"Garbage collection{(report.DryRun ? " (dry run, nothing changed)" : "")}: {delete} {Count(report.Deleted, Berth.Server.Registry.GcItemKind.Manifest, "manifest")} and " +
            $"{Count(report.Deleted, Berth.Server.Registry.GcItemKind.Blob, "blob")} ({Berth.Server.Registry.RegistryUsage.FormatBytes(report.DeletedBlobBytes)} of blobs); " +
            $"{queue} {Count(report.Queued, Berth.Server.Registry.GcItemKind.Manifest, "manifest")} and {Count(report.Queued, Berth.Server.Registry.GcItemKind.Blob, "blob")} for review" +
            (report.DryRun ? "." : $"; {report.Rescued} rescued; {report.Failed} failed."));
        foreach (var item in report.Deleted.Concat(report.Queued))
        {
            var action = report.Deleted.Contains(item) ? (report.DryRun ? "delete" : "deleted") : $"queue (due {item.ReviewAfter.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)})";
            var what = item.Kind == Berth.Server.Registry.GcItemKind.Manifest ? $"manifest {item.Repository}@{item.Digest}" : $"blob {item.Digest}";
            await stdout.WriteLineAsync($"{action}\t{what}\t{item.Size} bytes\t{item.Reason}");
        }
    }

    private static int UsageError(TextWriter stderr, string message)
    {
        stderr.WriteLine($"berth: {message}\n\n{Usage}");
        return 2;
    }

    private static Func<IServiceProvider, CancellationToken, Task<int>> Parse(
        string verb, List<string> positional, Dictionary<string, string> options, TextReader stdin, TextWriter stdout, TextWriter stderr)
    {
        string Arg(int index, string what) => positional.Count > index ? positional[index] : throw new UsageException($"missing {what}");
        string? Opt(string name) => options.TryGetValue(name, out var v) ? v : null;
        void Only(int count)
        {
            if (positional.Count > count) throw new UsageException($"unexpected argument '{positional[count]}'");
        }
        string? Password()
        {
            if (Opt("--password-stdin") is not null)
            {
                if (Opt("--password") is not null) throw new UsageException("give --password or --password-stdin, not both");
                var line = stdin.ReadLine();
                if (string.IsNullOrEmpty(line)) throw new UsageException("no password on standard input");
                return line.TrimEnd('\r', '\n');
            }
            return Opt("--password");
        }

        switch (verb, positional.ElementAtOrDefault(0), positional.ElementAtOrDefault(1))
        {
            case ("user", "create", _):
            {
                var username = Arg(1, "<username>");
                Only(2);
                var email = Opt("--email") ?? throw new UsageException("user create needs --email");
                var password = Password();
                var admin = Opt("--admin") is not null;
                return async (services, ct) =>
                {
                    var user = await services.GetRequiredService<AccountService>().CreateUserAsync(new NewUser(username, email, Opt("--name"), password, admin), ct);
                    await stdout.WriteLineAsync($"Created user {user.Username} (id {user.Id}{(admin ? ", administrator" : "")}){(password is null ? "; it has no password: set one with 'berth user password', or use tokens" : "")}.");
                    return 0;
                };
            }
            case ("user", "password", _):
            {
                var username = Arg(1, "<username>");
                Only(2);
                var password = Password() ?? throw new UsageException("user password needs --password <p> or --password-stdin");
                return async (services, ct) =>
                {
                    var accounts = services.GetRequiredService<AccountService>();
                    var user = await accounts.GetUserAsync(username, ct);
                    await accounts.SetPasswordAsync(user.Id, password, ct);
                    await stdout.WriteLineAsync($"Password of {user.Username} changed.");
                    return 0;
                };
            }
            case ("user", "2fa", "enable"):
            {
                var username = Arg(2, "<username>");
                Only(3);
                return async (services, ct) =>
                {
                    var accounts = services.GetRequiredService<AccountService>();
                    var user = await accounts.GetUserAsync(username, ct);
                    var setup = await accounts.EnableTwoFactorAsync(user.Id, ct);
                    await stdout.WriteLineAsync($"Two-factor authentication is on for {user.Username}. From now on, registry clients need a personal access token instead of the password.");
                    await stdout.WriteLineAsync($"secret: {setup.Secret}");
                    await stdout.WriteLineAsync($"uri: {setup.OtpAuthUri}");
                    await stdout.WriteLineAsync("recovery codes (each works once):");
                    foreach (var code in setup.RecoveryCodes) await stdout.WriteLineAsync("  " + code);
                    return 0;
                };
            }
            case ("user", "2fa", "disable"):
            {
                var username = Arg(2, "<username>");
                Only(3);
                return async (services, ct) =>
                {
                    var accounts = services.GetRequiredService<AccountService>();
                    var user = await accounts.GetUserAsync(username, ct);
                    await accounts.DisableTwoFactorAsync(user.Id, ct);
                    await stdout.WriteLineAsync($"Two-factor authentication is off for {user.Username}.");
                    return 0;
                };
            }
            case ("token", "create", _):
            {
                var username = Arg(1, "<username>");
                Only(2);
                var scopes = Opt("--scopes") ?? throw new UsageException("token create needs --scopes (api, read_api, read_registry, write_registry)");
                DateTime? expires = null;
                if (Opt("--expires") is { } e)
                {
                    if (!DateOnly.TryParseExact(e, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
                        throw new UsageException($"--expires '{e}' is not a date (YYYY-MM-DD)");
                    expires = AccessTokenService.ExpiryFromDate(date);
                }
                return async (services, ct) =>
                {
                    var user = await services.GetRequiredService<AccountService>().GetUserAsync(username, ct);
                    var created = await services.GetRequiredService<AccessTokenService>().CreatePersonalAccessTokenAsync(
                        user.Id, Opt("--name") ?? "cli", scopes.Split(','), expires, ct);
                    await stdout.WriteLineAsync(created.Secret);
                    return 0;
                };
            }
            case ("gc", _, _):
            {
                Only(0);
                bool dryRun = Opt("--dry-run") is not null;
                return async (services, ct) =>
                {
                    var report = await services.GetRequiredService<Berth.Server.Registry.GarbageCollector>().RunAsync(dryRun, null, ct);
                    await WriteGcReportAsync(stdout, report);
                    return report.Failed > 0 ? 1 : 0;
                };
            }
            case ("user", null, _) or ("token", null, _):
                throw new UsageException($"{verb}: missing subcommand");
            default:
                throw new UsageException($"unknown command '{string.Join(' ', new[] { verb }.Concat(positional.Take(verb == "user" && positional.ElementAtOrDefault(0) == "2fa" ? 2 : 1)))}'");
        }
    }
}
