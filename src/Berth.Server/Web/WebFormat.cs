using System.Globalization;

namespace Berth.Server.Web;

/// <summary>Formatting for people: sizes, digests, times.</summary>
public static class WebFormat
{
    private static readonly string[] Units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

    /// <summary>A byte count as <c>512 B</c>, <c>1.5 KiB</c>, <c>23.4 MiB</c> (binary units, one decimal below 100).</summary>
    public static string Bytes(long bytes)
    {
        if (bytes < 1024) return bytes.ToString(CultureInfo.InvariantCulture) + " B";
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < Units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        var format = value >= 100 ? "0" : "0.0";
        return value.ToString(format, CultureInfo.InvariantCulture) + " " + Units[unit];
    }

    /// <summary>An exact byte count with separators: <c>1,234,567 bytes</c>.</summary>
    public static string ExactBytes(long bytes) => bytes.ToString("N0", CultureInfo.InvariantCulture) + (bytes == 1 ? " byte" : " bytes");

    /// <summary>The first 12 hex digits of a digest (what <c>docker images</c> shows).</summary>
    public static string ShortDigest(string digest)
    {
        var colon = digest.IndexOf(':', StringComparison.Ordinal);
        var hex = colon >= 0 ? digest[(colon + 1)..] : digest;
        return hex.Length > 12 ? hex[..12] : hex;
    }

    /// <summary>A UTC time as ISO 8601 (for <c>&lt;time datetime&gt;</c>).</summary>
    public static string Iso(DateTime utc) => DateTime.SpecifyKind(utc, DateTimeKind.Utc).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>A UTC time in full, for titles: <c>2026-01-31 14:05:09 UTC</c>.</summary>
    public static string Full(DateTime utc) => DateTime.SpecifyKind(utc, DateTimeKind.Utc).ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);

    /// <summary>A date: <c>2026-01-31</c>.</summary>
    public static string Date(DateTime utc) => utc.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    /// <summary>A time relative to now: <c>just now</c>, <c>5 minutes ago</c>, <c>3 days ago</c>, then the date.</summary>
    public static string Ago(DateTime utc, DateTime? now = null)
    {
        var span = (now ?? DateTime.UtcNow) - DateTime.SpecifyKind(utc, DateTimeKind.Utc);
        if (span < TimeSpan.FromSeconds(45)) return "just now";
        if (span < TimeSpan.FromMinutes(90)) return Plural((int)Math.Max(1, Math.Round(span.TotalMinutes)), "minute") + " ago";
        if (span < TimeSpan.FromHours(36)) return Plural((int)Math.Round(span.TotalHours), "hour") + " ago";
        if (span < TimeSpan.FromDays(45)) return Plural((int)Math.Round(span.TotalDays), "day") + " ago";
        return "on " + Date(utc);
    }

    /// <summary><c>1 tag</c>, <c>2 tags</c>.</summary>
    public static string Plural(int count, string noun) =>
        count.ToString("N0", CultureInfo.InvariantCulture) + " " + (count == 1 ? noun : noun + "s");

    /// <summary>A number with thousands separators.</summary>
    public static string Number(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>A display name of an access level.</summary>
    public static string Level(Berth.Auth.AccessLevel level) => level == Berth.Auth.AccessLevel.None ? "No role" : level.ToString();
}
