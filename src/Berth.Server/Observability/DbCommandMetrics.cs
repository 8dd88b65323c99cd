using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Berth.Server.Observability;

/// <summary>
/// An EF Core command interceptor that records every metadata database command's latency in
/// <c>berth_db_command_duration_seconds{kind}</c> (<c>reader</c>, <c>non_query</c>, <c>scalar</c>) and its failures in
/// <c>berth_db_command_errors_total{kind}</c>, from EF's own measured duration. Stateless: one instance for every context.
/// </summary>
public sealed class DbCommandMetrics : DbCommandInterceptor
{
    /// <summary>The shared instance.</summary>
    public static readonly DbCommandMetrics Instance = new();

    private DbCommandMetrics() { }

    /// <inheritdoc/>
    public override DbDataReader ReaderExecuted(DbCommand command, CommandExecutedEventData eventData, DbDataReader result)
    { BerthMetrics.DbCommand("reader", eventData.Duration, false); return result; }

    /// <inheritdoc/>
    public override ValueTask<DbDataReader> ReaderExecutedAsync(DbCommand command, CommandExecutedEventData eventData, DbDataReader result, CancellationToken cancellationToken = default)
    { BerthMetrics.DbCommand("reader", eventData.Duration, false); return ValueTask.FromResult(result); }

    /// <inheritdoc/>
    public override int NonQueryExecuted(DbCommand command, CommandExecutedEventData eventData, int result)
    { BerthMetrics.DbCommand("non_query", eventData.Duration, false); return result; }

    /// <inheritdoc/>
    public override ValueTask<int> NonQueryExecutedAsync(DbCommand command, CommandExecutedEventData eventData, int result, CancellationToken cancellationToken = default)
    { BerthMetrics.DbCommand("non_query", eventData.Duration, false); return ValueTask.FromResult(result); }

    /// <inheritdoc/>
    public override object? ScalarExecuted(DbCommand command, CommandExecutedEventData eventData, object? result)
    { BerthMetrics.DbCommand("scalar", eventData.Duration, false); return result; }

    /// <inheritdoc/>
    public override ValueTask<object?> ScalarExecutedAsync(DbCommand command, CommandExecutedEventData eventData, object? result, CancellationToken cancellationToken = default)
    { BerthMetrics.DbCommand("scalar", eventData.Duration, false); return ValueTask.FromResult(result); }

    /// <inheritdoc/>
    public override void CommandFailed(DbCommand command, CommandErrorEventData eventData) =>
        BerthMetrics.DbCommand(Kind(eventData.ExecuteMethod), eventData.Duration, true);

    /// <inheritdoc/>
    public override Task CommandFailedAsync(DbCommand command, CommandErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        BerthMetrics.DbCommand(Kind(eventData.ExecuteMethod), eventData.Duration, true);
        return Task.CompletedTask;
    }

    private static string Kind(DbCommandMethod method) => method switch
    {
        DbCommandMethod.ExecuteReader => "reader",
        DbCommandMethod.ExecuteNonQuery => "non_query",
        _ => "scalar",
    };
}
