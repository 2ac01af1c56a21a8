"""Load benchmarks of the real app (not tests): see README.md."""
