using Microsoft.Extensions.Options;

namespace Berth.Server.Observability;

/// <summary>
/// Log settings (section <c>Log</c>). Console: <see cref="Format"/> <c>simple</c> (one line per entry, default),
/// <c>json</c> (the file's JSON lines) or <c>none</c> (no console output, where only the file is collected). File: JSON lines at <see cref="File"/> (default <c>&lt;DataDir&gt;/log/berth.log</c>;
/// <c>none</c> turns it off), rotated when it reaches <see cref="MaxFileBytes"/>, keeping <see cref="MaxFiles"/>
/// old files (<c>berth.1.log</c> newest). Every entry carries the request id scope.
/// </summary>
public sealed class LogOptions
{
    /// <summary>Console format: <c>simple</c>, <c>json</c> or <c>none</c>.</summary>
    public string Format { get; set; } = "simple";

    /// <summary>Path of the log file; relative paths are under the data folder; <c>none</c> disables the file.</summary>
    public string? File { get; set; }

    /// <summary>Rotate when the file reaches this many bytes (default 10 MiB).</summary>
    public long MaxFileBytes { get; set; } = 10 * 1024 * 1024;

    /// <summary>How many rotated files to keep (default 5).</summary>
    public int MaxFiles { get; set; } = 5;

    /// <summary>The file's path for a data folder, or null when the file is off.</summary>
    public string? ResolveFile(string dataDir)
    {
        if (string.Equals(File, "none", StringComparison.OrdinalIgnoreCase)) return null;
        var path = string.IsNullOrWhiteSpace(File) ? Path.Combine("log", "berth.log") : File;
        return Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(dataDir, path));
    }
}

/// <summary>Console and file logging for the host (see <see cref="LogOptions"/>).</summary>
public static class LoggingSetup
{
    /// <summary>Sets up <see cref="BerthLoggerProvider"/>: the console in <c>Log:Format</c> (scopes included, so the
    /// request id shows) and the rolling JSON file; each entry is formatted once for both.</summary>
    /// <exception cref="OptionsValidationException"><c>Log:Format</c> is not <c>simple</c>, <c>json</c> or <c>none</c>.</exception>
    public static WebApplicationBuilder AddBerthLogging(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection("Log").Get<LogOptions>() ?? new LogOptions();
        if (BerthLoggerProvider.ParseFormat(options.Format) is null)
            throw new OptionsValidationException("Log", typeof(LogOptions), [$"Log:Format must be 'simple', 'json' or 'none', not '{options.Format}'"]);
        builder.Logging.ClearProviders();
        // Bound as options too, so the settings are visible like every other section.
        builder.Services.AddOptions<LogOptions>().BindConfiguration("Log");
        // Resolved from the final configuration (test hosts and command lines may set DataDir late).
        builder.Services.AddSingleton<ILoggerProvider>(sp =>
        {
            var configuration = sp.GetRequiredService<IConfiguration>();
            var final = configuration.GetSection("Log").Get<LogOptions>() ?? new LogOptions();
            var file = final.ResolveFile(configuration["DataDir"] ?? "data");
            return new BerthLoggerProvider(BerthLoggerProvider.ParseFormat(final.Format) ?? BerthLoggerProvider.ConsoleFormat.Simple,
                file is null ? null : new RollingFileLoggerProvider(file, final.MaxFileBytes, final.MaxFiles));
        });
        return builder;
    }
}
