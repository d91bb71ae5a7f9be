//! The shard and membership Leases (`coordination.k8s.io/v1`) in Ferry's namespace: listed in
//! one request, taken and renewed with the listed `resourceVersion` as a precondition (two
//! replicas racing for one Lease conflict instead of both winning), given back by clearing the
//! holder.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

/// Label on every Lease of the sharding protocol: `shard` or `member`.
pub const LEASE_LABEL: &str = "ferry.dev/controller-lease";

/// The Lease of shard `n`.
pub fn shard_lease_name(n: u32) -> String {
    format!("ferry-controller-shard-{n}")
}

/// The membership (heartbeat) Lease of a replica: its identity made a valid object name.
pub fn member_lease_name(identity: &str) -> String {
    let clean: String = identity
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '-' })
        .collect();
    let clean = clean.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let mut name = format!("ferry-controller-member-{clean}");
    name.truncate(253);
    name
}

/// The shard number of a shard Lease's name.
pub fn shard_of_lease(name: &str) -> Option<u32> {
    name.strip_prefix("ferry-controller-shard-")?.parse().ok()
}

/// Whether the Lease has a holder whose last renewal is within its duration at `now`.
pub fn live_holder(lease: &Lease, now: jiff::Timestamp) -> Option<&str> {
    let spec = lease.spec.as_ref()?;
    let holder = spec.holder_identity.as_deref().filter(|h| !h.is_empty())?;
    let duration_ms = i64::from(spec.lease_duration_seconds.unwrap_or(15).max(1)) * 1000;
    let renewed = spec.renew_time.as_ref()?.0.as_millisecond();
    (now.as_millisecond() - renewed <= duration_ms).then_some(holder)
}

/// Every Lease of the protocol, in one request.
pub async fn list(api: &Api<Lease>) -> Result<Vec<Lease>, kube::Error> {
    Ok(api.list(&ListParams::default().labels(LEASE_LABEL)).await?.items)
}

/// Takes or renews the Lease `name` for `identity`, given what was listed of it (`None`: it
/// does not exist); returns the Lease as written (its new `resourceVersion` is the next
/// write's precondition). `None` when another replica changed it since (a lost race, or the
/// Lease was taken over).
pub async fn hold(
    api: &Api<Lease>,
    listed: Option<&Lease>,
    (namespace, name): (&str, &str),
    kind: &str,
    identity: &str,
    duration: Duration,
) -> Result<Option<Lease>, kube::Error> {
    let micro = MicroTime(jiff::Timestamp::now());
    let seconds = duration.as_secs_f64().ceil().max(1.0) as i64;
    let Some(lease) = listed else {
        let lease: Lease = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": namespace, "labels": {LEASE_LABEL: kind}},
            "spec": {"holderIdentity": identity, "leaseDurationSeconds": seconds,
                     "acquireTime": micro, "renewTime": micro, "leaseTransitions": 0}
        }))
        .expect("a Lease literal is valid");
        return conflict_is_none(api.create(&PostParams::default(), &lease).await);
    };
    let spec = lease.spec.clone().unwrap_or_default();
    let taking = spec.holder_identity.as_deref() != Some(identity);
    let mut patch = json!({
        "metadata": {"resourceVersion": lease.metadata.resource_version},
        "spec": {"holderIdentity": identity, "leaseDurationSeconds": seconds, "renewTime": micro}
    });
    if taking {
        patch["spec"]["acquireTime"] = json!(micro);
        patch["spec"]["leaseTransitions"] = json!(spec.lease_transitions.unwrap_or(0) + 1);
    }
    conflict_is_none(api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await)
}

/// Gives the Lease back (no holder), unless another replica changed it since it was listed.
pub async fn release(api: &Api<Lease>, lease: &Lease) -> Result<bool, kube::Error> {
    let name = lease.metadata.name.clone().unwrap_or_default();
    let patch = json!({
        "metadata": {"resourceVersion": lease.metadata.resource_version},
        "spec": {"holderIdentity": null}
    });
    let released =
        conflict_is_none(api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await)?;
    Ok(released.is_some())
}

fn conflict_is_none(result: Result<Lease, kube::Error>) -> Result<Option<Lease>, kube::Error> {
    match result {
        Ok(lease) => Ok(Some(lease)),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(holder: &str, seconds: i32, renewed_ms_ago: i64) -> Lease {
        let renewed = jiff::Timestamp::from_millisecond(1_000_000 - renewed_ms_ago).expect("time");
        serde_json::from_value(json!({
            "metadata": {"name": "x"},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": seconds, "renewTime": MicroTime(renewed)}
        }))
        .expect("lease")
    }

    #[test]
    fn a_lease_is_held_until_its_duration_has_passed_since_the_last_renewal() {
        let now = jiff::Timestamp::from_millisecond(1_000_000).expect("time");
        assert_eq!(live_holder(&lease("r1", 2, 1_900), now), Some("r1"));
        assert_eq!(live_holder(&lease("r1", 2, 2_100), now), None);
        assert_eq!(live_holder(&lease("", 2, 0), now), None, "given back");
    }

    #[test]
    fn member_lease_names_are_valid_object_names_whatever_the_identity() {
        assert_eq!(member_lease_name("Ferry_Pod#1"), "ferry-controller-member-ferry-pod-1");
        assert_eq!(shard_of_lease(&shard_lease_name(7)), Some(7));
        assert_eq!(shard_of_lease("ferry-controller"), None);
    }
}
