//! Diff stage: desired vs live under server-side apply ownership, secrets masked (pure).
