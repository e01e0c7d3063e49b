"""Tests of pyvirt-bench, the side-by-side benchmarking harness."""
