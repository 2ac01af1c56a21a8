"""The reusable parts of the benchmarks: database, seed, server, load generators, report."""
