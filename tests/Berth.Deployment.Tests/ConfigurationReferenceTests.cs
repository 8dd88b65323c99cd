using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Berth.Deployment.Tests.Infrastructure;
using Berth.EndToEnd.Tests.Infrastructure;
using Berth.Server;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Berth.Deployment.Tests;

/// <summary>
/// docs/configuration.md cannot drift from the options classes. The options classes are found, not listed:
/// every class named <c>…Options</c> in Berth's assemblies, starting from those the real app binds
/// (<c>IConfigureOptions&lt;T&gt;</c> registered by <see cref="BerthApp.Build"/>) and walking nested option
/// objects. For each settable property the docs must have a row whose key, set to a probe value in the app's
/// configuration, really lands in that property (so the key is right), and whose default cell starts with
/// the property's default. Rows for keys that bind to nothing fail too, as does an appsettings.json that
/// quietly overrides a documented default.
/// </summary>
public sealed partial class ConfigurationReferenceTests
{
    /// <summary>Documented keys that are not options properties (host settings, read directly).</summary>
    private static readonly string[] HostKeys = ["urls", "RootPassword", "Logging:LogLevel:*"];

    private static readonly string DocsPath = Path.Combine(Repository.Root, "docs", "configuration.md");

    [Fact]
    public async Task Every_option_property_is_documented_with_its_key_and_default()
    {
        var docs = ReadDocumentedKeys();
        using var data = new TempDirectory("deploy-config");
        IServiceCollection? services = null;
        var app = BerthApp.Build(["--DataDir", data.Path], builder => services = builder.Services);
        await using var _ = app;
        var configuration = (IConfiguration)app.Configuration;

        var roots = services!
            .Select(d => d.ServiceType)
            .Where(t => t.IsGenericType && t.GetGenericTypeDefinition() == typeof(IConfigureOptions<>))
            .Select(t => t.GetGenericArguments()[0])
            .Where(IsBerthOptions)
            .Distinct()
            .ToList();
        Assert.NotEmpty(roots);

        var problems = new List<string>();
        var bound = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var reached = new HashSet<Type>();
        foreach (var root in roots)
        {
            var leaves = Leaves(root, [], reached).ToList();
            var keys = leaves.ToDictionary(l => l, l => FindBindingKey(app.Services, configuration, root, l, docs.Keys));
            // The section this class binds at, from a documented sibling, for the hint below.
            var section = keys.Where(k => k.Value is not null)
                .Select(k => k.Value![..^string.Join(':', k.Key.Select(p => p.Name)).Length])
                .FirstOrDefault() ?? "<Section>:";
            foreach (var leaf in leaves)
            {
                var key = keys[leaf];
                var name = $"{root.Name}.{string.Join('.', leaf.Select(p => p.Name))}";
                if (key is null)
                {
                    problems.Add($"{name} has no row in docs/configuration.md whose key binds to it " +
                                 $"(expected: | `{section}{string.Join(':', leaf.Select(p => p.Name))}` | {DefaultText(root, leaf)} | … |)");
                    continue;
                }
                bound.Add(key);
                var expected = DefaultText(root, leaf);
                if (!docs[key].StartsWith(expected, StringComparison.Ordinal))
                    problems.Add($"`{key}` ({name}): the default column is '{docs[key]}' but the default is {expected}");
            }
        }

        foreach (var type in AllBerthOptionsTypes().Where(t => !reached.Contains(t)))
            problems.Add($"{type.FullName} is an options class the app does not bind (nothing registers IConfigureOptions<{type.Name}> or nests it); bind it or rename it");
        foreach (var key in docs.Keys.Where(k => !bound.Contains(k) && !HostKeys.Contains(k, StringComparer.OrdinalIgnoreCase)))
            problems.Add($"docs/configuration.md documents `{key}`, which binds to no options property");

        // appsettings.json ships beside the executable: it must not change what the docs call the default.
        var appsettings = new ConfigurationBuilder().AddJsonFile(Path.Combine(Repository.Root, "src", "Berth.Server", "appsettings.json")).Build();
        foreach (var (key, value) in appsettings.AsEnumerable().Where(kv => kv.Value is not null))
        {
            if (bound.Contains(key) && !docs[bound.First(b => b.Equals(key, StringComparison.OrdinalIgnoreCase))].StartsWith($"`{value}`", StringComparison.OrdinalIgnoreCase))
                problems.Add($"src/Berth.Server/appsettings.json sets {key}={value}, which is not the documented default ({docs[key]})");
        }

        Assert.True(problems.Count == 0, "docs/configuration.md and the options classes disagree:\n  " + string.Join("\n  ", problems));
    }

    /// <summary>Rows <c>| `Key` (…) | default | meaning |</c> of every table: key to default cell.</summary>
    private static Dictionary<string, string> ReadDocumentedKeys()
    {
        var rows = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in File.ReadAllLines(DocsPath))
        {
            var m = Row().Match(line);
            if (m.Success) rows[m.Groups["key"].Value] = m.Groups["default"].Value.Trim();
        }
        Assert.True(rows.Count > 10, $"no configuration tables found in {DocsPath}");
        return rows;
    }

    [GeneratedRegex(@"^\|\s*`(?<key>[A-Za-z][A-Za-z0-9_:*]*)`[^|]*\|(?<default>[^|]*)\|")]
    private static partial Regex Row();

    private static bool IsBerthOptions(Type t) =>
        t.IsClass && !t.IsAbstract && t.Name.EndsWith("Options", StringComparison.Ordinal) && t.Namespace?.StartsWith("Berth.", StringComparison.Ordinal) == true;

    private static IEnumerable<Type> AllBerthOptionsTypes() =>
        new[] { typeof(BerthApp).Assembly }
            .Concat(typeof(BerthApp).Assembly.GetReferencedAssemblies().Where(a => a.Name!.StartsWith("Berth.", StringComparison.Ordinal)).Select(Assembly.Load))
            .SelectMany(a => a.GetExportedTypes())
            .Where(IsBerthOptions);

    private static bool IsScalar(Type t)
    {
        t = Nullable.GetUnderlyingType(t) ?? t;
        return t.IsPrimitive || t.IsEnum || t == typeof(string) || t == typeof(decimal) || t == typeof(TimeSpan) || t == typeof(Uri);
    }

    /// <summary>Paths of settable scalar properties below <paramref name="type"/> (nested option objects walked).</summary>
    private static IEnumerable<PropertyInfo[]> Leaves(Type type, PropertyInfo[] prefix, HashSet<Type> reached)
    {
        reached.Add(type);
        foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (p.GetMethod is null || p.SetMethod is null || !p.SetMethod.IsPublic || p.GetIndexParameters().Length > 0) continue;
            PropertyInfo[] path = [.. prefix, p];
            if (IsScalar(p.PropertyType) || (p.PropertyType != typeof(string) && typeof(IEnumerable).IsAssignableFrom(p.PropertyType)))
                yield return path;
            else if (p.PropertyType.IsClass)
                foreach (var leaf in Leaves(p.PropertyType, path, reached)) yield return leaf;
        }
    }

    /// <summary>The documented key that, set in the app's configuration, changes this property; null when none does.</summary>
    private static string? FindBindingKey(IServiceProvider services, IConfiguration configuration, Type root, PropertyInfo[] leaf, IEnumerable<string> documented)
    {
        var suffix = string.Join(':', leaf.Select(p => p.Name));
        var type = leaf[^1].PropertyType;
        foreach (var key in documented.Where(k => k.Equals(suffix, StringComparison.OrdinalIgnoreCase) || k.EndsWith(":" + suffix, StringComparison.OrdinalIgnoreCase)))
        {
            // A list of objects (e.g. Notifications:Endpoints) binds from <key>:0:<Property>: one element proves the key.
            var element = ComplexElementType(type);
            var elementKey = element is null ? null : $"{key}:0:{element.GetProperties().First(p => p.PropertyType == typeof(string) && p.SetMethod is not null).Name}";
            var (text, expected) = element is null ? Probe(type, Read(Activator.CreateInstance(root)!, leaf)) : ("probe-value", (object)1);
            configuration[elementKey ?? key] = text;
            try
            {
                var instance = Activator.CreateInstance(root)!;
                var configureType = typeof(IConfigureOptions<>).MakeGenericType(root);
                foreach (var configure in services.GetServices(configureType))
                    configureType.GetMethod("Configure")!.Invoke(configure, [instance]);
                var value = Read(instance, leaf);
                if (element is null ? Equals(value, expected) : value is ICollection { Count: 1 }) return key;
            }
            finally
            {
                configuration[elementKey ?? key] = null;
            }
        }
        return null;
    }

    /// <summary>The element type of a list of objects (not strings or scalars), else null.</summary>
    private static Type? ComplexElementType(Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>) && type.GetGenericArguments()[0] is { IsClass: true } e && e != typeof(string) ? e : null;

    private static object? Read(object instance, PropertyInfo[] path)
    {
        object? value = instance;
        foreach (var p in path) value = value is null ? null : p.GetValue(value);
        return value;
    }

    /// <summary>A configuration text and the value it binds to, different from the default.</summary>
    private static (string Text, object Value) Probe(Type type, object? current)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        if (t == typeof(string)) return ("probe-value", "probe-value");
        if (t == typeof(bool)) return current is true ? ("false", false) : ("true", true);
        if (t == typeof(int)) return ("7919", 7919);
        if (t == typeof(long)) return ("7919", 7919L);
        if (t == typeof(double)) return ("79.19", 79.19);
        if (t == typeof(TimeSpan)) return ("01:02:03", new TimeSpan(1, 2, 3));
        if (t.IsEnum)
        {
            var other = Enum.GetValues(t).Cast<object>().First(v => !v.Equals(current));
            return (other.ToString()!, other);
        }
        throw new NotSupportedException($"no probe value for options property type {type}; extend ConfigurationReferenceTests.Probe");
    }

    /// <summary>How the default of a property is written at the start of its default cell.</summary>
    private static string DefaultText(Type root, PropertyInfo[] leaf)
    {
        var value = Read(Activator.CreateInstance(root)!, leaf);
        return value switch
        {
            null => "(none)",
            string s when s.Length == 0 => "(none)",
            bool b => b ? "`true`" : "`false`",
            IFormattable f => $"`{f.ToString(null, CultureInfo.InvariantCulture)}`",
            string s => $"`{s}`",
            IEnumerable e when !e.Cast<object>().Any() => "(none)",
            IEnumerable e => $"`{string.Join(", ", e.Cast<object>())}`",
            _ => $"`{value}`",
        };
    }
}
