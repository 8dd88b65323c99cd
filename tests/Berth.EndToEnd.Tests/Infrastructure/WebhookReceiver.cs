using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Berth.EndToEnd.Tests.Infrastructure;

/// <summary>One request a <see cref="WebhookReceiver"/> got.</summary>
/// <param name="Path">The request path.</param>
/// <param name="ContentType">Its Content-Type.</param>
/// <param name="Headers">Its headers.</param>
/// <param name="Body">Its body.</param>
public sealed record ReceivedWebhook(string Path, string? ContentType, IReadOnlyDictionary<string, string> Headers, string Body)
{
    /// <summary>The events of a Distribution envelope (<c>{"events":[…]}</c>).</summary>
    public IReadOnlyList<JsonElement> Events()
    {
        using var document = JsonDocument.Parse(Body);
        return document.RootElement.GetProperty("events").EnumerateArray().Select(e => e.Clone()).ToList();
    }
}

/// <summary>
/// A webhook receiver on a fixed loopback port (HttpListener): records every POST and answers 200. It can be
/// stopped (connections are refused, like a receiver that is down) and started again on the same port.
/// </summary>
public sealed class WebhookReceiver : IDisposable
{
    private readonly ConcurrentQueue<ReceivedWebhook> _received = new();
    private HttpListener? _listener;
    private Task? _loop;

    /// <summary>Picks a free port; call <see cref="Start"/> to listen.</summary>
    public WebhookReceiver() => Port = RegistryServerFixture.GetFreeLoopbackPort();

    /// <summary>The port.</summary>
    public int Port { get; }

    /// <summary><c>http://127.0.0.1:port</c> + <paramref name="path"/>.</summary>
    public string Url(string path) => $"http://127.0.0.1:{Port}{path}";

    /// <summary>Everything received so far.</summary>
    public IReadOnlyList<ReceivedWebhook> Received => _received.ToList();

    /// <summary>Starts listening.</summary>
    public void Start()
    {
        var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        listener.Start();
        _listener = listener;
        _loop = Task.Run(() => LoopAsync(listener));
    }

    /// <summary>Stops listening (new connections are refused).</summary>
    public void Stop()
    {
        var listener = _listener;
        _listener = null;
        if (listener is null) return;
        listener.Stop();
        listener.Close();
        try { _loop?.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
    }

    /// <summary>Waits until a received request satisfies <paramref name="match"/>; throws with what arrived otherwise.</summary>
    public async Task<ReceivedWebhook> WaitForAsync(Func<ReceivedWebhook, bool> match, TimeSpan timeout, string what)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < timeout)
        {
            var hit = _received.FirstOrDefault(match);
            if (hit is not null) return hit;
            await Task.Delay(100);
        }
        throw new TimeoutException($"no webhook {what} within {timeout.TotalSeconds} s; received:\n" + string.Join("\n", _received.Select(r => $"{r.Path} {r.Body}")));
    }

    private async Task LoopAsync(HttpListener listener)
    {
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            var headers = context.Request.Headers.AllKeys.Where(k => k is not null).ToDictionary(k => k!, k => context.Request.Headers[k] ?? "", StringComparer.OrdinalIgnoreCase);
            _received.Enqueue(new ReceivedWebhook(context.Request.Url?.AbsolutePath ?? "", context.Request.ContentType, headers, body));
            context.Response.StatusCode = 200;
            context.Response.Close();
        }
    }

    /// <inheritdoc/>
    public void Dispose() => Stop();
}
