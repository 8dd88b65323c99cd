using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Berth.Auth.Accounts;

namespace Berth.Auth.Ci;

/// <summary>
/// A rule on one claim of a CI's OIDC ID token. <see cref="Operator"/> is <c>equals</c> (exact, case-sensitive),
/// <c>glob</c> (<c>*</c> any run of characters except <c>/</c>, <c>**</c> any run including <c>/</c>, <c>?</c> one
/// character except <c>/</c>; the whole value must match) or <c>regex</c> (.NET syntax, the whole value must
/// match, 100 ms limit). A claim holding an array matches when any element matches; numbers and booleans are
/// compared as their JSON text. A missing claim never matches.
/// </summary>
/// <param name="Claim">The claim's name, e.g. <c>repository</c>, <c>ref</c>, <c>project_path</c>.</param>
/// <param name="Operator"><c>equals</c>, <c>glob</c> or <c>regex</c>.</param>
/// <param name="Value">The expected value, pattern or regular expression.</param>
public sealed record ClaimRule(
    [property: JsonPropertyName("claim")] string Claim,
    [property: JsonPropertyName("operator")] string Operator,
    [property: JsonPropertyName("value")] string Value)
{
    /// <summary>Exact comparison.</summary>
    public const string EqualsOperator = "equals";
    /// <summary>Glob pattern.</summary>
    public const string GlobOperator = "glob";
    /// <summary>Regular expression.</summary>
    public const string RegexOperator = "regex";

    /// <summary>The operators.</summary>
    public static readonly string[] Operators = [EqualsOperator, GlobOperator, RegexOperator];

    private static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(100);

    /// <summary>Checks a list of rules and normalizes operator names.</summary>
    /// <exception cref="AccountException">No rule; a rule without claim or value; an unknown operator; a regex or glob that does not compile.</exception>
    public static IReadOnlyList<ClaimRule> Validate(IReadOnlyList<ClaimRule>? rules)
    {
        if (rules is null || rules.Count == 0)
            throw AccountException.Invalid("rules", "rules is missing: give at least one claim rule (e.g. {\"claim\":\"repository\",\"operator\":\"equals\",\"value\":\"org/app\"}), or any CI job of that issuer could push");
        var result = new List<ClaimRule>();
        foreach (var rule in rules)
        {
            if (string.IsNullOrWhiteSpace(rule.Claim)) throw AccountException.Invalid("rules", "every rule needs a claim");
            if (rule.Value is null) throw AccountException.Invalid("rules", $"the rule on claim '{rule.Claim}' needs a value");
            var op = (rule.Operator ?? "").Trim().ToLowerInvariant();
            if (op is "==" or "eq" or "equal") op = EqualsOperator;
            if (op is "matches" or "=~") op = RegexOperator;
            if (!Operators.Contains(op))
                throw AccountException.Invalid("rules", $"the rule on claim '{rule.Claim}' has operator '{rule.Operator}'; allowed: {string.Join(", ", Operators)}");
            var normalized = new ClaimRule(rule.Claim.Trim(), op, rule.Value);
            try
            {
                _ = normalized.Pattern();
            }
            catch (ArgumentException ex)
            {
                throw AccountException.Invalid("rules", $"the rule on claim '{rule.Claim}' is not a valid {op}: {ex.Message}");
            }
            result.Add(normalized);
        }
        return result;
    }

    /// <summary>Parses rules stored as JSON.</summary>
    public static IReadOnlyList<ClaimRule> FromJson(string json) => JsonSerializer.Deserialize<List<ClaimRule>>(json) ?? [];

    /// <summary>Rules as stored JSON.</summary>
    public static string ToJson(IReadOnlyList<ClaimRule> rules) => JsonSerializer.Serialize(rules);

    /// <summary>True when one of the claim's values satisfies the rule.</summary>
    public bool Matches(IReadOnlyList<string> values)
    {
        var pattern = Pattern();
        foreach (var v in values)
        {
            try
            {
                if (pattern is null ? string.Equals(v, Value, StringComparison.Ordinal) : pattern.IsMatch(v)) return true;
            }
            catch (RegexMatchTimeoutException)
            {
                // A pathological pattern: no match.
            }
        }
        return false;
    }

    private Regex? Pattern() => Operator switch
    {
        GlobOperator => new Regex("^" + GlobToRegex(Value) + "$", RegexOptions.CultureInvariant, RegexTimeout),
        RegexOperator => new Regex("^(?:" + Value + ")$", RegexOptions.CultureInvariant, RegexTimeout),
        _ => null,
    };

    private static string GlobToRegex(string glob)
    {
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < glob.Length; i++)
        {
            char c = glob[i];
            if (c == '*' && i + 1 < glob.Length && glob[i + 1] == '*') { sb.Append(".*"); i++; }
            else if (c == '*') sb.Append("[^/]*");
            else if (c == '?') sb.Append("[^/]");
            else sb.Append(Regex.Escape(c.ToString()));
        }
        return sb.ToString();
    }

    /// <summary>The values of a claim in a JWT payload (strings; numbers and booleans as JSON text; array elements); empty when missing or null.</summary>
    public static IReadOnlyList<string> ValuesOf(JsonElement payload, string claim)
    {
        if (payload.ValueKind != JsonValueKind.Object || !payload.TryGetProperty(claim, out var value)) return [];
        return value.ValueKind switch
        {
            JsonValueKind.Null or JsonValueKind.Undefined => [],
            JsonValueKind.String => [value.GetString()!],
            JsonValueKind.Array => value.EnumerateArray().Where(e => e.ValueKind is not (JsonValueKind.Null or JsonValueKind.Undefined))
                .Select(e => e.ValueKind == JsonValueKind.String ? e.GetString()! : e.GetRawText()).ToList(),
            _ => [value.GetRawText()],
        };
    }
}
