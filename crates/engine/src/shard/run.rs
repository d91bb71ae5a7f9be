//! The shard manager: every `renew_every`, heartbeat the membership Lease, list the Leases,
//! renew the shards held, give back drained ones, and take or drain shards as
//! [`assign::decide`] says. Gaining a shard queues its apps; losing one forgets them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ferry_apply::tracking::AppId;
use k8s_openapi::api::coordination::v1::Lease;
use kube::ResourceExt;
use kube::api::Api;
use tokio::time::Instant;

use super::ShardConfig;
use super::assign::{self, View};
use super::lease::{self, LEASE_LABEL};
use crate::controller::Inner;

/// Runs until the engine stops (without sharding: returns at once).
pub(crate) async fn run(inner: Arc<Inner>) {
    let Some(config) = inner.shards.config().cloned() else { return };
    let api: Api<Lease> = Api::namespaced(inner.client.clone(), &config.namespace);
    // Apps gained before the first listing would be missed: their shard's apps are queued
    // from the store when the shard is taken.
    let _ = tokio::time::timeout(inner.config.watch_timeout, inner.apps.wait_until_ready()).await;
    tracing::info!(identity = %config.identity, shards = config.shards, "joining the controller replicas");
    let mut tick = tokio::time::interval(config.renew_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for shard in inner.shards.expired() {
            lose(&inner, shard, "lost", "its Lease was not renewed in time");
        }
        // A round may take up to the validity: past it the shards are dropped anyway.
        match tokio::time::timeout(config.validity(), step(&inner, &api, &config)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot read or write the shard Leases; retrying (the controller needs get/list/create/patch on leases)")
            }
            Err(_) => tracing::warn!("the shard Leases did not answer in time; retrying"),
        }
    }
}

/// One round: heartbeat, renew, give back, rebalance.
async fn step(
    inner: &Arc<Inner>,
    api: &Api<Lease>,
    config: &ShardConfig,
) -> Result<(), kube::Error> {
    let listed = lease::list(api).await?;
    let mut by_name: BTreeMap<String, Lease> =
        listed.iter().map(|l| (l.name_any(), l.clone())).collect();
    let member = lease::member_lease_name(&config.identity);
    let me = &config.identity;
    let ns = config.namespace.as_str();
    lease::hold(api, by_name.get(&member), (ns, &member), "member", me, config.lease_duration)
        .await?;
    let view = view(&listed, config, &inner.shards.held());
    for renewed in renew(inner, api, config, &by_name).await {
        by_name.insert(renewed.name_any(), renewed);
    }
    let decision = assign::decide(&view);
    for shard in decision.release {
        let Some(lease) = by_name.get(&lease::shard_lease_name(shard)) else { continue };
        if !inner.shards.drain(shard) {
            tracing::debug!(shard, "draining before giving the shard back");
            continue;
        }
        if lease::release(api, lease).await? {
            let why =
                format!("{} live replicas share {} shards", view.members.len(), config.shards);
            lose(inner, shard, "released", &why);
        }
    }
    for shard in decision.acquire {
        let name = lease::shard_lease_name(shard);
        let started = Instant::now();
        if lease::hold(api, by_name.get(&name), (ns, &name), "shard", me, config.lease_duration)
            .await?
            .is_some()
        {
            gain(inner, shard, started + config.validity(), &view);
        }
    }
    Ok(())
}

/// What the listing says: live members (this replica always among them) and live holders.
/// A shard whose Lease names this replica but which it does not hold (a restart under the same
/// name) counts as free, so it is taken again at once instead of after the Lease expires.
fn view(listed: &[Lease], config: &ShardConfig, held: &[u32]) -> View {
    let now = jiff::Timestamp::now();
    let mut members = BTreeSet::from([config.identity.clone()]);
    let mut holders = BTreeMap::new();
    for l in listed {
        let Some(holder) = lease::live_holder(l, now) else { continue };
        match l.labels().get(LEASE_LABEL).map(String::as_str) {
            Some("member") => {
                members.insert(holder.to_owned());
            }
            Some("shard") => {
                let shard = lease::shard_of_lease(&l.name_any()).filter(|s| *s < config.shards);
                let stale = |s: &u32| holder == config.identity && !held.contains(s);
                if let Some(shard) = shard.filter(|s| !stale(s)) {
                    holders.insert(shard, holder.to_owned());
                }
            }
            _ => {}
        }
    }
    View { shards: config.shards, me: config.identity.clone(), members, holders }
}

/// Renews every shard held, at once (one round costs one request's time whatever the shards
/// held); a shard whose Lease another replica holds now is lost. Returns the Leases renewed.
async fn renew(
    inner: &Arc<Inner>,
    api: &Api<Lease>,
    config: &ShardConfig,
    by_name: &BTreeMap<String, Lease>,
) -> Vec<Lease> {
    let renewals = inner.shards.held().into_iter().map(|shard| async move {
        let name = lease::shard_lease_name(shard);
        let listed = by_name.get(&name);
        let ours = listed.and_then(|l| l.spec.as_ref()).and_then(|s| s.holder_identity.as_deref())
            == Some(config.identity.as_str());
        if !ours {
            lose(inner, shard, "lost", "its Lease names another holder");
            return None;
        }
        let started = Instant::now();
        let at = (config.namespace.as_str(), name.as_str());
        match lease::hold(api, listed, at, "shard", &config.identity, config.lease_duration).await {
            Ok(Some(renewed)) => {
                inner.shards.renewed(shard, started + config.validity());
                Some(renewed)
            }
            Ok(None) => {
                lose(inner, shard, "lost", "its Lease changed under this replica");
                None
            }
            Err(e) => {
                tracing::warn!(shard, error = %e, "cannot renew the shard's Lease; retrying");
                None
            }
        }
    });
    futures::future::join_all(renewals).await.into_iter().flatten().collect()
}

/// A shard taken: its apps are queued.
fn gain(inner: &Arc<Inner>, shard: u32, valid_until: Instant, view: &View) {
    inner.shards.gained(shard, valid_until);
    let apps = apps_of(inner, shard);
    tracing::info!(
        shard,
        apps = apps.len(),
        members = view.members.len(),
        held = ?inner.shards.held(),
        "took shard: it was free or its holder stopped renewing"
    );
    for id in apps {
        inner.trigger(&id, |r| r.resync = true);
    }
}

/// A shard given back or lost: its apps leave the queue and the in-memory state.
fn lose(inner: &Arc<Inner>, shard: u32, change: &str, why: &str) {
    inner.shards.dropped(shard, change);
    let apps = apps_of(inner, shard);
    tracing::info!(shard, apps = apps.len(), held = ?inner.shards.held(), "{change} shard: {why}");
    let mut memory = inner.memory.lock().unwrap_or_else(|p| p.into_inner());
    for id in &apps {
        inner.queue.forget(id);
        memory.remove(id);
        inner.renders.forget(&id.owner());
    }
}

fn apps_of(inner: &Inner, shard: u32) -> Vec<AppId> {
    inner
        .apps
        .state()
        .iter()
        .map(|a| AppId::new(a.namespace().unwrap_or_default(), a.name_any()))
        .filter(|id| inner.shards.shard_of(&inner.apps, id) == shard)
        .collect()
}
