using System.Globalization;
using System.Text.RegularExpressions;

namespace Berth.Server.Registry;

/// <summary>A refused tag pattern or duration (the API answers 400 with <see cref="Exception.Message"/>).</summary>
public sealed class TagRuleException(string message) : Exception(message);

/// <summary>
/// Regular expressions over tag names, the way GitLab's registry uses them (RE2 semantics): compiled with
/// <see cref="RegexOptions.NonBacktracking"/> (linear time, no catastrophic backtracking; back-references and
/// look-arounds are refused) and a match timeout as a second guard. Cleanup and bulk-delete patterns match the whole
/// name (<c>\A(?:pattern)\z</c>); protection-rule patterns match anywhere in the name, as GitLab's do.
/// </summary>
public static partial class TagPatterns
{
    /// <summary>The match timeout of every tag pattern.</summary>
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(250);

    /// <summary>Longest pattern accepted, in characters.</summary>
    public const int MaxLength = 255;

    /// <summary>Compiles a pattern that must match a whole tag name.</summary>
    /// <exception cref="TagRuleException">Not a valid (RE2-compatible) expression, or too long; the message names <paramref name="field"/>.</exception>
    public static Regex FullMatch(string pattern, string field)
    {
        // Compiled alone first: errors then point into what the caller wrote, and a pattern such as "a)(b" cannot
        // close the anchoring group early and pass as a different expression.
        Compile(pattern, pattern, field);
        return Compile(@"\A(?:" + pattern + @")\z", pattern, field);
    }

    /// <summary>Compiles a pattern that may match anywhere in a tag name (protection rules).</summary>
    /// <exception cref="TagRuleException">Not a valid (RE2-compatible) expression, or too long.</exception>
    public static Regex Search(string pattern, string field) => Compile(pattern, pattern, field);

    private static Regex Compile(string expression, string pattern, string field)
    {
        if (pattern.Length > MaxLength) throw new TagRuleException($"{field} is too long (maximum is {MaxLength} characters)");
        try
        {
            return new Regex(expression, RegexOptions.NonBacktracking | RegexOptions.CultureInvariant, MatchTimeout);
        }
        catch (RegexParseException ex)
        {
            throw new TagRuleException($"{field} is an invalid regexp: '{pattern}': {Describe(ex.Error)} (at character {ex.Offset})");
        }
        catch (NotSupportedException)
        {
            throw new TagRuleException(
                $"{field} is an invalid regexp: '{pattern}' uses a construct RE2 syntax does not have (lookahead/lookbehind, back-reference, atomic group or conditional)");
        }
        catch (ArgumentException ex)
        {
            throw new TagRuleException($"{field} is an invalid regexp: '{pattern}': {ex.Message}");
        }
    }

    // RegexParseError names in words: InsufficientClosingParentheses -> "insufficient closing parentheses".
    private static string Describe(RegexParseError error) =>
        System.Text.RegularExpressions.Regex.Replace(error.ToString(), "(?<=[a-z])(?=[A-Z])", " ").ToLowerInvariant();

    /// <summary>Whether a compiled pattern matches; a timed-out match counts as no match (never deletes).</summary>
    public static bool Matches(Regex regex, string tag)
    {
        try
        {
            return regex.IsMatch(tag);
        }
        catch (RegexMatchTimeoutException)
        {
            return false;
        }
    }

    /// <summary>
    /// Parses a human-readable age as GitLab's <c>older_than</c> takes it: a number and a unit, e.g. <c>90m</c>
    /// (minutes), <c>1h</c>, <c>7d</c>, <c>2w</c>, <c>1month</c> (30 days), <c>1y</c> (365 days); spaces allowed.
    /// </summary>
    /// <exception cref="TagRuleException">Not such a duration.</exception>
    public static TimeSpan ParseAge(string text, string field)
    {
        var m = AgeRegex().Match(text.Trim());
        if (!m.Success || !int.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            throw new TagRuleException($"{field} is invalid: '{text}' is not a duration such as 1h, 7d, 2w, 1month");
        return m.Groups[2].Value.ToLowerInvariant() switch
        {
            "s" or "sec" or "secs" or "second" or "seconds" => TimeSpan.FromSeconds(n),
            "m" or "min" or "mins" or "minute" or "minutes" => TimeSpan.FromMinutes(n),
            "h" or "hr" or "hrs" or "hour" or "hours" => TimeSpan.FromHours(n),
            "d" or "day" or "days" => TimeSpan.FromDays(n),
            "w" or "week" or "weeks" => TimeSpan.FromDays(7 * n),
            "month" or "months" or "mo" => TimeSpan.FromDays(30 * n),
            _ => TimeSpan.FromDays(365 * n),
        };
    }

    [GeneratedRegex(@"^(\d{1,6})\s*(s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|hour|hours|d|day|days|w|week|weeks|mo|month|months|y|year|years)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex AgeRegex();
}

/// <summary>A tag as the deletion rules see it: its name and when it last moved (UTC).</summary>
public sealed record TagAge(string Name, DateTime UpdatedAt);

/// <summary>
/// Which tags a bulk delete or a cleanup policy removes (GitLab's semantics, in this order): tags whose whole name
/// matches <see cref="NameRegexDelete"/>; minus those matching <see cref="NameRegexKeep"/>; minus <c>latest</c> unless
/// <see cref="NameRegexDelete"/> is exactly <c>latest</c>; minus the <see cref="KeepN"/> most recently updated of the
/// rest; minus those updated less than <see cref="OlderThan"/> ago.
/// </summary>
public sealed record TagDeletionCriteria(Regex? NameRegexDelete, Regex? NameRegexKeep, int? KeepN, TimeSpan? OlderThan, bool LatestNamedExplicitly)
{
    /// <summary>Builds the criteria from the API's parameters.</summary>
    /// <exception cref="TagRuleException">A pattern does not compile, <c>keep_n</c> is negative, <c>older_than</c> is not a duration.</exception>
    public static TagDeletionCriteria Parse(string? nameRegexDelete, string? nameRegexKeep, long? keepN, string? olderThan)
    {
        if (keepN is < 0 or > int.MaxValue) throw new TagRuleException("keep_n is invalid: it must be 0 or more");
        return new TagDeletionCriteria(
            string.IsNullOrEmpty(nameRegexDelete) ? null : TagPatterns.FullMatch(nameRegexDelete, "name_regex_delete"),
            string.IsNullOrEmpty(nameRegexKeep) ? null : TagPatterns.FullMatch(nameRegexKeep, "name_regex_keep"),
            (int?)keepN,
            string.IsNullOrEmpty(olderThan) ? null : TagPatterns.ParseAge(olderThan, "older_than"),
            nameRegexDelete == "latest");
    }

    /// <summary>The names to delete among <paramref name="tags"/> at time <paramref name="now"/>; none when no
    /// <see cref="NameRegexDelete"/> is set.</summary>
    public IReadOnlyList<string> Select(IEnumerable<TagAge> tags, DateTime now)
    {
        if (NameRegexDelete is null) return [];
        var candidates = tags
            .Where(t => TagPatterns.Matches(NameRegexDelete, t.Name))
            .Where(t => NameRegexKeep is null || !TagPatterns.Matches(NameRegexKeep, t.Name))
            .Where(t => LatestNamedExplicitly || t.Name != "latest")
            .OrderByDescending(t => t.UpdatedAt).ThenBy(t => t.Name, StringComparer.Ordinal)
            .ToList();
        if (KeepN is { } n) candidates = candidates.Skip(n).ToList();
        if (OlderThan is { } age)
        {
            var cutoff = now - age;
            candidates = candidates.Where(t => t.UpdatedAt < cutoff).ToList();
        }
        return candidates.Select(t => t.Name).ToList();
    }
}
