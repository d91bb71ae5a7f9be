//! CronJob: suspended, not run yet, or whether the last scheduled run succeeded.

use serde_json::Value;

use crate::object::{at, bool_at, str_at};
use crate::status::Health;

pub(crate) fn health(obj: &Value) -> Health {
    if bool_at(obj, &["spec", "suspend"]) {
        return Health::suspended("the CronJob is suspended");
    }
    let active = at(obj, &["status", "active"]).and_then(Value::as_array).map_or(0, Vec::len);
    let Some(last_schedule) = str_at(obj, &["status", "lastScheduleTime"]) else {
        return Health::healthy("the CronJob has not been scheduled yet");
    };
    let last_success = str_at(obj, &["status", "lastSuccessfulTime"]);
    // The API server writes both times as RFC 3339 in UTC with second precision
    // (`2025-01-01T00:00:00Z`), so string order is time order.
    let last_run_succeeded = last_success.is_some_and(|success| success >= last_schedule);
    if last_run_succeeded {
        return Health::healthy(format!("the last run succeeded at {last_schedule}"));
    }
    if active > 0 {
        // The run scheduled at `last_schedule` is still going: nothing failed yet.
        return Health::healthy(format!("{active} jobs running, scheduled at {last_schedule}"));
    }
    match last_success {
        Some(success) => Health::degraded(format!(
            "the run scheduled at {last_schedule} did not succeed (last success at {success})"
        )),
        None => Health::degraded(format!(
            "the run scheduled at {last_schedule} did not succeed and no run has succeeded yet"
        )),
    }
}
