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
}
