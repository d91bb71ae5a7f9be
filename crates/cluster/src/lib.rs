//! Embedded Kubernetes-compatible API server for local runs, tests and benchmarks.
