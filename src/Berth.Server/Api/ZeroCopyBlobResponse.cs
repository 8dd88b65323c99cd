using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Berth.Server.Configuration;
using Berth.Server.Observability;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.AspNetCore.WebUtilities;

namespace Berth.Server.Api;

/// <summary>
/// Zero-copy blob GET (<c>Registry:Pull:SendFile</c>): the status line and headers the handler prepared, then the
/// blob's bytes straight from the page cache with the kernel's <c>sendfile(2)</c>, written to the connection's
/// socket around Kestrel, which has no zero-copy path of its own (its <c>SendFileAsync</c> copies file → array →
/// pipe → socket; dotnet/aspnetcore#18093).
/// </summary>
/// <remarks>
/// <para>Why around Kestrel, and why <c>Connection: close</c>: Kestrel owns the socket's send side through its
/// output pipe and a sender loop. Bytes written to the socket directly are only in order with Kestrel's when
/// Kestrel has nothing queued and writes nothing afterwards. Nothing is queued when this request's response has
/// not started (<see cref="HttpResponse.HasStarted"/> false) and the client does not pipeline: a client that sends
/// a request only after reading the previous response in full has received every byte Kestrel wrote before it.
/// A pipelining client is not supported on this path (no registry client, curl or nginx pipelines): the
/// <c>Available</c> check below only sees a next request still in the kernel's buffer, not one Kestrel has already
/// read, and it cannot see an earlier response still in Kestrel's output pipe; behind a proxy that pipelines,
/// turn <c>Registry:Pull:SendFile</c> off. Nothing is written afterwards because the handler closes the connection: it announces
/// <c>Connection: close</c>, half-closes the socket (<c>shutdown(SHUT_WR)</c>: FIN after the queued bytes), waits
/// until the client has acknowledged every byte or closed, then <see cref="HttpContext.Abort"/>s the connection so
/// Kestrel neither writes its own response nor reads a next request. Kestrel aborts with a reset (SO_LINGER 0),
/// which would discard bytes still in the send queue: hence the wait, not a plain abort. The cost is one new TCP
/// connection per large blob, which is why small blobs (<c>Registry:Pull:SendFileMinimumBytes</c>, default 1 MiB)
/// keep the regular keep-alive path.</para>
/// <para>Used only where the socket carries the HTTP bytes unchanged: Kestrel's socket transport, cleartext
/// (no <see cref="ITlsConnectionFeature"/>), HTTP/1.1 or 1.0, a GET without a request body, headers that are plain ASCII.
/// Everything else (TLS, HTTP/2, the in-process test server, S3 storage) takes the regular path.</para>
/// <para>Kestrel's minimum response data rate (<see cref="IHttpMinResponseDataRateFeature"/>, 240 bytes/s after
/// a 5 s grace by default) is enforced here the same way: a client that reads slower is disconnected.</para>
/// </remarks>
internal static partial class ZeroCopyBlobResponse
{
    /// <summary>Longest timer a <see cref="CancellationTokenSource"/> takes (it refuses more than ~49 days).</summary>
    private static readonly TimeSpan MaxTimer = TimeSpan.FromDays(30);

    /// <summary>Bytes handed to the kernel per <c>SendPacketsAsync</c> call (the data-rate check runs between calls).</summary>
    private const int ChunkBytes = 16 << 20;

    /// <summary>
    /// The connection's socket when this response may be written around Kestrel, else null (take the regular path).
    /// </summary>
    /// <param name="context">The blob GET, response not started, headers and status already set.</param>
    /// <param name="options"><c>Registry:Pull</c>.</param>
    /// <param name="length">Body bytes to send.</param>
    public static Socket? EligibleSocket(HttpContext context, PullOptions options, long length)
    {
        if (!options.SendFile || length < options.SendFileMinimumBytes || length <= 0) return null;
        var request = context.Request;
        // HTTP/1.x only (HTTP/1.0 too: nginx's default proxy_http_version); HTTP/2 and HTTP/3 frame the body.
        if (!HttpMethods.IsGet(request.Method) || !(HttpProtocol.IsHttp11(request.Protocol) || HttpProtocol.IsHttp10(request.Protocol))) return null;
        if (request.ContentLength is > 0 || request.Headers.TransferEncoding.Count > 0) return null; // unread body bytes
        if (context.Response.HasStarted) return null;
        if (context.Features.Get<ITlsConnectionFeature>() is not null) return null; // the socket carries TLS records
        var socket = context.Features.Get<IConnectionSocketFeature>()?.Socket;
        if (socket is null || socket.SocketType != SocketType.Stream) return null;
        try
        {
            // A pipelined next request still in the kernel's buffer (a partial guard: see the remarks).
            if (!socket.Connected || socket.Available > 0) return null;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return null;
        }
        return socket;
    }

    /// <summary>
    /// Writes the response (status line, every header of <see cref="HttpContext.Response"/> plus <c>Date</c> and
    /// <c>Connection: close</c>, then <paramref name="length"/> bytes of <paramref name="file"/> from
    /// <paramref name="offset"/>) to <paramref name="socket"/> and closes the connection. False, with nothing
    /// written, when a header cannot be written as is (not ASCII): take the regular path.
    /// </summary>
    /// <remarks>Never throws for a client that goes away: the transfer stops, the connection is closed, and
    /// <see cref="DirectResponseFeature"/> records the bytes sent for the access log.</remarks>
    public static async Task<bool> TrySendAsync(HttpContext context, Socket socket, FileStream file, long offset, long length)
    {
        var response = context.Response;
        var head = Head(response, DateTimeOffset.UtcNow);
        if (head is null || response.HasStarted) return false;

        var sent = new DirectResponseFeature { StatusCode = response.StatusCode };
        context.Features.Set(sent);
        var rate = context.Features.Get<IHttpMinResponseDataRateFeature>()?.MinDataRate;
        using var deadline = new CancellationTokenSource();
        // Too slow a reader: abort the connection (Kestrel shuts the socket down, the pending send fails).
        using var onDeadline = deadline.Token.Register(static c => ((HttpContext)c!).Abort(), context);
        using var operation = new SendPacketsOperation();
        var clock = Stopwatch.StartNew();
        long done = 0;
        try
        {
            bool first = true;
            while (done < length)
            {
                int chunk = (int)Math.Min(ChunkBytes, length - done);
                if (rate is not null)
                {
                    // Kestrel's rule: after the grace period, on average at least BytesPerSecond since the start.
                    var left = rate.GracePeriod + TimeSpan.FromSeconds((done + chunk) / rate.BytesPerSecond) - clock.Elapsed;
                    deadline.CancelAfter(left < TimeSpan.Zero ? TimeSpan.Zero : left < MaxTimer ? left : MaxTimer);
                }
                var element = new SendPacketsElement(file, offset + done, chunk, endOfPacket: true);
                operation.SendPacketsElements = first ? [new SendPacketsElement(head), element] : [element];
                var error = await operation.RunAsync(socket);
                if (error != SocketError.Success)
                {
                    LogClientGone(Logger(context), done, length, error);
                    return true;
                }
                done += chunk;
                sent.BodyBytesSent = done;
                first = false;
            }
            sent.Completed = true;
            socket.Shutdown(SocketShutdown.Send); // FIN after the queued bytes
            await WaitUntilDeliveredAsync(context, socket);
            return true;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or InvalidOperationException)
        {
            // The socket went away under the operation (client reset, server shutdown, deadline abort).
            LogClientGone(Logger(context), done, length, ex is SocketException se ? se.SocketErrorCode : SocketError.OperationAborted);
            return true;
        }
        finally
        {
            // Kestrel writes nothing more and reads no next request on this connection. Its abort is a reset
            // (SO_LINGER 0, which drops unsent bytes), hence the wait for delivery above.
            context.Abort();
        }
    }

    /// <summary>How long the peer may acknowledge nothing of the bytes still queued after the last one was handed
    /// to the kernel before the connection is reset anyway.</summary>
    private static readonly TimeSpan DeliveryStall = TimeSpan.FromSeconds(30);

    /// <summary>Waits until the peer has acknowledged every queued byte (Linux <c>TIOCOUTQ</c> reads 0) or closed the
    /// connection (the client's close after the last byte, <see cref="HttpContext.RequestAborted"/>), or acknowledged
    /// nothing for <see cref="DeliveryStall"/>. Kestrel's abort resets the connection and a reset discards whatever
    /// the kernel has not sent yet: after this wait nothing is left to discard.</summary>
    private static async Task WaitUntilDeliveredAsync(HttpContext context, Socket socket)
    {
        var aborted = context.RequestAborted;
        int least = int.MaxValue;
        var idle = Stopwatch.StartNew();
        int delayMs = 1;
        while (!aborted.IsCancellationRequested)
        {
            int queued = UnacknowledgedBytes(socket);
            if (queued == 0) return;
            if (queued > 0 && queued < least)
            {
                least = queued;
                idle.Restart();
            }
            else if (idle.Elapsed > DeliveryStall)
            {
                return;
            }
            try
            {
                await Task.Delay(delayMs, aborted);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            delayMs = Math.Min(delayMs * 2, 50);
        }
    }

    /// <summary>Bytes in the socket's send queue not yet acknowledged by the peer (Linux <c>ioctl(TIOCOUTQ)</c>);
    /// -1 when unknown (another OS, a closed socket): then only the peer's close or the stall time ends the wait.</summary>
    private static int UnacknowledgedBytes(Socket socket)
    {
        if (!OperatingSystem.IsLinux()) return -1;
        try
        {
            // Hold the handle so Kestrel closing the socket meanwhile cannot make the descriptor number another file's.
            var handle = socket.SafeHandle;
            bool added = false;
            try
            {
                handle.DangerousAddRef(ref added);
                return NativeMethods.ioctl((int)handle.DangerousGetHandle(), NativeMethods.TIOCOUTQ, out int queued) == 0 ? queued : -1;
            }
            finally
            {
                if (added) handle.DangerousRelease();
            }
        }
        catch (Exception ex) when (ex is ObjectDisposedException or DllNotFoundException or EntryPointNotFoundException)
        {
            return -1;
        }
    }

    private static class NativeMethods
    {
        /// <summary><c>TIOCOUTQ</c> (= <c>SIOCOUTQ</c> on TCP sockets), Linux generic ioctl number.</summary>
        public const nuint TIOCOUTQ = 0x5411;

        [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
        public static extern int ioctl(int fd, nuint request, out int value);
    }

    /// <summary>The status line and header block of <paramref name="response"/> as sent on the wire (HTTP/1.1,
    /// RFC 9112 §4 and §5), with <c>Date</c> (RFC 9110 §6.6.1) and <c>Connection: close</c>; null when a header
    /// name or value is not plain visible ASCII.</summary>
    internal static byte[]? Head(HttpResponse response, DateTimeOffset now)
    {
        int status = response.StatusCode;
        var text = new StringBuilder(512);
        text.Append("HTTP/1.1 ").Append(status.ToString(CultureInfo.InvariantCulture)).Append(' ')
            .Append(ReasonPhrases.GetReasonPhrase(status)).Append("\r\n");
        foreach (var (name, values) in response.Headers)
        {
            // Connection management is this writer's; Date is written below.
            if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase) || name.Equals("Keep-Alive", StringComparison.OrdinalIgnoreCase)
                || name.Equals("Date", StringComparison.OrdinalIgnoreCase) || name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
                continue;
            if (!IsToken(name)) return null;
            foreach (var value in values)
            {
                if (value is null || !IsFieldValue(value)) return null;
                text.Append(name).Append(": ").Append(value).Append("\r\n");
            }
        }
        text.Append("Date: ").Append(now.ToString("r", CultureInfo.InvariantCulture)).Append("\r\n");
        text.Append("Connection: close\r\n\r\n");
        return Encoding.ASCII.GetBytes(text.ToString());
    }

    private static bool IsToken(string name)
    {
        if (name.Length == 0) return false;
        foreach (char c in name)
            if (c is <= ' ' or >= '\x7f' or '(' or ')' or '<' or '>' or '@' or ',' or ';' or ':' or '\\' or '"' or '/' or '[' or ']' or '?' or '=' or '{' or '}')
                return false;
        return true;
    }

    private static bool IsFieldValue(string value)
    {
        foreach (char c in value)
            if (c != '\t' && c is < ' ' or >= '\x7f') return false;
        return true;
    }

    private static ILogger Logger(HttpContext context) =>
        context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Berth.Registry");

    [LoggerMessage(EventId = 2101, Level = LogLevel.Debug, Message = "Zero-copy blob GET stopped after {Sent} of {Length} bytes: {Error}")]
    private static partial void LogClientGone(ILogger logger, long sent, long length, SocketError error);

    /// <summary>One reusable <see cref="Socket.SendPacketsAsync(SocketAsyncEventArgs)"/> as a task. On Linux a
    /// file element is sent with <c>sendfile(2)</c> from its offset, a buffer element with <c>send(2)</c>.</summary>
    private sealed class SendPacketsOperation() : SocketAsyncEventArgs(unsafeSuppressExecutionContextFlow: true)
    {
        private TaskCompletionSource<SocketError>? _done;

        public Task<SocketError> RunAsync(Socket socket)
        {
            var done = _done = new TaskCompletionSource<SocketError>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (!socket.SendPacketsAsync(this)) done.TrySetResult(SocketError);
            return done.Task;
        }

        protected override void OnCompleted(SocketAsyncEventArgs e) => _done?.TrySetResult(e.SocketError);
    }
}
