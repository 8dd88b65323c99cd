using System.Reflection;

namespace Berth.Server.Hosting;

/// <summary>
/// The product version: <c>berth --version</c>, the <c>Berth-Version</c> header of <c>/v2/</c>. It is the
/// assembly's informational version (<c>VersionPrefix</c> from Directory.Build.props, plus <c>+</c> and the first
/// 12 hex digits of the git commit when built from a checkout).
/// </summary>
public static class BerthVersion
{
    /// <summary>The response header that carries <see cref="Current"/> on <c>/v2/</c>.</summary>
    public const string Header = "Berth-Version";

    /// <summary>The version, e.g. <c>0.1.0+f55f162f64c3</c>.</summary>
    public static string Current { get; } = Read();

    private static string Read()
    {
        var informational = typeof(BerthVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? typeof(BerthVersion).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
        var plus = informational.IndexOf('+', StringComparison.Ordinal);
        return plus >= 0 && informational.Length > plus + 13 ? informational[..(plus + 13)] : informational;
    }
}
