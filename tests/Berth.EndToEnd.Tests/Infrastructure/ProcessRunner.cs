using System.Diagnostics;
using System.Text;

namespace Berth.EndToEnd.Tests.Infrastructure;

/// <summary>The outcome of one finished external process.</summary>
public sealed record ProcessResult(string CommandLine, int ExitCode, byte[] StandardOutputBytes, string StandardError, TimeSpan Elapsed)
{
    /// <summary>stdout decoded as UTF-8.</summary>
    public string StandardOutput => Encoding.UTF8.GetString(StandardOutputBytes);

    /// <summary>Whether the process exited with code 0.</summary>
    public bool Succeeded => ExitCode == 0;

    /// <summary>A multi-line description with the command, exit code and both output streams.</summary>
    public string Describe() =>
        $"$ {CommandLine}\nexit code {ExitCode} after {Elapsed.TotalSeconds:F1} s\n--- stdout ---\n{StandardOutput}\n--- stderr ---\n{StandardError}";
}

/// <summary>Thrown when an external process exits non-zero or runs past its timeout.</summary>
public sealed class ProcessFailedException(string message) : Exception(message);

/// <summary>
/// Runs external programs (skopeo, podman, umoci, …) with an argument list (no shell), a timeout
/// (default 5 minutes), captured stdout/stderr and closed stdin.
/// </summary>
public static class ProcessRunner
{
    /// <summary>Default upper bound for one external command.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Runs <paramref name="fileName"/> and returns its result whatever the exit code.
    /// Throws <see cref="ProcessFailedException"/> (with the output so far) when it times out.
    /// </summary>
    public static async Task<ProcessResult> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null,
        TimeSpan? timeout = null,
        Action<string>? log = null,
        CancellationToken cancellationToken = default)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            CreateNoWindow = true,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }
        if (environment is not null)
        {
            foreach (var (key, value) in environment)
            {
                startInfo.Environment[key] = value;
            }
        }

        var commandLine = FormatCommandLine(fileName, startInfo.ArgumentList);
        log?.Invoke($"$ {commandLine}");

        using var process = new Process { StartInfo = startInfo };
        var stopwatch = Stopwatch.StartNew();
        if (!process.Start())
        {
            throw new ProcessFailedException($"could not start {commandLine}");
        }
        process.StandardInput.Close();
        // stdout is kept as raw bytes (e.g. `skopeo inspect --raw` must be compared byte for byte).
        var stdout = new MemoryStream();
        var stdoutTask = process.StandardOutput.BaseStream.CopyToAsync(stdout, CancellationToken.None);
        var stderrTask = process.StandardError.ReadToEndAsync(CancellationToken.None);

        var limit = timeout ?? DefaultTimeout;
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(limit);
        try
        {
            await process.WaitForExitAsync(timeoutSource.Token);
            await Task.WhenAll(stdoutTask, stderrTask).WaitAsync(TimeSpan.FromSeconds(30), CancellationToken.None);
        }
        catch (OperationCanceledException)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // already gone
            }
            await process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
            var drained = await Task.WhenAll(stdoutTask, stderrTask).WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None)
                .ContinueWith(t => t.IsCompletedSuccessfully, TaskScheduler.Default);
            var partial = drained
                ? $"--- stdout ---\n{Encoding.UTF8.GetString(stdout.ToArray())}\n--- stderr ---\n{stderrTask.Result}"
                : "(output not available)";
            var reason = cancellationToken.IsCancellationRequested ? "was cancelled" : $"timed out after {limit.TotalSeconds:F0} s";
            throw new ProcessFailedException($"$ {commandLine}\n{reason}\n{partial}");
        }

        var outBytes = stdout.ToArray();
        var result = new ProcessResult(commandLine, process.ExitCode, outBytes, await stderrTask, stopwatch.Elapsed);
        log?.Invoke($"  exit {result.ExitCode} in {result.Elapsed.TotalSeconds:F1} s");
        return result;
    }

    /// <summary>
    /// Like <see cref="RunAsync"/>, but throws <see cref="ProcessFailedException"/> with the full output
    /// (and <paramref name="diagnostics"/>, e.g. the server log) when the exit code is not 0.
    /// </summary>
    public static async Task<ProcessResult> RunCheckedAsync(
        string fileName,
        IEnumerable<string> arguments,
        string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null,
        TimeSpan? timeout = null,
        Action<string>? log = null,
        Func<string>? diagnostics = null,
        CancellationToken cancellationToken = default)
    {
        var result = await RunAsync(fileName, arguments, workingDirectory, environment, timeout, log, cancellationToken);
        if (!result.Succeeded)
        {
            var extra = diagnostics is null ? "" : "\n" + diagnostics();
            throw new ProcessFailedException(result.Describe() + extra);
        }
        return result;
    }

    private static readonly string[] SecretOptions = ["--creds", "--src-creds", "--dest-creds", "--password", "-p"];

    private static string FormatCommandLine(string fileName, IEnumerable<string> arguments)
    {
        var parts = new List<string> { Quote(fileName) };
        string? previous = null;
        foreach (var argument in arguments)
        {
            var secret = previous is not null && SecretOptions.Contains(previous);
            var inlineSecret = SecretOptions.FirstOrDefault(o => argument.StartsWith(o + "=", StringComparison.Ordinal));
            parts.Add(secret ? "***" : inlineSecret is not null ? inlineSecret + "=***" : Quote(argument));
            previous = argument;
        }
        return string.Join(' ', parts);
    }

    private static string Quote(string value) =>
        value.Length > 0 && value.All(c => char.IsLetterOrDigit(c) || "-_./:=@,+%{}".Contains(c))
            ? value
            : "'" + value.Replace("'", "'\\''") + "'";
}
