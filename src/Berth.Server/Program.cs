using Berth.Server;
using Microsoft.Extensions.Options;

// berth [serve] [--urls URL] [--data-dir DIR] [--Section:Key value …]
var (verb, hostArgs) = CommandLine.Split(args);
if (verb is "help" or "--help" or "-h")
{
    Console.WriteLine(CommandLine.Usage + "\n" + Berth.Server.Cli.AdminCommands.Usage + "\n" + Berth.Server.Cli.DoctorCommand.Usage);
    return 0;
}
if (verb is "version")
{
    Console.WriteLine($"berth {Berth.Server.Hosting.BerthVersion.Current}");
    return 0;
}
if (verb is "doctor")
{
    return await Berth.Server.Cli.DoctorCommand.RunAsync(hostArgs, Console.Out, Console.Error);
}
if (Berth.Server.Cli.AdminCommands.Handles(verb))
{
    return await Berth.Server.Cli.AdminCommands.RunAsync(verb, hostArgs, Console.In, Console.Out, Console.Error);
}
if (verb is not "serve")
{
    Console.Error.WriteLine($"berth: unknown command '{verb}'.\n\n{CommandLine.Usage}");
    return 2;
}

try
{
    var app = BerthApp.Build(hostArgs);
    await app.RunAsync();
    return 0;
}
catch (OptionsValidationException ex)
{
    Console.Error.WriteLine("berth: configuration error, not starting:");
    foreach (var failure in ex.Failures) Console.Error.WriteLine("  - " + failure);
    return 3;
}

/// <summary>Entry point type, visible to the in-process test host.</summary>
public partial class Program;
