//! Prometheus text format 0.0.4 from prometheus-client's OpenMetrics output.
//!
//! prometheus-client writes OpenMetrics, where a counter family `x` has samples `x_total` and
//! `# HELP x`. Prometheus reads that when it asks for it, but `promtool check metrics`, `curl`
//! users and older scrapers read the classic text format, where metadata is named after the
//! sample (`# HELP x_total`) and there is no `# EOF`. `/metrics` serves OpenMetrics to clients that
//! ask for it (`Accept: application/openmetrics-text`) and this conversion to everyone else.

use std::collections::HashMap;

/// Rewrites an OpenMetrics exposition as Prometheus text format 0.0.4.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    // Family name -> its type, from the `# TYPE` lines (they precede the samples).
    let mut types: HashMap<&str, &str> = HashMap::new();
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ")
            && let Some((name, kind)) = rest.split_once(' ')
        {
            types.insert(name, kind.trim());
        }
    }
    let renamed = |name: &str| -> String {
        match types.get(name).copied() {
            Some("counter") => format!("{name}_total"),
            Some("info") => format!("{name}_info"),
            _ => name.to_owned(),
        }
    };
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            out.push_str(&format!("# HELP {} {help}\n", renamed(name)));
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "unknown"));
            let kind = match kind.trim() {
                "info" | "stateset" => "gauge",
                "unknown" => "untyped",
                "gaugehistogram" => "histogram",
                other => other,
            };
            out.push_str(&format!("# TYPE {} {kind}\n", renamed(name)));
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        // Counters' `_created` samples have no place in the classic format.
        let sample_name = line.split(['{', ' ']).next().unwrap_or_default();
        if let Some(family) = sample_name.strip_suffix("_created")
            && types.get(family) == Some(&"counter")
        {
            continue;
        }
        // Exemplars (` # {...}`) neither.
        let line = line.split_once(" # {").map_or(line, |(sample, _)| sample);
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_metadata_is_named_after_the_total_sample_and_eof_is_dropped() {
        let om = "# HELP ferry_heals Syncs started to undo drift.\n# TYPE ferry_heals counter\nferry_heals_total 3\n\
                  ferry_heals_created 1700000000.0\n# HELP up Up.\n# TYPE up gauge\nup 1\n# EOF\n";
        assert_eq!(
            to_prometheus_text(om),
            "# HELP ferry_heals_total Syncs started to undo drift.\n# TYPE ferry_heals_total counter\nferry_heals_total 3\n\
             # HELP up Up.\n# TYPE up gauge\nup 1\n"
        );
    }

    #[test]
    fn histograms_keep_their_family_name_and_exemplars_are_removed() {
        let om = "# HELP d Time.\n# TYPE d histogram\n# UNIT d seconds\nd_bucket{le=\"+Inf\"} 1 # {trace=\"x\"} 0.5\nd_sum 0.5\nd_count 1\n# EOF\n";
        assert_eq!(
            to_prometheus_text(om),
            "# HELP d Time.\n# TYPE d histogram\nd_bucket{le=\"+Inf\"} 1\nd_sum 0.5\nd_count 1\n"
        );
    }

    #[test]
    fn info_metrics_become_gauges_named_info() {
        let om = "# HELP build Build.\n# TYPE build info\nbuild_info{version=\"1\"} 1\n# EOF\n";
        assert_eq!(
            to_prometheus_text(om),
            "# HELP build_info Build.\n# TYPE build_info gauge\nbuild_info{version=\"1\"} 1\n"
        );
    }
}
