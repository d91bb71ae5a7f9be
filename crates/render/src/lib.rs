//! Render stage: plain YAML, Kustomize, Helm, Jsonnet into ordered objects with origins.
