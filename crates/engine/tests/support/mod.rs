//! The engine tests' fixtures come from `ferry-testkit`: a repository served by a real
//! `git daemon` on a random loopback port, the embedded cluster and an engine (`World`).

#![allow(dead_code, unused_imports)]

pub use ferry_testkit::world::{
    Options, World, automated_spec, guestbook_spec, is_synced_healthy_at,
};
pub use ferry_testkit::{Repo, corpus};
