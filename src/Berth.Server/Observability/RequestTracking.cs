using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;
using System.Text.RegularExpressions;
using Berth.Server.Auth;

namespace Berth.Server.Observability;

/// <summary>
/// The first middleware of every request: takes the caller's <c>X-Request-Id</c> (1–128 characters of
/// <c>[A-Za-z0-9._:/+=-]</c>) or makes one, stores it as <see cref="HttpContext.TraceIdentifier"/>, returns it in
/// the <c>X-Request-Id</c> response header, opens a logging scope <c>RequestId</c> so every log line of the
/// request carries it, and when the request ends writes one access log line (category <c>Berth.Access</c>,
/// event 9000: method, path without query, status, bytes in/out (out: body bytes; for a zero-copy blob GET the bytes
/// actually sent, see <see cref="DirectResponseFeature"/>), duration in ms, user, repository, digest, the
/// registry token's jti) and updates the HTTP metrics.
/// </summary>
public static partial class RequestTracking
{
    /// <summary>The request id header, read and written.</summary>
    public const string Header = "X-Request-Id";

    /// <summary><see cref="HttpContext.Items"/> key where the authorizer leaves the verified registry token's jti.</summary>
    public const string TokenIdItem = "berth.token-id";

    [GeneratedRegex("^[A-Za-z0-9._:/+=-]{1,128}$", RegexOptions.CultureInvariant)]
    private static partial Regex ValidId();

    [GeneratedRegex("^/v2/(?<name>.+?)/(?<kind>manifests|blobs/uploads|blobs|tags/list|referrers)(?:/(?<ref>[^/]*))?$", RegexOptions.CultureInvariant)]
    private static partial Regex V2Path();

    /// <summary>Adds the middleware (call first, before anything that logs or answers).</summary>
    public static IApplicationBuilder UseRequestTracking(this IApplicationBuilder app)
    {
        // Created once: the logger factory takes a lock to look a category up, which every request would contend for.
        var logger = app.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger("Berth.Access");
        return app.Use((context, next) => TrackAsync(context, next, logger));
    }

    private static async Task TrackAsync(HttpContext context, RequestDelegate next, ILogger logger)
    {
        var incoming = context.Request.Headers[Header].ToString();
        var id = incoming.Length > 0 && ValidId().IsMatch(incoming) ? incoming : Guid.NewGuid().ToString("N");
        context.TraceIdentifier = id;
        context.Response.Headers[Header] = id;
        // Bytes in are counted on both ways a handler can read the body: the stream (most endpoints) and the
        // PipeReader (uploads, which hash and write the pipe's own segments). The pipe feature is replaced too: with
        // only Body replaced, Kestrel's BodyReader would wrap the replacement stream (one more copy of every byte).
        var pipeCounter = new CountingPipeReader(context.Request.BodyReader);
        var counter = new CountingReadStream(context.Request.Body);
        context.Request.Body = counter;
        context.Features.Set<IRequestBodyPipeFeature>(pipeCounter);
        long start = Stopwatch.GetTimestamp();
        using (logger.BeginScope(new RequestScope(id)))
        {
            try
            {
                await next(context);
            }
            finally
            {
                var elapsed = Stopwatch.GetElapsedTime(start);
                var request = context.Request;
                var response = context.Response;
                var path = request.Path.Value ?? "/";
                var (route, repository, reference) = Classify(context, path);
                var direct = context.Features.Get<DirectResponseFeature>();
                long bytesOut = direct is not null ? direct.BodyBytesSent : HttpMethods.IsHead(request.Method) ? 0 : response.ContentLength ?? 0;
                var digest = response.Headers["Docker-Content-Digest"].ToString();
                if (digest.Length == 0 && reference is not null && reference.Contains(':')) digest = reference;
                var principal = BasicCredentials.GetPrincipal(context);
                var user = principal.IsAuthenticated ? principal.Name : context.User.Identity?.IsAuthenticated == true ? context.User.Identity.Name ?? "-" : "-";
                var tokenId = context.Items.TryGetValue(TokenIdItem, out var t) ? t as string : null;
                // A response written around Kestrel (zero-copy blob GET) ends in an aborted connection with
                // Kestrel's response never started: its status is the one written, not 499.
                int status = direct is not null ? direct.StatusCode
                    : context.RequestAborted.IsCancellationRequested && !response.HasStarted ? 499 : response.StatusCode;
                LogAccess(logger, request.Method, path, status, counter.Count + pipeCounter.Count, bytesOut, Math.Round(elapsed.TotalMilliseconds, 1), user,
                    repository ?? "-", digest.Length == 0 ? "-" : digest, tokenId ?? "-");
                BerthMetrics.ObserveRequest(route, request.Method, status, counter.Count + pipeCounter.Count, bytesOut, elapsed);
            }
        }
    }

    /// <summary>The route template for metrics, plus the repository and reference of a <c>/v2</c> path.</summary>
    internal static (string Route, string? Repository, string? Reference) Classify(HttpContext context, string path)
    {
        if (path.StartsWith("/v2", StringComparison.Ordinal))
        {
            if (path is "/v2" or "/v2/") return ("/v2/", null, null);
            if (path == "/v2/_catalog") return ("/v2/_catalog", null, null);
            var m = V2Path().Match(path);
            if (!m.Success) return ("/v2/other", null, null);
            var kind = m.Groups["kind"].Value;
            var reference = m.Groups["ref"].Success && m.Groups["ref"].Value.Length > 0 ? m.Groups["ref"].Value : null;
            var template = kind switch
            {
                "manifests" => "/v2/{name}/manifests/{reference}",
                "blobs/uploads" => reference is null ? "/v2/{name}/blobs/uploads/" : "/v2/{name}/blobs/uploads/{uuid}",
                "blobs" => "/v2/{name}/blobs/{digest}",
                "tags/list" => "/v2/{name}/tags/list",
                _ => "/v2/{name}/referrers/{digest}",
            };
            return (template, m.Groups["name"].Value, kind == "blobs/uploads" ? null : reference);
        }
        if (context.GetEndpoint() is RouteEndpoint endpoint) return (endpoint.RoutePattern.RawText ?? "other", null, null);
        return ("other", null, null);
    }

    [LoggerMessage(EventId = 9000, Level = LogLevel.Information,
        Message = "{Method} {Path} {Status} in={BytesIn} out={BytesOut} {DurationMs}ms user={User} repository={Repository} digest={Digest} token={TokenId}")]
    private static partial void LogAccess(ILogger logger, string method, string path, int status, long bytesIn, long bytesOut, double durationMs,
        string user, string repository, string digest, string tokenId);

    /// <summary>The logging scope of one request: <c>RequestId</c>.</summary>
    private sealed class RequestScope(string id) : IReadOnlyList<KeyValuePair<string, object?>>
    {
        public KeyValuePair<string, object?> this[int index] => index == 0 ? new("RequestId", id) : throw new ArgumentOutOfRangeException(nameof(index));
        public int Count => 1;
        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() { yield return this[0]; }
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
        public override string ToString() => "RequestId:" + id;
    }

    /// <summary>Counts the bytes consumed from the request body through its <see cref="PipeReader"/> (bytes in):
    /// what a reader passes to <c>AdvanceTo</c> as consumed, measured on the buffer its last read returned.</summary>
    private sealed class CountingPipeReader(PipeReader inner) : PipeReader, IRequestBodyPipeFeature
    {
        private ReadOnlySequence<byte> _last;
        public long Count { get; private set; }
        public PipeReader Reader => this;

        public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            var result = await inner.ReadAsync(cancellationToken);
            _last = result.Buffer;
            return result;
        }

        public override bool TryRead(out ReadResult result)
        {
            if (!inner.TryRead(out result)) return false;
            _last = result.Buffer;
            return true;
        }

        public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
        {
            if (_last.Length > 0) Count += _last.Slice(_last.Start, consumed).Length;
            _last = default;
            inner.AdvanceTo(consumed, examined);
        }

        public override void CancelPendingRead() => inner.CancelPendingRead();
        public override void Complete(Exception? exception = null) => inner.Complete(exception);
        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);
    }

    /// <summary>Counts the bytes read from the request body through its stream (bytes in).</summary>
    private sealed class CountingReadStream(Stream inner) : Stream
    {
        public long Count { get; private set; }
        public override bool CanRead => inner.CanRead;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) { int n = inner.Read(buffer, offset, count); Count += n; return n; }
        public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        { int n = await inner.ReadAsync(buffer.AsMemory(offset, count), cancellationToken); Count += n; return n; }
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        { int n = await inner.ReadAsync(buffer, cancellationToken); Count += n; return n; }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
