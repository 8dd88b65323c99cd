using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Micro -- --filter '*'   (BenchmarkDotNet's own options apply)
BenchmarkSwitcher.FromAssembly(typeof(Berth.Bench.Micro.DigestBenchmarks).Assembly).Run(args);
