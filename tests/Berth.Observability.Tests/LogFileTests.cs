using System.Text.Json;
using Berth.Server.Observability;
using Microsoft.Extensions.Logging;

namespace Berth.Observability.Tests;

public sealed class LogFileTests
{
    [Fact]
    public void The_log_file_rotates_at_its_size_and_loses_no_line_also_after_a_restart()
    {
        var dir = Path.Combine(Path.GetTempPath(), "berth-logfile-tests", Guid.NewGuid().ToString("N"));
        var path = Path.Combine(dir, "berth.log");
        try
        {
            // Two providers one after the other (a restart): the second appends and counts the existing file's size.
            for (int run = 0; run < 2; run++)
            {
                var provider = new RollingFileLoggerProvider(path, 4096, 20);
                var logger = provider.CreateLogger("Berth.Test");
                for (int i = 0; i < 60; i++) logger.LogInformation("line {Run}-{N} {Padding}", run, i, new string('x', 100));
                provider.Dispose(); // writes what is queued
            }

            var files = Directory.GetFiles(dir, "berth*.log");
            Assert.True(files.Length >= 5, $"expected rotation into several files, got {files.Length}");
            Assert.All(files, f => Assert.True(new FileInfo(f).Length <= 4096, $"{f} is {new FileInfo(f).Length} bytes"));
            var seen = files.SelectMany(File.ReadAllLines)
                .Select(l => JsonDocument.Parse(l).RootElement)
                .Select(e => e.GetProperty("message").GetString()!.Split(' ')[1])
                .ToList();
            var expected = Enumerable.Range(0, 2).SelectMany(run => Enumerable.Range(0, 60).Select(i => $"{run}-{i}")).ToList();
            Assert.Equal(expected.Order(), seen.Order());
            // The newest lines are in the live file; berth.1.log holds the ones just before them.
            Assert.Contains("1-59", File.ReadAllText(path), StringComparison.Ordinal);
        }
        finally
        {
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }

    [Fact]
    public void One_entry_is_written_to_console_and_file_with_the_same_content_in_each_format()
    {
        var dir = Path.Combine(Path.GetTempPath(), "berth-logfile-tests", Guid.NewGuid().ToString("N"));
        try
        {
            foreach (var format in new[] { BerthLoggerProvider.ConsoleFormat.Simple, BerthLoggerProvider.ConsoleFormat.Json, BerthLoggerProvider.ConsoleFormat.None })
            {
                var path = Path.Combine(dir, $"{format}.log");
                var console = new MemoryStream();
                var provider = new BerthLoggerProvider(format, new RollingFileLoggerProvider(path, 1 << 20, 2), console);
                var factory = LoggerFactory.Create(b => b.AddProvider(provider));
                var logger = factory.CreateLogger("Berth.Access");
                using (logger.BeginScope("RequestId:{RequestId}", "req-42"))
                {
                    logger.LogInformation(new EventId(9000), "GET {Path} {Status}\nsecond line", "/v2/a/b/manifests/latest", 200);
                    logger.LogError(new InvalidOperationException("broken\nthing"), "failed {What}", "x");
                }
                factory.Dispose();
                provider.Dispose(); // what is queued is written

                var file = File.ReadAllLines(path).Select(l => JsonDocument.Parse(l).RootElement).ToList();
                Assert.Equal(2, file.Count);
                Assert.Equal("Berth.Access", file[0].GetProperty("category").GetString());
                Assert.Equal(9000, file[0].GetProperty("eventId").GetInt32());
                Assert.Equal("Information", file[0].GetProperty("level").GetString());
                Assert.Equal("req-42", file[0].GetProperty("scopes").GetProperty("RequestId").GetString());
                Assert.Equal(200, file[0].GetProperty("state").GetProperty("Status").GetInt32());
                Assert.Equal("/v2/a/b/manifests/latest", file[0].GetProperty("state").GetProperty("Path").GetString());
                Assert.Contains("broken", file[1].GetProperty("exception").GetString(), StringComparison.Ordinal);

                var lines = System.Text.Encoding.UTF8.GetString(console.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
                switch (format)
                {
                    case BerthLoggerProvider.ConsoleFormat.None:
                        Assert.Empty(lines);
                        break;
                    case BerthLoggerProvider.ConsoleFormat.Json:
                        // The console gets the file's lines, byte for byte.
                        Assert.Equal(File.ReadAllLines(path), lines);
                        break;
                    default:
                        Assert.Equal(2, lines.Length); // one line per entry: the newlines of message and exception became spaces
                        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info: Berth\.Access\[9000\] => RequestId:req-42 GET /v2/a/b/manifests/latest 200 second line$", lines[0]);
                        Assert.Matches(@" fail: Berth\.Access\[0\] => .* failed x System\.InvalidOperationException: broken thing", lines[1]);
                        break;
                }
            }
        }
        finally
        {
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }
}
