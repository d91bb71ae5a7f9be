//! Filters over the audit trail (`GET /api/v1/audit?app=&since=&user=&action=&limit=`).

use super::record::AuditRecord;

/// At most this many records in one answer unless asked for fewer.
pub const DEFAULT_LIMIT: usize = 500;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditQuery {
    /// `name` or `namespace/name`.
    pub app: Option<String>,
    /// Records at or after this time.
    pub since: Option<jiff::Timestamp>,
    pub user: Option<String>,
    pub action: Option<String>,
    pub limit: usize,
}

impl Default for AuditQuery {
    fn default() -> Self {
        Self { app: None, since: None, user: None, action: None, limit: DEFAULT_LIMIT }
    }
}

impl AuditQuery {
    pub fn matches(&self, record: &AuditRecord) -> bool {
        let app_ok = self.app.as_deref().is_none_or(|want| {
            record.app.as_ref().is_some_and(|a| match want.split_once('/') {
                Some((ns, name)) => a.namespace == ns && a.name == name,
                None => a.name == want,
            })
        });
        let since_ok = self
            .since
            .is_none_or(|since| record.time.parse::<jiff::Timestamp>().is_ok_and(|t| t >= since));
        let user_ok = self.user.as_deref().is_none_or(|u| {
            record.actor.user == u
                || record.sync.as_ref().and_then(|s| s.trigger.user.as_deref()) == Some(u)
        });
        let action_ok = self.action.as_deref().is_none_or(|a| record.action == a);
        app_ok && since_ok && user_ok && action_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::record::*;

    fn record(user: &str, action: &str, app: &str, time: &str) -> AuditRecord {
        let actor = Actor { user: user.into(), via: "token".into(), ..Default::default() };
        let mut r = AuditRecord::new(RecordKind::Api, action, actor, Outcome::Allowed);
        r.time = time.into();
        r.app =
            Some(AppRef { namespace: "team".into(), name: app.into(), project: "default".into() });
        r
    }

    #[test]
    fn filters_combine_and_an_app_matches_by_name_or_namespace_and_name() {
        let r = record("alice", "sync", "web", "2026-01-02T10:00:00Z");
        let q = |f: fn(&mut AuditQuery)| {
            let mut q = AuditQuery::default();
            f(&mut q);
            q.matches(&r)
        };
        assert!(q(|q| q.app = Some("web".into())));
        assert!(q(|q| q.app = Some("team/web".into())));
        assert!(!q(|q| q.app = Some("other/web".into())));
        assert!(q(|q| q.since = Some("2026-01-02T09:00:00Z".parse().unwrap())));
        assert!(!q(|q| q.since = Some("2026-01-02T11:00:00Z".parse().unwrap())));
        assert!(!q(|q| {
            q.user = Some("alice".into());
            q.action = Some("rollback".into());
        }));
    }

    #[test]
    fn a_sync_record_matches_the_user_who_asked_for_it() {
        let mut r = record("ferry", "sync", "web", "2026-01-02T10:00:00Z");
        r.sync = Some(SyncDetails {
            trigger: Trigger { kind: "user".into(), user: Some("bob".into()), delivery: None },
            ..Default::default()
        });
        let q = AuditQuery { user: Some("bob".into()), ..Default::default() };
        assert!(q.matches(&r));
    }
}
