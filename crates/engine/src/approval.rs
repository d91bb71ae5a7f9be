//! Approvals: a new revision of an app that needs one is rendered and diffed, then waits until
//! someone approves exactly that revision. The approval request is an annotation (as sync
//! requests are) whose value names the revision and the approver as the request carried them
//! (the API's user, or the CLI's Kubernetes user). Who may approve is decided where the request
//! enters: the API's authorization and Kubernetes RBAC on patching the Application. The rules
//! here are pure.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Annotation asking to approve a revision; its value is a JSON [`ApprovalRequest`]. Each
/// distinct value is acted on once and copied to `status.handledRequests.approve`.
pub const ANNOTATION_APPROVE: &str = "ferry.dev/approve-requested";

/// `spec.syncPolicy.approval`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalPolicy {
    #[serde(default)]
    pub required: bool,
    /// Whether the author of a commit (by email) may approve it.
    #[serde(default)]
    pub allow_self_approval: bool,
}

impl ApprovalPolicy {
    /// The stricter of two policies: required when either requires, self-approval allowed only
    /// when every policy that requires approval allows it.
    pub fn stricter(self, other: ApprovalPolicy) -> ApprovalPolicy {
        let allow = |p: &ApprovalPolicy| !p.required || p.allow_self_approval;
        let required = self.required || other.required;
        ApprovalPolicy { required, allow_self_approval: required && allow(&self) && allow(&other) }
    }
}

/// The parsed value of [`ANNOTATION_APPROVE`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRequest {
    /// The commit approved (full, or a prefix of at least 7 characters).
    pub revision: String,
    /// Who approves, as the request carried it.
    pub approver: String,
    #[serde(default)]
    pub at: String,
}

impl ApprovalRequest {
    pub fn new(revision: impl Into<String>, approver: impl Into<String>) -> Self {
        Self {
            revision: revision.into(),
            approver: approver.into(),
            at: jiff::Timestamp::now().to_string(),
        }
    }

    /// Reads the annotation; a value that is not such a JSON object is refused with a reason.
    pub fn parse(raw: &str) -> Result<Self, ApprovalError> {
        serde_json::from_str(raw).map_err(|e| ApprovalError::Malformed { message: e.to_string() })
    }

    pub fn annotation_value(&self) -> String {
        serde_json::to_string(self).expect("three strings serialize")
    }
}

/// Where an approval stands (`status.approval`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalStatus {
    /// `AwaitingApproval` or `Approved`.
    pub phase: ApprovalPhase,
    /// The commit awaiting (or given) approval.
    pub revision: String,
    /// The commit's author (`Name <email>`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    /// What the revision would change, one line per object (Secret values never shown).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diff: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub requested_at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub approved_by: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub approved_at: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ApprovalPhase {
    #[default]
    AwaitingApproval,
    Approved,
}

/// Why an approval request was not taken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalError {
    #[error(
        "the approval request does not parse ({message}); it must be JSON {{\"revision\": SHA, \"approver\": NAME}}"
    )]
    Malformed { message: String },
    #[error("the approval request names no approver")]
    NoApprover,
    #[error("no revision awaits approval")]
    NothingAwaiting,
    #[error(
        "the approval is for {asked}, but the revision awaiting approval is {awaiting}; an approval of one revision never approves another"
    )]
    WrongRevision { asked: String, awaiting: String },
    #[error(
        "{approver} wrote {revision} and may not approve it (allowSelfApproval is false); someone else must approve"
    )]
    SelfApproval { approver: String, revision: String },
}

/// Whether `request` approves what `status` says is awaiting, under `policy`.
pub fn judge(
    request: &ApprovalRequest,
    status: Option<&ApprovalStatus>,
    author_email: &str,
    policy: &ApprovalPolicy,
) -> Result<(), ApprovalError> {
    let approver = request.approver.trim();
    if approver.is_empty() {
        return Err(ApprovalError::NoApprover);
    }
    let Some(awaiting) = status.filter(|s| s.phase == ApprovalPhase::AwaitingApproval) else {
        return Err(ApprovalError::NothingAwaiting);
    };
    let asked = request.revision.trim();
    if asked.len() < 7 || !awaiting.revision.starts_with(asked) {
        return Err(ApprovalError::WrongRevision {
            asked: asked.to_owned(),
            awaiting: awaiting.revision.clone(),
        });
    }
    let same_person =
        |who: &str| !author_email.is_empty() && who.eq_ignore_ascii_case(author_email);
    if !policy.allow_self_approval && same_person(approver) {
        return Err(ApprovalError::SelfApproval {
            approver: approver.to_owned(),
            revision: awaiting.revision.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REV: &str = "0123456789abcdef0123456789abcdef01234567";

    fn awaiting() -> ApprovalStatus {
        ApprovalStatus { revision: REV.into(), ..Default::default() }
    }

    fn strict() -> ApprovalPolicy {
        ApprovalPolicy { required: true, allow_self_approval: false }
    }

    #[test]
    fn an_approval_of_the_awaiting_revision_by_someone_else_is_taken() {
        let r = ApprovalRequest::new(&REV[..7], "lead@example.org");
        assert_eq!(judge(&r, Some(&awaiting()), "dev@example.org", &strict()), Ok(()));
    }

    #[test]
    fn an_approval_is_refused_with_a_reason_in_each_case() {
        let cases: Vec<(ApprovalRequest, Option<ApprovalStatus>, &str)> = vec![
            (ApprovalRequest::new(REV, " "), Some(awaiting()), "names no approver"),
            (ApprovalRequest::new(REV, "lead"), None, "no revision awaits"),
            (
                ApprovalRequest::new("fedcba9876", "lead"),
                Some(awaiting()),
                "never approves another",
            ),
            (ApprovalRequest::new("0123", "lead"), Some(awaiting()), "never approves another"),
            (ApprovalRequest::new(REV, "DEV@example.org"), Some(awaiting()), "may not approve it"),
        ];
        for (request, status, says) in cases {
            let e = judge(&request, status.as_ref(), "dev@example.org", &strict())
                .expect_err("refused");
            assert!(e.to_string().contains(says), "{request:?}: {e}");
        }
    }

    #[test]
    fn an_author_may_approve_their_own_commit_when_self_approval_is_allowed() {
        let policy = ApprovalPolicy { required: true, allow_self_approval: true };
        let r = ApprovalRequest::new(REV, "dev@example.org");
        assert_eq!(judge(&r, Some(&awaiting()), "dev@example.org", &policy), Ok(()));
    }

    #[test]
    fn the_stricter_policy_of_app_and_project_wins() {
        let none = ApprovalPolicy::default();
        let lax = ApprovalPolicy { required: true, allow_self_approval: true };
        assert_eq!(none.clone().stricter(lax.clone()), lax);
        assert_eq!(lax.clone().stricter(strict()), strict());
        assert_eq!(none.clone().stricter(none.clone()), none);
    }

    #[test]
    fn a_request_that_is_not_json_is_refused_not_taken_as_empty() {
        assert!(matches!(ApprovalRequest::parse("yes"), Err(ApprovalError::Malformed { .. })));
        let r = ApprovalRequest::new(REV, "lead");
        assert_eq!(ApprovalRequest::parse(&r.annotation_value()), Ok(r));
    }
}
