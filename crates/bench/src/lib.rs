//! Benchmark scenarios run side by side against kubectl and kpt.
