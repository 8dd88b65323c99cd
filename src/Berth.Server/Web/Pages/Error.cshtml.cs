namespace Berth.Server.Web.Pages;

/// <summary>The UI's error page, shown for 4xx/5xx answers without a body on UI paths.</summary>
[Microsoft.AspNetCore.Mvc.IgnoreAntiforgeryToken]
public sealed class ErrorModel : WebPage
{
    /// <summary>The status code.</summary>
    public int Code { get; private set; }
    /// <summary>A short heading.</summary>
    public string Heading { get; private set; } = "";
    /// <summary>What it means.</summary>
    public string Explanation { get; private set; } = "";

    /// <summary>GET (and any re-executed method).</summary>
    public void OnGet(int code) => Set(code);

    /// <summary>POST re-executed after an error.</summary>
    public void OnPost(int code) => Set(code);

    private void Set(int code)
    {
        Code = code;
        (Heading, Explanation) = code switch
        {
            400 => ("Bad request", "The form was incomplete or has expired. Go back, reload the page and try again."),
            403 => ("Forbidden", "You do not have the role needed for this. Ask a Maintainer or an administrator of the project."),
            404 => ("Not found", "There is nothing here, or you are not allowed to see it. If it is a private project, sign in first."),
            _ => ("Something went wrong", "The server could not answer this request. Try again; if it keeps happening, tell an administrator."),
        };
        if (code is >= 400 and < 600) Response.StatusCode = code;
    }
}
