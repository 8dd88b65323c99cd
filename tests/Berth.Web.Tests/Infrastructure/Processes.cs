using System.Diagnostics;
using System.Text;

namespace Berth.Web.Tests.Infrastructure;

/// <summary>The outcome of one finished external process.</summary>
public sealed record ProcessResult(string CommandLine, int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>Exit code 0.</summary>
    public bool Succeeded => ExitCode == 0;

    /// <summary>Command, exit code and output, for failure messages.</summary>
    public string Describe() => $"$ {CommandLine}\nexit code {ExitCode}\n--- stdout ---\n{StandardOutput}\n--- stderr ---\n{StandardError}";
}

/// <summary>Runs external programs (podman, skopeo) with an argument list, a timeout and captured output.</summary>
public static class Processes
{
    private static readonly string[] SecretOptions = ["--creds", "--password", "-p"];

    /// <summary>Runs a program and returns its result whatever the exit code.</summary>
    public static async Task<ProcessResult> RunAsync(string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null,
        string? workingDirectory = null, TimeSpan? timeout = null, Action<string>? log = null)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments) startInfo.ArgumentList.Add(argument);
        if (environment is not null)
            foreach (var (key, value) in environment) startInfo.Environment[key] = value;
        var shown = new StringBuilder(fileName);
        string? previous = null;
        foreach (var a in startInfo.ArgumentList)
        {
            shown.Append(' ').Append(previous is not null && SecretOptions.Contains(previous) ? "***" : a);
            previous = a;
        }
        log?.Invoke("$ " + shown);
        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException("cannot start " + fileName);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{shown} did not finish in time");
        }
        var result = new ProcessResult(shown.ToString(), process.ExitCode, await stdout, await stderr);
        log?.Invoke($"  exit {result.ExitCode}" + (result.StandardError.Length > 0 ? "\n" + result.StandardError.TrimEnd() : ""));
        return result;
    }
}

/// <summary>A temp folder deleted on dispose.</summary>
public sealed class TempFolder : IDisposable
{
    /// <summary>Creates <c>$TMPDIR/berth-web-&lt;prefix&gt;-&lt;random&gt;</c>.</summary>
    public TempFolder(string prefix)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"berth-web-{prefix}-{Guid.NewGuid().ToString("N")[..10]}");
        Directory.CreateDirectory(Path);
    }

    /// <summary>The folder.</summary>
    public string Path { get; }

    /// <summary>A subfolder, created.</summary>
    public string Sub(string name)
    {
        var full = System.IO.Path.Combine(Path, name);
        Directory.CreateDirectory(full);
        return full;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        try
        {
            if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // podman's vfs storage may keep read-only bits; leave it to the temp cleaner
        }
    }
}

/// <summary>Finds the repository root (the folder holding Berth.slnx).</summary>
public static class RepositoryRoot
{
    /// <summary>The root.</summary>
    public static string Path { get; } = Find();

    private static string Find()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(System.IO.Path.Combine(d.FullName, "Berth.slnx"))) return d.FullName;
        throw new DirectoryNotFoundException("no Berth.slnx above " + AppContext.BaseDirectory);
    }
}
