namespace Berth.Server.Observability;

/// <summary>
/// Set in <see cref="HttpContext.Features"/> by a handler that wrote its response straight to the connection's
/// socket, around Kestrel (the zero-copy blob GET, <see cref="Api.ZeroCopyBlobResponse"/>), then aborted the
/// connection so Kestrel writes nothing more. Kestrel's own response never starts and the request reads as
/// aborted, so <see cref="RequestTracking"/> takes the status and the body bytes from here instead of
/// reporting 499 and <c>Content-Length</c>.
/// </summary>
internal sealed class DirectResponseFeature
{
    /// <summary>The HTTP status written (200 or 206).</summary>
    public required int StatusCode { get; init; }

    /// <summary>Body bytes the kernel accepted for sending (status line and headers not counted); less than the
    /// <c>Content-Length</c> when the client went away mid-transfer.</summary>
    public long BodyBytesSent { get; set; }

    /// <summary>True when every body byte was handed to the kernel.</summary>
    public bool Completed { get; set; }
}
