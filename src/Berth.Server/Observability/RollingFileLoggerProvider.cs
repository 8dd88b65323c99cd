using System.Text.Json;
using System.Threading.Channels;

namespace Berth.Server.Observability;

/// <summary>
/// Writes log entries as JSON lines (<c>{"timestamp","level","category","eventId","message","scopes":{…},"state":{…},"exception"}</c>)
/// to one file, rotating it to <c>name.1.ext</c> … <c>name.N.ext</c> when it reaches a size (bytes). Entries are
/// queued (bounded, dropping new entries when 50 000 wait) and written by one background task, so logging never
/// blocks a request on the disk. A file that cannot be written is reported once on stderr and logging goes on
/// without it.
/// </summary>
public sealed class RollingFileLoggerProvider : ILoggerProvider, ISupportExternalScope
{
    private readonly string _path;
    private readonly long _maxBytes;
    private readonly int _maxFiles;
    // Lines are queued as UTF-8 bytes: half the memory of strings when the disk falls behind, and no second encoding.
    private readonly Channel<byte[]> _queue = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(50_000) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly Task _writer;
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

    /// <summary>Starts the writer for <paramref name="path"/> (its folder is created).</summary>
    public RollingFileLoggerProvider(string path, long maxBytes, int maxFiles)
    {
        _path = path;
        _maxBytes = Math.Max(4096, maxBytes);
        _maxFiles = Math.Max(1, maxFiles);
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>The file written to.</summary>
    public string Path => _path;

    /// <inheritdoc/>
    public ILogger CreateLogger(string categoryName) => new FileLogger(this, categoryName);

    /// <inheritdoc/>
    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    /// <summary>Stops accepting entries and waits (up to 5 s) until the queued ones are written.</summary>
    public void Dispose()
    {
        _queue.Writer.TryComplete();
        try { _writer.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
    }

    private async Task WriteLoopAsync()
    {
        FileStream? stream = null;
        long size = 0; // the file's length, counted here instead of asking the file system for every line
        bool failed = false;
        try
        {
            while (await _queue.Reader.WaitToReadAsync())
            {
                while (_queue.Reader.TryRead(out var bytes))
                {
                    if (failed) continue;
                    try
                    {
                        if (stream is null)
                        {
                            stream = Open();
                            size = stream.Length;
                        }
                        if (size > 0 && size + bytes.Length > _maxBytes)
                        {
                            await stream.DisposeAsync();
                            Rotate();
                            stream = Open();
                            size = stream.Length;
                        }
                        await stream.WriteAsync(bytes);
                        size += bytes.Length;
                    }
                    catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                    {
                        failed = true;
                        await ReportAsync($"berth: cannot write the log file {_path}: {ex.Message}; file logging is off until restart");
                    }
                }
                try
                {
                    // A full disk usually shows here (the 64 KiB buffer), not at WriteAsync.
                    if (stream is not null && !failed) await stream.FlushAsync();
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    failed = true;
                    await ReportAsync($"berth: cannot write the log file {_path}: {ex.Message}; file logging is off until restart");
                }
            }
        }
        finally
        {
            try
            {
                if (stream is not null) await stream.DisposeAsync();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The lines still buffered could not be written: already reported, or the disk filled at the end.
            }
        }
    }

    /// <summary>Tells standard error that a log output stopped (the file here, the console in
    /// <see cref="BerthLoggerProvider"/>); never throws: standard error may be gone too.</summary>
    internal static async Task ReportAsync(string message)
    {
        try
        {
            await Console.Error.WriteLineAsync(message);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or NotSupportedException)
        {
        }
    }

    private FileStream Open()
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(_path)!);
        var stream = new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, 64 * 1024);
        return stream;
    }

    private string Rotated(int n) =>
        System.IO.Path.Combine(System.IO.Path.GetDirectoryName(_path)!, $"{System.IO.Path.GetFileNameWithoutExtension(_path)}.{n}{System.IO.Path.GetExtension(_path)}");

    private void Rotate()
    {
        var oldest = Rotated(_maxFiles);
        if (File.Exists(oldest)) File.Delete(oldest);
        for (int n = _maxFiles - 1; n >= 1; n--)
        {
            var from = Rotated(n);
            if (File.Exists(from)) File.Move(from, Rotated(n + 1), overwrite: true);
        }
        File.Move(_path, Rotated(1), overwrite: true);
    }

    /// <summary>Queues one finished line (UTF-8, ending in a newline); dropped when 50 000 lines wait.</summary>
    internal void Enqueue(byte[] line) => _queue.Writer.TryWrite(line);

    /// <summary>
    /// One entry as a JSON line (UTF-8, newline-terminated): <c>{"timestamp","level","category","eventId","message","scopes":{…},"state":{…},"exception"}</c>.
    /// <paramref name="message"/> is the already formatted message, so a caller writing several outputs formats it once.
    /// </summary>
    internal static byte[] JsonLine<TState>(DateTimeOffset timestamp, LogLevel logLevel, string category, EventId eventId, string message,
        IExternalScopeProvider? scopes, TState state, Exception? exception)
    {
        var buffer = Buffer ??= new System.Buffers.ArrayBufferWriter<byte>(512);
        buffer.ResetWrittenCount();
        var json = Writer ??= new Utf8JsonWriter(buffer);
        json.Reset(buffer);
        json.WriteStartObject();
        Span<char> stamp = stackalloc char[24];
        timestamp.UtcDateTime.TryFormat(stamp, out int n, "yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture);
        json.WriteString("timestamp", stamp[..n]);
        json.WriteString("level", LevelName(logLevel));
        json.WriteString("category", category);
        if (eventId.Id != 0) json.WriteNumber("eventId", eventId.Id);
        json.WriteString("message", message);
        json.WriteStartObject("scopes");
        scopes?.ForEachScope(static (scope, w) => WriteValues(w, scope), json);
        json.WriteEndObject();
        if (state is IEnumerable<KeyValuePair<string, object?>> values)
        {
            json.WriteStartObject("state");
            WriteValues(json, values);
            json.WriteEndObject();
        }
        if (exception is not null) json.WriteString("exception", exception.ToString());
        json.WriteEndObject();
        json.Flush();
        var line = new byte[buffer.WrittenCount + 1];
        buffer.WrittenSpan.CopyTo(line);
        line[^1] = (byte)'\n';
        return line;
    }

    // One buffer and writer per thread, reused for every line that thread logs.
    [ThreadStatic] private static System.Buffers.ArrayBufferWriter<byte>? Buffer;
    [ThreadStatic] private static Utf8JsonWriter? Writer;

    private static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Trace => "Trace",
        LogLevel.Debug => "Debug",
        LogLevel.Information => "Information",
        LogLevel.Warning => "Warning",
        LogLevel.Error => "Error",
        LogLevel.Critical => "Critical",
        _ => level.ToString(),
    };

    private static void WriteValues(Utf8JsonWriter json, object? scope)
    {
        if (scope is not IEnumerable<KeyValuePair<string, object?>> pairs) return;
        foreach (var (key, value) in pairs)
        {
            if (key == "{OriginalFormat}") continue;
            switch (value)
            {
                case null: json.WriteNull(key); break;
                case int i: json.WriteNumber(key, i); break;
                case long l: json.WriteNumber(key, l); break;
                case double d: json.WriteNumber(key, d); break;
                case short or float or decimal: json.WriteNumber(key, Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture)); break;
                case bool b: json.WriteBoolean(key, b); break;
                case string text: json.WriteString(key, text); break;
                default: json.WriteString(key, Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)); break;
            }
        }
    }

    private sealed class FileLogger(RollingFileLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => provider._scopes.Push(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            provider.Enqueue(JsonLine(DateTimeOffset.UtcNow, logLevel, category, eventId, formatter(state, exception), provider._scopes, state, exception));
        }
    }
}
