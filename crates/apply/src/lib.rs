//! Apply stage: ordered server-side apply, hooks, waves, prune by inventory.
