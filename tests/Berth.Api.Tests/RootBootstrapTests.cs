using Berth.Api.Tests.Infrastructure;
using Berth.Auth.Accounts;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using System.Collections.Concurrent;
using System.Net.Http.Json;

namespace Berth.Api.Tests;

public sealed class RootBootstrapTests
{
    /// <summary>An app without a configured root password, capturing its log lines.</summary>
    private sealed class Factory(string dataDir, string? rootPassword) : WebApplicationFactory<Program>
    {
        public ConcurrentQueue<string> Log { get; } = new();

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseSetting("DataDir", dataDir);
            builder.UseSetting("Auth:Passwords:Iterations", "1000");
            if (rootPassword is not null) builder.UseSetting("RootPassword", rootPassword);
            builder.ConfigureLogging(logging =>
            {
                logging.ClearProviders();
                logging.AddProvider(new CaptureProvider(Log));
            });
        }
    }

    private sealed class CaptureProvider(ConcurrentQueue<string> log) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Capture(log);
        public void Dispose() { }

        private sealed class Capture(ConcurrentQueue<string> log) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => true;
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                log.Enqueue(formatter(state, exception));
        }
    }

    private static string NewDir() => Path.Combine(Path.GetTempPath(), "berth-api-tests", Guid.NewGuid().ToString("N"));

    private static async Task<int> SignInAsync(WebApplicationFactory<Program> app, string password)
    {
        using var response = await app.CreateClient().PostAsync("/oauth/token",
            JsonContent.Create(new { grant_type = "password", username = "root", password }));
        return (int)response.StatusCode;
    }

    [Fact]
    public async Task Generated_password_is_written_once_to_an_owner_only_file()
    {
        var dir = NewDir();
        try
        {
            string password;
            using (var app = new Factory(dir, null))
            {
                _ = app.Server;
                var file = Path.Combine(dir, AccountService.InitialRootPasswordFile);
                Assert.True(File.Exists(file));
                if (!OperatingSystem.IsWindows())
                    Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
                password = File.ReadAllLines(file).Single(l => l.StartsWith("Password: ", StringComparison.Ordinal))["Password: ".Length..];
                Assert.True(password.Length >= 20);
                Assert.Equal(200, await SignInAsync(app, password));
                Assert.Contains(app.Log, line => line.Contains(file, StringComparison.Ordinal));
                Assert.DoesNotContain(app.Log, line => line.Contains(password, StringComparison.Ordinal));
            }
            // A restart leaves root and the file alone.
            File.Delete(Path.Combine(dir, AccountService.InitialRootPasswordFile));
            using (var app = new Factory(dir, null))
            {
                _ = app.Server;
                Assert.False(File.Exists(Path.Combine(dir, AccountService.InitialRootPasswordFile)));
                Assert.Equal(200, await SignInAsync(app, password));
            }
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task Configured_password_is_used_and_no_file_is_written()
    {
        var dir = NewDir();
        try
        {
            using var app = new Factory(dir, "configured-root-pw");
            _ = app.Server;
            Assert.False(File.Exists(Path.Combine(dir, AccountService.InitialRootPasswordFile)));
            Assert.Equal(200, await SignInAsync(app, "configured-root-pw"));
            Assert.DoesNotContain(app.Log, line => line.Contains("configured-root-pw", StringComparison.Ordinal));
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }
}
