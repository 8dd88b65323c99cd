namespace Berth.Server.Web;

/// <summary>
/// A confirmation asked on the server, for browsers without script (with script, a dialog asks before the
/// form is sent with <c>confirmed=yes</c>): the page shows this panel with a form that repeats the request.
/// </summary>
/// <param name="Title">Heading.</param>
/// <param name="Message">What will happen.</param>
/// <param name="Handler">The page handler to post to.</param>
/// <param name="Fields">The hidden fields to post again (name, value), repeated names allowed.</param>
/// <param name="Button">Text of the confirming button.</param>
/// <param name="CancelHref">Where Cancel goes.</param>
public sealed record Confirmation(string Title, string Message, string Handler, IReadOnlyList<KeyValuePair<string, string>> Fields, string Button, string CancelHref);
