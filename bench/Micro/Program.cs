using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Micro -- --filter '*'   (BenchmarkDotNet's own options apply)
// Benchmarks run out of process (BenchmarkDotNet builds a generated project that references Berth.Server); on a
// busy 2-core machine that build can take longer than BenchmarkDotNet's default 2-minute limit, hence 15 minutes.
var config = ManualConfig.Create(DefaultConfig.Instance).WithBuildTimeout(TimeSpan.FromMinutes(15));
BenchmarkSwitcher.FromAssembly(typeof(Berth.Bench.Micro.DigestBenchmarks).Assembly).Run(args, config);
