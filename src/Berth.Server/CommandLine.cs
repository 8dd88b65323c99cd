namespace Berth.Server;

/// <summary>Splits <c>berth &lt;verb&gt; [options]</c> into the verb and the host's configuration arguments.</summary>
internal static class CommandLine
{
    public const string Usage = """
        Usage: berth [serve] [options]
               berth user|token <subcommand> … [options]
               berth doctor [options]

        Commands:
          serve                 run the registry (default)
          user, token           admin commands (below); they use the same configuration as serve
          doctor                checks configuration, database, clocks and every storage operation

        Options:
          --urls <urls>         listen addresses (default http://127.0.0.1:5000)
          --data-dir <dir>      data folder for the embedded SQLite database and blob files (default ./data)
          --tls-self-signed     serve HTTPS with a CA and certificate made in <data-dir>/tls (default address
                                https://127.0.0.1:5443); prints the commands that make clients trust it
          --version             print the version and exit
          --<Section>:<Key> <v> any configuration key, e.g. --Storage:Type FileSystem

        Configuration is also read from appsettings.json and BERTH_-prefixed environment variables
        (BERTH_Storage__Type=FileSystem, BERTH_DataDir=/var/lib/berth).
        """;

    public static (string Verb, string[] HostArgs) Split(string[] args)
    {
        string verb = "serve";
        var rest = new List<string>(args.Length);
        for (int i = 0; i < args.Length; i++)
        {
            var a = args[i];
            if (i == 0 && !a.StartsWith('-')) { verb = a; continue; }
            if (a == "--data-dir") { rest.Add("--DataDir"); continue; }
            if (a.StartsWith("--data-dir=", StringComparison.Ordinal)) { rest.Add("--DataDir=" + a["--data-dir=".Length..]); continue; }
            if (a is "-h" or "--help") { verb = "help"; continue; }
            if (a is "--version" or "-V") { verb = "version"; continue; }
            if (a == "--tls-self-signed") { rest.Add("--Tls:SelfSigned=true"); continue; }
            rest.Add(a);
        }
        return (verb, rest.ToArray());
    }
}
