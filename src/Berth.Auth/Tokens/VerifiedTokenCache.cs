using System.Collections.Concurrent;

namespace Berth.Auth.Tokens;

/// <summary>
/// Registry tokens this process has already verified, so the clients that send the same Bearer token on every
/// request (a pull of a hundred layers, CI loops) pay for the signature check and claim parsing once per token
/// instead of once per request. An entry is used only until the token's <c>exp</c> plus the allowed clock
/// skew, exactly as long as verification would accept it; a key's retirement does not shorten that, because a
/// retired key keeps verifying for longer than any registry token lives. Bounded: at most
/// <see cref="MaxEntries"/> tokens (expired entries are dropped first, then everything). One instance per
/// application (a singleton), never shared between hosts with different keys.
/// </summary>
public sealed class VerifiedTokenCache
{
    /// <summary>The most tokens kept (a few KiB each with their <c>x5c</c> header).</summary>
    public const int MaxEntries = 4096;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    private sealed record Entry(VerifiedToken Token, DateTime UsableUntil);

    /// <summary>The cached verification of <paramref name="token"/> when it is still within its lifetime at <paramref name="nowUtc"/>.</summary>
    public bool TryGet(string token, DateTime nowUtc, out VerifiedToken verified)
    {
        if (_entries.TryGetValue(token, out var entry))
        {
            if (nowUtc <= entry.UsableUntil)
            {
                verified = entry.Token;
                return true;
            }
            _entries.TryRemove(token, out _);
        }
        verified = null!;
        return false;
    }

    /// <summary>Remembers a verified token until <paramref name="usableUntilUtc"/> (its expiry plus the clock skew allowed).</summary>
    public void Add(string token, VerifiedToken verified, DateTime usableUntilUtc, DateTime nowUtc)
    {
        if (_entries.Count >= MaxEntries)
        {
            foreach (var pair in _entries)
            {
                if (pair.Value.UsableUntil < nowUtc) _entries.TryRemove(pair.Key, out _);
            }
            if (_entries.Count >= MaxEntries) _entries.Clear();
        }
        _entries[token] = new Entry(verified, usableUntilUtc);
    }

    /// <summary>Forgets every cached token (benchmarks of the uncached path).</summary>
    public void Clear() => _entries.Clear();

    /// <summary>How many tokens are cached (diagnostics, tests).</summary>
    public int Count => _entries.Count;
}
