//! HorizontalPodAutoscaler (autoscaling/v2): its AbleToScale / ScalingActive / ScalingLimited
//! conditions.

use serde_json::Value;

use crate::object::{condition, str_at};
use crate::status::Health;

const V1_CONDITIONS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/conditions";

/// Reasons the HPA controller gives when it cannot do its job; they do not fix themselves
/// without a change (missing metrics server, bad selector, no scale subresource).
const FAILURE_REASONS: &[&str] = &[
    "FailedGetScale",
    "FailedUpdateScale",
    "FailedGetResourceMetric",
    "FailedGetContainerResourceMetric",
    "FailedGetPodsMetric",
    "FailedGetObjectMetric",
    "FailedGetExternalMetric",
    "InvalidSelector",
    "InvalidMetricSourceType",
];

pub(crate) fn health(obj: &Value) -> Health {
    // autoscaling/v1 has no conditions field: the API server carries them in an annotation.
    let from_annotation;
    let obj = match str_at(obj, &["metadata", "annotations", V1_CONDITIONS_ANNOTATION]) {
        Some(annotation) => match serde_json::from_str::<Value>(annotation) {
            Ok(conditions) => {
                from_annotation = serde_json::json!({ "status": { "conditions": conditions } });
                &from_annotation
            }
            Err(error) => {
                return Health::unknown(format!(
                    "annotation {V1_CONDITIONS_ANNOTATION} is not valid JSON: {error}"
                ));
            }
        },
        None => obj,
    };
    for type_ in ["AbleToScale", "ScalingActive"] {
        if let Some(cond) = condition(obj, type_)
            && cond.is_false()
            && FAILURE_REASONS.contains(&cond.reason)
        {
            return Health::degraded(format!(
                "the autoscaler cannot scale: {}",
                cond.explanation()
            ));
        }
    }
    let able = condition(obj, "AbleToScale").is_some_and(|cond| cond.is_true());
    let active = condition(obj, "ScalingActive");
    match active {
        // ScalingDisabled: the target was scaled to zero by hand; the HPA waits on purpose.
        Some(cond) if cond.is_false() && cond.reason == "ScalingDisabled" => {
            Health::suspended(format!("scaling is disabled: {}", cond.explanation()))
        }
        Some(cond) if able && cond.is_true() => {
            let limited = condition(obj, "ScalingLimited")
                .filter(|limited| limited.is_true())
                .map(|limited| format!(" ({})", limited.explanation()))
                .unwrap_or_default();
            Health::healthy(format!("the autoscaler is active{limited}"))
        }
        _ => Health::progressing("waiting for the autoscaler to read metrics and scale"),
    }
}
