"""Developer tools that are neither tests nor benchmarks: the mutation run's type check and its report."""
