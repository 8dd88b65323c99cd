using System.Globalization;
using System.Text.Json;

namespace Berth.Server.ApiV4;

/// <summary>
/// Request parameters the way GitLab's API takes them: the query string merged with a JSON or form body
/// (the body wins). Arrays come as JSON arrays, repeated <c>name[]=</c> form fields, or comma-separated text.
/// Malformed values are refused with 400 <c>{"error":"&lt;name&gt; is invalid"}</c>.
/// </summary>
public sealed class ApiParams
{
    private readonly Dictionary<string, List<string?>> _values = new(StringComparer.Ordinal);

    private ApiParams()
    {
    }

    /// <summary>Reads the query string and, for requests with a body, the JSON or form body.</summary>
    /// <exception cref="ApiException">The body is not valid JSON (400).</exception>
    public static async Task<ApiParams> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var p = new ApiParams();
        foreach (var (key, values) in request.Query) p.Set(key, values.ToArray());
        if (request.HasFormContentType)
        {
            var form = await request.ReadFormAsync(cancellationToken);
            foreach (var (key, values) in form) p.Set(key, values.ToArray());
        }
        else if (request.ContentLength is > 0 || request.Headers.TransferEncoding.Count > 0)
        {
            if (request.ContentType is { } ct && !ct.Contains("json", StringComparison.OrdinalIgnoreCase))
                return p;
            JsonDocument doc;
            try
            {
                doc = await JsonDocument.ParseAsync(request.Body, cancellationToken: cancellationToken);
            }
            catch (JsonException ex)
            {
                throw ApiException.BadRequest("the request body is not valid JSON: " + ex.Message);
            }
            using (doc)
            {
                if (doc.RootElement.ValueKind == JsonValueKind.Object)
                    foreach (var prop in doc.RootElement.EnumerateObject())
                        p.Set(prop.Name, prop.Value.ValueKind == JsonValueKind.Array
                            ? prop.Value.EnumerateArray().Select(Text).ToArray()
                            : [Text(prop.Value)]);
            }
        }
        return p;
    }

    private static string? Text(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => e.GetRawText(),
    };

    private void Set(string key, string?[] values)
    {
        if (key.EndsWith("[]", StringComparison.Ordinal)) key = key[..^2];
        _values[key] = values.ToList();
    }

    /// <summary>True when the parameter was sent (even empty or null).</summary>
    public bool Has(string name) => _values.ContainsKey(name);

    /// <summary>The parameter's text, or null.</summary>
    public string? String(string name) => _values.TryGetValue(name, out var v) && v.Count > 0 ? v[^1] : null;

    /// <summary>A required text parameter.</summary>
    /// <exception cref="ApiException">Missing (400 <c>{"error":"name is missing"}</c>).</exception>
    public string Required(string name) =>
        String(name) is { Length: > 0 } s ? s : throw ApiException.BadRequest($"{name} is missing");

    /// <summary>An integer parameter, or null.</summary>
    /// <exception cref="ApiException">Not an integer.</exception>
    public long? Long(string name)
    {
        var s = String(name);
        if (string.IsNullOrEmpty(s)) return null;
        return long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : throw ApiException.BadRequest($"{name} is invalid");
    }

    /// <summary>A boolean parameter (<c>true</c>/<c>false</c>/<c>1</c>/<c>0</c>), or null.</summary>
    /// <exception cref="ApiException">Not a boolean.</exception>
    public bool? Bool(string name)
    {
        var s = String(name);
        if (string.IsNullOrEmpty(s)) return null;
        return s.ToLowerInvariant() switch
        {
            "true" or "1" or "yes" or "on" => true,
            "false" or "0" or "no" or "off" => false,
            _ => throw ApiException.BadRequest($"{name} is invalid"),
        };
    }

    /// <summary>A list parameter (JSON array, repeated <c>name[]</c>, or comma-separated), or null when absent.</summary>
    public IReadOnlyList<string>? List(string name) =>
        _values.TryGetValue(name, out var v)
            ? v.Where(x => x is not null).SelectMany(x => x!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList()
            : null;

    /// <summary>
    /// A nested object parameter (GitLab's <c>…_attributes</c>): a JSON object in a JSON body, or form/query fields
    /// named <c>name[key]</c>. Null when absent.
    /// </summary>
    /// <exception cref="ApiException">The value is not a JSON object (400).</exception>
    public ApiParams? Nested(string name)
    {
        var nested = new ApiParams();
        bool any = false;
        if (String(name) is { Length: > 0 } raw)
        {
            try
            {
                using var doc = JsonDocument.Parse(raw);
                if (doc.RootElement.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest($"{name} is invalid");
                foreach (var prop in doc.RootElement.EnumerateObject()) nested.Set(prop.Name, [Text(prop.Value)]);
                any = true;
            }
            catch (JsonException)
            {
                throw ApiException.BadRequest($"{name} is invalid");
            }
        }
        var prefix = name + "[";
        foreach (var (key, values) in _values)
        {
            if (key.StartsWith(prefix, StringComparison.Ordinal) && key.EndsWith(']'))
            {
                nested.Set(key[prefix.Length..^1], values.ToArray());
                any = true;
            }
        }
        return any ? nested : null;
    }

    /// <summary>A date parameter (<c>YYYY-MM-DD</c>, or an ISO 8601 time whose date is taken), or null.</summary>
    /// <exception cref="ApiException">Not a date.</exception>
    public DateOnly? Date(string name)
    {
        var s = String(name);
        if (string.IsNullOrEmpty(s)) return null;
        if (DateOnly.TryParseExact(s, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d)) return d;
        if (DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)) return DateOnly.FromDateTime(t.UtcDateTime);
        throw ApiException.BadRequest($"{name} is invalid");
    }
}
