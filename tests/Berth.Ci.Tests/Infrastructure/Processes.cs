using System.Diagnostics;
using System.Text;

namespace Berth.Ci.Tests.Infrastructure;

/// <summary>The outcome of one external command.</summary>
public sealed record ProcessResult(string CommandLine, int ExitCode, string StandardOutput, string StandardError)
{
    public bool Succeeded => ExitCode == 0;

    public string Describe() => $"$ {CommandLine}\nexit code {ExitCode}\n--- stdout ---\n{StandardOutput}\n--- stderr ---\n{StandardError}";
}

/// <summary>Runs a program with an argument list (no shell), an environment, a timeout and closed stdin; secrets after <c>-p</c>/<c>--password</c>/<c>--creds</c> are masked in the logged command line.</summary>
public static class Processes
{
    private static readonly string[] SecretOptions = ["-p", "--password", "--creds", "--src-creds", "--dest-creds"];

    public static async Task<ProcessResult> RunAsync(string fileName, IEnumerable<string> arguments, string workingDirectory,
        IReadOnlyDictionary<string, string>? environment, TimeSpan timeout, Action<string>? log)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true,
            UseShellExecute = false, WorkingDirectory = workingDirectory,
        };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) info.Environment[k] = v;
        var shown = new StringBuilder(fileName);
        for (int i = 0; i < info.ArgumentList.Count; i++)
            shown.Append(' ').Append(i > 0 && SecretOptions.Contains(info.ArgumentList[i - 1]) ? "***" : info.ArgumentList[i]);
        log?.Invoke("$ " + shown);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start " + fileName);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{shown} timed out after {timeout.TotalSeconds:F0} s");
        }
        var result = new ProcessResult(shown.ToString(), process.ExitCode, await stdout, await stderr);
        log?.Invoke($"  exit {result.ExitCode}" + (result.StandardError.Length > 0 ? "\n" + result.StandardError.TrimEnd() : ""));
        return result;
    }
}
