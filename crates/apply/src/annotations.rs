//! Per-object sync annotations: Ferry's own beside Argo CD's, Helm's hook annotations and Flux's
//! prune/ssa annotations, read into one validated [`ObjectOptions`] so the plan never looks at raw
//! annotation strings.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::object::annotation;

pub const FERRY_WAVE: &str = "ferry.dev/sync-wave";
pub const ARGO_WAVE: &str = "argocd.argoproj.io/sync-wave";
pub const FERRY_HOOK: &str = "ferry.dev/hook";
pub const ARGO_HOOK: &str = "argocd.argoproj.io/hook";
pub const HELM_HOOK: &str = "helm.sh/hook";
pub const HELM_HOOK_WEIGHT: &str = "helm.sh/hook-weight";
pub const FERRY_HOOK_DELETE: &str = "ferry.dev/hook-delete-policy";
pub const ARGO_HOOK_DELETE: &str = "argocd.argoproj.io/hook-delete-policy";
pub const HELM_HOOK_DELETE: &str = "helm.sh/hook-delete-policy";
pub const FERRY_SYNC_OPTIONS: &str = "ferry.dev/sync-options";
pub const ARGO_SYNC_OPTIONS: &str = "argocd.argoproj.io/sync-options";
pub const ARGO_COMPARE_OPTIONS: &str = "argocd.argoproj.io/compare-options";
pub const FERRY_PRUNE: &str = "ferry.dev/prune";
pub const FLUX_PRUNE: &str = "kustomize.toolkit.fluxcd.io/prune";
pub const FLUX_SSA: &str = "kustomize.toolkit.fluxcd.io/ssa";
pub const FLUX_FORCE: &str = "kustomize.toolkit.fluxcd.io/force";

/// The phase a hook runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum HookPhase {
    PreSync,
    Sync,
    PostSync,
    SyncFail,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DeletePolicy {
    HookSucceeded,
    HookFailed,
    BeforeHookCreation,
}

/// What an object is to a sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// A normal resource: applied, tracked, drift-checked, pruned when gone from Git.
    Resource,
    /// A hook: created fresh in each of its phases, never tracked or pruned.
    Hook { phases: Vec<HookPhase>, delete: Vec<DeletePolicy> },
    /// Rendered but not applied (Argo `hook: Skip`, Helm `test` hooks and delete/rollback hooks).
    Skip { reason: String },
}

/// How the server-side apply of one object behaves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ApplyMode {
    /// Server-side apply (the default).
    #[default]
    Apply,
    /// Create only when missing; never update (Flux `ssa: IfNotPresent`).
    IfNotPresent,
    /// Never applied (Flux `ssa: Ignore`).
    Ignore,
    /// Delete and recreate on change (Argo `Replace=true`).
    Replace,
}

/// Everything the annotations of one object say about its sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectOptions {
    pub wave: i64,
    pub role: Role,
    pub prune: bool,
    pub prune_last: bool,
    pub mode: ApplyMode,
    /// Take over fields from other managers (Argo `Force=true`, Flux `force: enabled`).
    pub force: bool,
    /// Never delete, even when the app is deleted with cascade (Argo `Delete=false`).
    pub delete: bool,
    /// Skip the dry-run / discovery check when the kind is not known yet (Argo option of the same name).
    pub skip_dry_run_on_missing_resource: bool,
    /// Extraneous objects with this mark do not make the app OutOfSync (Argo `IgnoreExtraneous`).
    pub ignore_extraneous: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum AnnotationError {
    #[error(
        "annotation {key}: {value:?} is not a whole number (sync waves are integers, e.g. \"-1\" or \"5\")"
    )]
    BadWave { key: &'static str, value: String },
    #[error(
        "annotation {key}: unknown hook {value:?}; use PreSync, Sync, PostSync, SyncFail or Skip"
    )]
    BadHook { key: &'static str, value: String },
    #[error(
        "annotation {key}: unknown delete policy {value:?}; use HookSucceeded, HookFailed or BeforeHookCreation"
    )]
    BadDeletePolicy { key: &'static str, value: String },
}

impl ObjectOptions {
    /// Reads the options of `obj`. Ferry's own annotations win over Argo CD's, which win over Helm's.
    pub fn of(obj: &Value) -> Result<Self, AnnotationError> {
        let role = role(obj)?;
        let wave = match first(obj, &[FERRY_WAVE, ARGO_WAVE]) {
            Some((key, v)) => parse_wave(key, v)?,
            // Helm's hook weight orders hooks the way a wave does.
            None if matches!(role, Role::Hook { .. }) => match annotation(obj, HELM_HOOK_WEIGHT) {
                Some(v) => parse_wave(HELM_HOOK_WEIGHT, v)?,
                None => 0,
            },
            None => 0,
        };
        let mut opts = Self {
            wave,
            role,
            prune: true,
            prune_last: false,
            mode: ApplyMode::Apply,
            force: false,
            delete: true,
            skip_dry_run_on_missing_resource: false,
            ignore_extraneous: false,
        };
        for key in [ARGO_SYNC_OPTIONS, FERRY_SYNC_OPTIONS] {
            for (name, value) in options_list(annotation(obj, key)) {
                opts.set_sync_option(&name, &value);
            }
        }
        for (name, _) in options_list(annotation(obj, ARGO_COMPARE_OPTIONS)) {
            if name == "IgnoreExtraneous" {
                opts.ignore_extraneous = true;
            }
        }
        if [FERRY_PRUNE, FLUX_PRUNE]
            .iter()
            .any(|k| annotation(obj, k).is_some_and(|v| v.eq_ignore_ascii_case("disabled")))
        {
            opts.prune = false;
        }
        match annotation(obj, FLUX_SSA).map(str::to_ascii_lowercase).as_deref() {
            Some("ifnotpresent") => opts.mode = ApplyMode::IfNotPresent,
            Some("ignore") => opts.mode = ApplyMode::Ignore,
            _ => {}
        }
        if annotation(obj, FLUX_FORCE).is_some_and(|v| v.eq_ignore_ascii_case("enabled")) {
            opts.force = true;
        }
        Ok(opts)
    }

    fn set_sync_option(&mut self, name: &str, value: &str) {
        let on = value.eq_ignore_ascii_case("true");
        match name {
            "Prune" => self.prune = on,
            "PruneLast" => self.prune_last = on,
            "Replace" if on => self.mode = ApplyMode::Replace,
            "Force" => self.force = on,
            "Delete" => self.delete = on,
            "SkipDryRunOnMissingResource" => self.skip_dry_run_on_missing_resource = on,
            // Accepted and ignored: Ferry always applies server-side and validates on the server.
            _ => {}
        }
    }
}

/// `A=true,B=false` (Argo's format; spaces tolerated) → pairs. A bare `A` means `A=true`.
pub fn options_list(raw: Option<&str>) -> Vec<(String, String)> {
    raw.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| match item.split_once('=') {
            Some((k, v)) => (k.trim().to_owned(), v.trim().to_owned()),
            None => (item.to_owned(), "true".to_owned()),
        })
        .collect()
}

fn first<'a>(obj: &'a Value, keys: &[&'static str]) -> Option<(&'static str, &'a str)> {
    keys.iter().find_map(|k| annotation(obj, k).map(|v| (*k, v)))
}

fn parse_wave(key: &'static str, value: &str) -> Result<i64, AnnotationError> {
    value.trim().parse().map_err(|_| AnnotationError::BadWave { key, value: value.to_owned() })
}

fn role(obj: &Value) -> Result<Role, AnnotationError> {
    if let Some((key, raw)) = first(obj, &[FERRY_HOOK, ARGO_HOOK]) {
        let mut phases = Vec::new();
        for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match item {
                "PreSync" => phases.push(HookPhase::PreSync),
                "Sync" => phases.push(HookPhase::Sync),
                "PostSync" => phases.push(HookPhase::PostSync),
                "SyncFail" => phases.push(HookPhase::SyncFail),
                "Skip" => return Ok(Role::Skip { reason: format!("annotated {key}: Skip") }),
                // Runs when the app is deleted; a sync never runs it.
                "PostDelete" => {
                    return Ok(Role::Skip {
                        reason: "a PostDelete hook runs only when the app is deleted".into(),
                    });
                }
                other => return Err(AnnotationError::BadHook { key, value: other.to_owned() }),
            }
        }
        let delete = delete_policies(obj, &[FERRY_HOOK_DELETE, ARGO_HOOK_DELETE])?;
        return Ok(Role::Hook { phases, delete });
    }
    if let Some(raw) = annotation(obj, HELM_HOOK) {
        return Ok(helm_role(obj, raw));
    }
    Ok(Role::Resource)
}

/// Helm hooks mapped the way `helm install`/`upgrade` would run them in a sync.
fn helm_role(obj: &Value, raw: &str) -> Role {
    let mut phases = Vec::new();
    for item in raw.split(',').map(str::trim) {
        match item {
            "pre-install" | "pre-upgrade" | "crd-install" => phases.push(HookPhase::PreSync),
            "post-install" | "post-upgrade" => phases.push(HookPhase::PostSync),
            _ => {}
        }
    }
    phases.sort();
    phases.dedup();
    if phases.is_empty() {
        return Role::Skip {
            reason: format!("Helm hook {raw:?} does not run on install or upgrade"),
        };
    }
    let delete = annotation(obj, HELM_HOOK_DELETE)
        .unwrap_or("before-hook-creation")
        .split(',')
        .filter_map(|p| match p.trim() {
            "hook-succeeded" => Some(DeletePolicy::HookSucceeded),
            "hook-failed" => Some(DeletePolicy::HookFailed),
            "before-hook-creation" => Some(DeletePolicy::BeforeHookCreation),
            _ => None,
        })
        .collect();
    Role::Hook { phases, delete }
}

fn delete_policies(
    obj: &Value,
    keys: &[&'static str],
) -> Result<Vec<DeletePolicy>, AnnotationError> {
    let Some((key, raw)) = first(obj, keys) else { return Ok(Vec::new()) };
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|p| match p {
            "HookSucceeded" => Ok(DeletePolicy::HookSucceeded),
            "HookFailed" => Ok(DeletePolicy::HookFailed),
            "BeforeHookCreation" => Ok(DeletePolicy::BeforeHookCreation),
            other => Err(AnnotationError::BadDeletePolicy { key, value: other.to_owned() }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with(annotations: Value) -> Value {
        json!({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j","annotations":annotations}})
    }

    #[test]
    fn argo_waves_and_hooks_are_read() {
        let o = ObjectOptions::of(&with(json!({
            "argocd.argoproj.io/sync-wave": "-2",
            "argocd.argoproj.io/hook": "PreSync",
            "argocd.argoproj.io/hook-delete-policy": "HookSucceeded,BeforeHookCreation"
        })))
        .unwrap();
        assert_eq!(o.wave, -2);
        assert_eq!(
            o.role,
            Role::Hook {
                phases: vec![HookPhase::PreSync],
                delete: vec![DeletePolicy::HookSucceeded, DeletePolicy::BeforeHookCreation]
            }
        );
    }

    #[test]
    fn ferry_annotations_win_over_argo_ones() {
        let o = ObjectOptions::of(&with(
            json!({"argocd.argoproj.io/sync-wave": "1", "ferry.dev/sync-wave": "3"}),
        ))
        .unwrap();
        assert_eq!(o.wave, 3);
    }

    #[test]
    fn helm_test_hooks_are_skipped_and_install_hooks_run_around_the_sync() {
        let o = ObjectOptions::of(&with(json!({"helm.sh/hook": "test"}))).unwrap();
        assert!(matches!(o.role, Role::Skip { .. }));
        let o = ObjectOptions::of(&with(
            json!({"helm.sh/hook": "pre-install,pre-upgrade", "helm.sh/hook-weight": "-5"}),
        ))
        .unwrap();
        assert_eq!(
            o.role,
            Role::Hook {
                phases: vec![HookPhase::PreSync],
                delete: vec![DeletePolicy::BeforeHookCreation]
            }
        );
        assert_eq!(o.wave, -5);
    }

    #[test]
    fn prune_can_be_disabled_the_argo_flux_or_ferry_way() {
        for a in [
            json!({"argocd.argoproj.io/sync-options": "Prune=false"}),
            json!({"kustomize.toolkit.fluxcd.io/prune": "disabled"}),
            json!({"ferry.dev/prune": "disabled"}),
        ] {
            assert!(!ObjectOptions::of(&with(a.clone())).unwrap().prune, "{a}");
        }
        assert!(ObjectOptions::of(&with(json!({}))).unwrap().prune);
    }

    #[test]
    fn a_bad_wave_is_an_error_naming_the_annotation() {
        let err =
            ObjectOptions::of(&with(json!({"argocd.argoproj.io/sync-wave": "soon"}))).unwrap_err();
        assert!(err.to_string().contains("argocd.argoproj.io/sync-wave"), "{err}");
        assert!(err.to_string().contains("soon"), "{err}");
    }

    #[test]
    fn flux_ssa_if_not_present_creates_only() {
        let o =
            ObjectOptions::of(&with(json!({"kustomize.toolkit.fluxcd.io/ssa": "IfNotPresent"})))
                .unwrap();
        assert_eq!(o.mode, ApplyMode::IfNotPresent);
    }
}
