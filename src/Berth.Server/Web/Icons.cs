using Microsoft.AspNetCore.Html;

namespace Berth.Server.Web;

/// <summary>The UI's few icons, inline SVG (stroke icons drawn with <c>currentColor</c>, hidden from screen readers).</summary>
public static class Icons
{
    private static HtmlString Svg(string body) =>
        new($"<svg viewBox=\"0 0 24 24\" fill=\"none\" stroke=\"currentColor\" stroke-width=\"2\" stroke-linecap=\"round\" stroke-linejoin=\"round\" aria-hidden=\"true\" focusable=\"false\">{body}</svg>");

    /// <summary>Berth's mark: an anchor.</summary>
    public static HtmlString Anchor => Svg("<circle cx=\"12\" cy=\"5\" r=\"2.5\"/><path d=\"M12 7.5V21\"/><path d=\"M8 11h8\"/><path d=\"M4.5 14.5a7.5 7.5 0 0 0 15 0\"/><path d=\"M4.5 14.5 3 16m1.5-1.5L6 16m13.5-1.5L18 16m1.5-1.5L21 16\"/>");
    /// <summary>Overview.</summary>
    public static HtmlString Home => Svg("<path d=\"M3 11 12 3l9 8\"/><path d=\"M5 10v10h14V10\"/>");
    /// <summary>Container registry.</summary>
    public static HtmlString Box => Svg("<path d=\"M21 8 12 3 3 8v8l9 5 9-5Z\"/><path d=\"m3 8 9 5 9-5\"/><path d=\"M12 13v8\"/>");
    /// <summary>Members.</summary>
    public static HtmlString Users => Svg("<circle cx=\"9\" cy=\"8\" r=\"3.5\"/><path d=\"M2.5 20a6.5 6.5 0 0 1 13 0\"/><path d=\"M16 4.5a3.5 3.5 0 0 1 0 7\"/><path d=\"M18 14.5a6.5 6.5 0 0 1 3.5 5.5\"/>");
    /// <summary>Settings.</summary>
    public static HtmlString Gear => Svg("<circle cx=\"12\" cy=\"12\" r=\"3\"/><path d=\"M19.4 15a1.7 1.7 0 0 0 .3 1.8l.1.1a2 2 0 1 1-2.8 2.8l-.1-.1a1.7 1.7 0 0 0-1.8-.3 1.7 1.7 0 0 0-1 1.5V21a2 2 0 0 1-4 0v-.1a1.7 1.7 0 0 0-1.1-1.5 1.7 1.7 0 0 0-1.8.3l-.1.1a2 2 0 1 1-2.8-2.8l.1-.1a1.7 1.7 0 0 0 .3-1.8 1.7 1.7 0 0 0-1.5-1H3a2 2 0 0 1 0-4h.1a1.7 1.7 0 0 0 1.5-1.1 1.7 1.7 0 0 0-.3-1.8l-.1-.1a2 2 0 1 1 2.8-2.8l.1.1a1.7 1.7 0 0 0 1.8.3H9a1.7 1.7 0 0 0 1-1.5V3a2 2 0 0 1 4 0v.1a1.7 1.7 0 0 0 1 1.5 1.7 1.7 0 0 0 1.8-.3l.1-.1a2 2 0 1 1 2.8 2.8l-.1.1a1.7 1.7 0 0 0-.3 1.8V9a1.7 1.7 0 0 0 1.5 1H21a2 2 0 0 1 0 4h-.1a1.7 1.7 0 0 0-1.5 1Z\"/>");
    /// <summary>Copy.</summary>
    public static HtmlString Copy => Svg("<rect x=\"9\" y=\"9\" width=\"12\" height=\"12\" rx=\"2\"/><path d=\"M5 15H4a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1h10a1 1 0 0 1 1 1v1\"/>");
    /// <summary>Delete.</summary>
    public static HtmlString Trash => Svg("<path d=\"M3 6h18\"/><path d=\"M8 6V4h8v2\"/><path d=\"M19 6l-1 14H6L5 6\"/><path d=\"M10 11v6M14 11v6\"/>");
    /// <summary>Lock (private).</summary>
    public static HtmlString Lock => Svg("<rect x=\"4\" y=\"11\" width=\"16\" height=\"10\" rx=\"2\"/><path d=\"M8 11V7a4 4 0 0 1 8 0v4\"/>");
    /// <summary>Folder (group).</summary>
    public static HtmlString Folder => Svg("<path d=\"M3 6a1 1 0 0 1 1-1h5l2 2h9a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1Z\"/>");
}
