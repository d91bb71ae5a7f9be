//! Health stage: per-kind health rules and CEL custom checks (pure).
