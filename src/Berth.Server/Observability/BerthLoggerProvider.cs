using System.Text;
using System.Threading.Channels;

namespace Berth.Server.Observability;

/// <summary>
/// Berth's one log provider for the server: every entry is formatted once (its message, its timestamp) and written
/// to the console (<c>Log:Format</c> <c>simple</c>: one line in the layout of .NET's simple console formatter,
/// <c>timestamp level: category[eventId] =&gt; scopes message</c>; <c>json</c>: the same JSON line as the file;
/// <c>none</c>: no console output) and to the JSON-lines file (<see cref="RollingFileLoggerProvider"/>). Neither
/// output blocks the request that logs: lines are queued as UTF-8 bytes and written by one background task per
/// output, in batches with one flush when the queue is empty (not one write and flush per line, as .NET's console
/// logger does, whose lock and bounded queue made every request wait for the terminal under load). When 50 000 lines
/// wait for a slow console, further lines are dropped and counted, and the count is written once the console catches
/// up (<c>… log lines dropped</c>), so a gap in the log is never silent.
/// </summary>
public sealed class BerthLoggerProvider : ILoggerProvider, ISupportExternalScope
{
    private readonly ConsoleFormat _console;
    private readonly StreamLineWriter? _consoleWriter;
    private readonly RollingFileLoggerProvider? _file;
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

    /// <summary>The console formats of <c>Log:Format</c>.</summary>
    public enum ConsoleFormat
    {
        /// <summary>No console output.</summary>
        None,
        /// <summary>One text line per entry.</summary>
        Simple,
        /// <summary>One JSON line per entry (the file's format).</summary>
        Json,
    }

    /// <summary>Writes to <paramref name="console"/> (standard output when null) in <paramref name="format"/>, and to
    /// <paramref name="file"/> when given (this provider disposes it).</summary>
    public BerthLoggerProvider(ConsoleFormat format, RollingFileLoggerProvider? file, Stream? console = null)
    {
        _console = format;
        _file = file;
        if (format != ConsoleFormat.None) _consoleWriter = new StreamLineWriter(console ?? Console.OpenStandardOutput());
    }

    /// <summary>Parses <c>Log:Format</c> (<c>simple</c>, <c>json</c> or <c>none</c>, any case); null when it is none of them.</summary>
    public static ConsoleFormat? ParseFormat(string? text) => text?.ToLowerInvariant() switch
    {
        null or "" or "simple" => ConsoleFormat.Simple,
        "json" => ConsoleFormat.Json,
        "none" => ConsoleFormat.None,
        _ => null,
    };

    /// <inheritdoc/>
    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    /// <inheritdoc/>
    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    /// <summary>Writes what is queued (up to 5 s for each output) and closes the file.</summary>
    public void Dispose()
    {
        _consoleWriter?.Dispose();
        _file?.Dispose();
    }

    private sealed class Logger(BerthLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => provider._scopes.Push(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var now = DateTimeOffset.UtcNow;
            var message = formatter(state, exception);
            byte[]? json = null;
            if (provider._file is { } file)
            {
                json = RollingFileLoggerProvider.JsonLine(now, logLevel, category, eventId, message, provider._scopes, state, exception);
                file.Enqueue(json);
            }
            switch (provider._console)
            {
                case ConsoleFormat.Json:
                    provider._consoleWriter!.Enqueue(json ?? RollingFileLoggerProvider.JsonLine(now, logLevel, category, eventId, message, provider._scopes, state, exception));
                    break;
                case ConsoleFormat.Simple:
                    provider._consoleWriter!.Enqueue(SimpleLine(now, logLevel, category, eventId, message, provider._scopes, exception));
                    break;
            }
        }
    }

    // One builder per thread, reused for every line that thread logs.
    [ThreadStatic] private static StringBuilder? Line;

    /// <summary>The simple console layout on one line: <c>2026-11-30T07:00:00.000Z info: Category[9000] =&gt; RequestId:… message</c>
    /// (newlines in the message and the exception become spaces), UTF-8 with a final newline.</summary>
    internal static byte[] SimpleLine(DateTimeOffset timestamp, LogLevel level, string category, EventId eventId, string message,
        IExternalScopeProvider? scopes, Exception? exception)
    {
        var line = Line ??= new StringBuilder(256);
        line.Clear();
        Span<char> stamp = stackalloc char[24];
        timestamp.UtcDateTime.TryFormat(stamp, out int n, "yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture);
        line.Append(stamp[..n]).Append(' ').Append(level switch
        {
            LogLevel.Trace => "trce",
            LogLevel.Debug => "dbug",
            LogLevel.Information => "info",
            LogLevel.Warning => "warn",
            LogLevel.Error => "fail",
            _ => "crit",
        }).Append(": ").Append(category).Append('[').Append(eventId.Id).Append(']');
        scopes?.ForEachScope(static (scope, b) => b.Append(" => ").Append(scope), line);
        line.Append(' ');
        AppendOneLine(line, message);
        if (exception is not null)
        {
            line.Append(' ');
            AppendOneLine(line, exception.ToString());
        }
        line.Append('\n');
        return Encoding.UTF8.GetBytes(line.ToString());
    }

    private static void AppendOneLine(StringBuilder line, string text)
    {
        if (text.AsSpan().IndexOfAny('\r', '\n') < 0)
        {
            line.Append(text);
            return;
        }
        foreach (var c in text) line.Append(c is '\r' or '\n' ? ' ' : c);
    }

    /// <summary>
    /// Writes queued lines to a stream from one background task: everything waiting is written in one go and the
    /// stream is flushed once the queue is empty. At most 50 000 lines wait; beyond that lines are dropped and
    /// counted, and a line saying how many were dropped is written when the queue has room again. A stream that
    /// fails (a closed terminal) turns the output off, reported once on standard error.
    /// </summary>
    internal sealed class StreamLineWriter : IDisposable
    {
        private readonly Channel<byte[]> _queue = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(50_000) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
        private readonly Stream _stream;
        private readonly Task _writer;
        private long _dropped;

        public StreamLineWriter(Stream stream)
        {
            _stream = stream;
            _writer = Task.Run(WriteLoopAsync);
        }

        public void Enqueue(byte[] line)
        {
            if (!_queue.Writer.TryWrite(line)) Interlocked.Increment(ref _dropped);
        }

        public void Dispose()
        {
            _queue.Writer.TryComplete();
            try { _writer.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
        }

        private async Task WriteLoopAsync()
        {
            var buffer = new BufferedStream(_stream, 64 * 1024);
            bool failed = false;
            while (await _queue.Reader.WaitToReadAsync())
            {
                try
                {
                    while (_queue.Reader.TryRead(out var line))
                    {
                        if (!failed) await buffer.WriteAsync(line);
                    }
                    if (failed) continue;
                    if (Interlocked.Exchange(ref _dropped, 0) is var dropped and > 0)
                        await buffer.WriteAsync(Encoding.UTF8.GetBytes($"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} warn: Berth.Logging[0] {dropped} log lines dropped: the console did not keep up (the log file has them unless it fell behind too)\n"));
                    await buffer.FlushAsync();
                }
                catch (Exception ex) when (ex is IOException or ObjectDisposedException or NotSupportedException)
                {
                    failed = true; // lines keep being taken off the queue, so it does not hold 50 000 of them for nothing
                    await RollingFileLoggerProvider.ReportAsync($"berth: cannot write the console log: {ex.Message}; console logging is off until restart");
                }
            }
        }
    }
}
