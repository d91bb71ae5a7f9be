use super::*;

fn window(kind: &str, schedule: &str, duration: &str) -> SyncWindow {
    SyncWindow {
        kind: kind.into(),
        schedule: schedule.into(),
        duration: duration.into(),
        applications: vec!["*".into()],
        ..Default::default()
    }
}

fn app() -> WindowApp<'static> {
    WindowApp {
        name: "web",
        namespace: "prod",
        cluster: Cluster {
            server: "https://kubernetes.default.svc".into(),
            name: "in-cluster".into(),
        },
    }
}

fn at(t: &str) -> jiff::Timestamp {
    t.parse().expect("a timestamp")
}

#[test]
fn no_matching_window_leaves_syncs_open() {
    let mut w = window("deny", "* * * * *", "1h");
    w.applications = vec!["other-*".into()];
    let v = verdict("p", &[w], &app(), at("2026-03-02T10:00:00Z")).expect("valid");
    assert!(v.automated && v.manual && v.windows.is_empty());
}

#[test]
fn a_deny_window_closes_syncs_while_active_and_says_when_it_ends() {
    let windows = [window("deny", "0 22 * * *", "8h")];
    let inside = verdict("p", &windows, &app(), at("2026-03-02T23:30:00Z")).expect("valid");
    assert!(!inside.automated && !inside.manual);
    assert_eq!(inside.opens_at, Some(at("2026-03-03T06:00:00Z")));
    assert!(inside.closed_by.as_deref().unwrap_or("").contains("deny window \"0 22 * * *\""));
    let outside = verdict("p", &windows, &app(), at("2026-03-02T12:00:00Z")).expect("valid");
    assert!(outside.automated);
    assert_eq!(outside.windows[0].next_start, Some(at("2026-03-02T22:00:00Z")));
}

#[test]
fn allow_windows_are_the_only_times_automated_syncs_run_and_manual_sync_may_pass() {
    let mut w = window("allow", "0 9 * * 1-5", "2h");
    w.manual_sync = true;
    let windows = [w];
    let open = verdict("p", &windows, &app(), at("2026-03-02T10:00:00Z")).expect("a Monday");
    assert!(open.automated);
    let closed = verdict("p", &windows, &app(), at("2026-03-02T12:00:00Z")).expect("valid");
    assert!(!closed.automated && closed.manual);
    assert_eq!(closed.opens_at, Some(at("2026-03-03T09:00:00Z")));
}

#[test]
fn a_deny_window_beats_an_open_allow_window() {
    let windows = [window("allow", "* * * * *", "1h"), window("deny", "0 10 * * *", "1h")];
    let v = verdict("p", &windows, &app(), at("2026-03-02T10:30:00Z")).expect("valid");
    assert!(!v.automated);
    assert_eq!(v.opens_at, Some(at("2026-03-02T11:00:00Z")));
}

#[test]
fn a_schedule_is_read_in_its_time_zone() {
    let mut w = window("deny", "0 22 * * *", "1h");
    w.time_zone = "Europe/Paris".into();
    // 22:30 in Paris (winter, UTC+1) is 21:30 UTC.
    let v = verdict("p", &[w], &app(), at("2026-01-05T21:30:00Z")).expect("valid");
    assert!(!v.automated);
    assert_eq!(v.opens_at, Some(at("2026-01-05T22:00:00Z")));
}

#[test]
fn windows_match_by_namespace_or_cluster_too() {
    let mut by_ns = window("deny", "* * * * *", "1h");
    by_ns.applications.clear();
    by_ns.namespaces = vec!["prod".into()];
    let mut by_cluster = by_ns.clone();
    by_cluster.namespaces.clear();
    by_cluster.clusters = vec!["in-cluster".into()];
    for w in [by_ns, by_cluster] {
        let v = verdict("p", &[w], &app(), at("2026-03-02T10:00:00Z")).expect("valid");
        assert!(!v.automated);
    }
}

#[test]
fn a_window_that_does_not_parse_is_an_error_naming_the_window_and_field() {
    let cases = [
        (window("maybe", "* * * * *", "1h"), "neither allow nor deny"),
        (window("deny", "not a cron", "1h"), "schedule"),
        (window("deny", "* * * * *", "forever"), "duration"),
        (
            SyncWindow { time_zone: "Mars/Olympus".into(), ..window("deny", "* * * * *", "1h") },
            "time zone",
        ),
    ];
    for (w, says) in cases {
        let e = verdict("team-a", &[w], &app(), at("2026-03-02T10:00:00Z")).expect_err("refused");
        let message = e.to_string();
        assert!(message.contains(says) && message.contains("team-a"), "{message}");
    }
}
