"""Benchmarks: functions returning measurements, called by the benchmark harness."""
