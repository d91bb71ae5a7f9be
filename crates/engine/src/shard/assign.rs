//! Pure: which shard an app belongs to, and what a replica does with the shard Leases it sees
//! (take free ones, give back its extras). No I/O; [`super::run`] feeds it what it listed.

use std::collections::{BTreeMap, BTreeSet};

/// The label that pins an Application to a shard (`"0"` … `"S-1"`).
pub const SHARD_LABEL: &str = "ferry.dev/shard";

/// Where an app goes, and whether its label was usable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    pub shard: u32,
    /// The `ferry.dev/shard` label that could not be used (the app is placed by its name
    /// instead, and its owner reports it in a condition).
    pub invalid_label: Option<String>,
}

/// The shard of app `namespace/name` among `shards`: the `ferry.dev/shard` label when it names
/// one, otherwise a stable hash of the name (the same on every replica and every release).
pub fn place(namespace: &str, name: &str, label: Option<&str>, shards: u32) -> Placement {
    let shards = shards.max(1);
    let hashed = hash_shard(namespace, name, shards);
    match label {
        None => Placement { shard: hashed, invalid_label: None },
        Some(value) => match value.trim().parse::<u32>() {
            Ok(n) if n < shards => Placement { shard: n, invalid_label: None },
            _ => Placement { shard: hashed, invalid_label: Some(value.to_owned()) },
        },
    }
}

/// FNV-1a (64 bits) of `namespace/name`, modulo `shards`: fixed by its definition, unlike the
/// standard library's hasher, so every replica and every version agrees.
pub fn hash_shard(namespace: &str, name: &str, shards: u32) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in namespace.bytes().chain(std::iter::once(b'/')).chain(name.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash % u64::from(shards.max(1))) as u32
}

/// What a replica sees of the shard Leases and the members at one moment.
#[derive(Clone, Debug, Default)]
pub struct View {
    pub shards: u32,
    /// This replica's identity.
    pub me: String,
    /// Live members (their membership Lease is fresh), this replica included.
    pub members: BTreeSet<String>,
    /// The holder of each shard whose Lease is held and not expired (free shards are absent).
    pub holders: BTreeMap<u32, String>,
}

/// What to do next.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// Free (or expired) shards to try to take.
    pub acquire: Vec<u32>,
    /// Shards to drain and give back.
    pub release: Vec<u32>,
}

/// Each live member holds between ⌊S/m⌋ and ⌈S/m⌉ shards. A replica takes free shards up to
/// ⌈S/m⌉ (only up to ⌊S/m⌋ while another member is below ⌊S/m⌋, so it does not take back what
/// was released for that member) and gives back what is above ⌈S/m⌉, or one above ⌊S/m⌋ while
/// another member is below ⌊S/m⌋. Free shards are tried in an order that differs per replica
/// (rendezvous hashing), so replicas starting together rarely race for the same one.
pub fn decide(view: &View) -> Decision {
    let members = view.members.len().max(1) as u32;
    let (floor, ceil) = (view.shards / members, view.shards.div_ceil(members));
    let mut counts: BTreeMap<&str, u32> = view.members.iter().map(|m| (m.as_str(), 0)).collect();
    for holder in view.holders.values() {
        if let Some(c) = counts.get_mut(holder.as_str()) {
            *c += 1;
        }
    }
    let mine: Vec<u32> =
        view.holders.iter().filter(|(_, h)| **h == view.me).map(|(s, _)| *s).collect();
    let held = mine.len() as u32;
    let starving = counts.iter().any(|(m, c)| *m != view.me && *c < floor);
    let mut keep = held.min(ceil);
    if starving && keep > floor {
        keep -= 1;
    }
    let mut release = mine.clone();
    release.sort_by_key(|s| std::cmp::Reverse(rendezvous(&view.me, *s)));
    release.truncate(held.saturating_sub(keep) as usize);
    let want = if starving { floor } else { ceil };
    let mut free: Vec<u32> = (0..view.shards).filter(|s| !view.holders.contains_key(s)).collect();
    free.sort_by_key(|s| rendezvous(&view.me, *s));
    free.truncate(want.saturating_sub(held) as usize);
    Decision { acquire: free, release }
}

/// A score per (replica, shard): low scores are tried first.
fn rendezvous(me: &str, shard: u32) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in me.bytes().chain(shard.to_le_bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(shards: u32, me: &str, members: &[&str], holders: &[(u32, &str)]) -> View {
        View {
            shards,
            me: me.into(),
            members: members.iter().map(|m| m.to_string()).collect(),
            holders: holders.iter().map(|(s, h)| (*s, h.to_string())).collect(),
        }
    }

    #[test]
    fn the_same_app_lands_in_the_same_shard_on_every_replica() {
        let a = place("team-a", "web", None, 16);
        assert_eq!(a, place("team-a", "web", None, 16));
        assert!(a.shard < 16);
        assert_eq!(hash_shard("team-a", "web", 16), a.shard);
    }

    #[test]
    fn names_spread_over_the_shards() {
        let mut counts = [0u32; 16];
        for i in 0..10_000 {
            counts[place("apps", &format!("app-{i}"), None, 16).shard as usize] += 1;
        }
        assert!(counts.iter().all(|c| (500..750).contains(c)), "{counts:?}");
    }

    #[test]
    fn a_shard_label_pins_the_app_and_a_bad_one_is_reported_and_ignored() {
        assert_eq!(place("a", "b", Some("3"), 16), Placement { shard: 3, invalid_label: None });
        let out_of_range = place("a", "b", Some("16"), 16);
        assert_eq!(out_of_range.invalid_label.as_deref(), Some("16"));
        assert_eq!(out_of_range.shard, hash_shard("a", "b", 16));
        assert_eq!(place("a", "b", Some("x"), 16).invalid_label.as_deref(), Some("x"));
    }

    #[test]
    fn a_lone_replica_takes_every_shard() {
        let d = decide(&view(4, "r1", &["r1"], &[]));
        let mut acquire = d.acquire.clone();
        acquire.sort();
        assert_eq!(acquire, vec![0, 1, 2, 3]);
        assert!(d.release.is_empty());
    }

    #[test]
    fn a_replica_gives_back_its_extras_when_another_joins() {
        let all: Vec<(u32, &str)> = (0..4).map(|s| (s, "r1")).collect();
        let d = decide(&view(4, "r1", &["r1", "r2"], &all));
        assert_eq!(d.release.len(), 2);
        assert!(d.acquire.is_empty());
        let joiner = decide(&view(4, "r2", &["r1", "r2"], &all));
        assert!(joiner.acquire.is_empty(), "nothing is free yet");
    }

    #[test]
    fn the_joiner_takes_what_was_given_back_and_the_others_do_not_take_it_again() {
        let holders = [(0, "r1"), (1, "r1"), (2, "r1"), (3, "r2"), (4, "r2"), (5, "r2")];
        let members = ["r1", "r2", "r3"];
        // 8 shards over 3 members: 2 or 3 each. r3 holds none, so r1 and r2 keep ⌊8/3⌋ = 2.
        let r1 = decide(&view(8, "r1", &members, &holders));
        assert_eq!((r1.release.len(), r1.acquire.len()), (1, 0));
        let r3 = decide(&view(8, "r3", &members, &holders));
        assert_eq!(r3.acquire.len(), 2, "shards 6 and 7 are free");
        let settled = [(0, "r1"), (1, "r1"), (3, "r2"), (4, "r2"), (6, "r3"), (7, "r3")];
        let r1 = decide(&view(8, "r1", &members, &settled));
        assert!(r1.release.is_empty());
        assert_eq!(r1.acquire.len(), 1, "up to ⌈8/3⌉ once nobody is below ⌊8/3⌋");
    }

    #[test]
    fn a_dead_members_shards_are_taken_by_the_survivors() {
        let d = decide(&view(4, "r1", &["r1"], &[(0, "r1"), (1, "r1")]));
        let mut acquire = d.acquire;
        acquire.sort();
        assert_eq!(acquire, vec![2, 3]);
    }
}
