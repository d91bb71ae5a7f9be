use super::*;

fn config_maps(n: usize) -> Vec<ObjKey> {
    (0..n)
        .map(|i| ObjKey {
            group: String::new(),
            kind: "ConfigMap".into(),
            namespace: "app".into(),
            name: format!("cm-{i}"),
        })
        .collect()
}

fn apps(n: usize) -> Vec<ObjKey> {
    (0..n)
        .map(|i| ObjKey {
            group: "argoproj.io".into(),
            kind: "Application".into(),
            namespace: "argocd".into(),
            name: format!("child-{i}"),
        })
        .collect()
}

fn input<'a>(guard: Option<&'a PruneGuard>, inventory: usize, prunes: &'a [ObjKey]) -> Input<'a> {
    Input { guard, inventory, declared: inventory - prunes.len(), allow_shrink: true, prunes }
}

#[test]
fn deleting_more_than_ten_objects_and_a_quarter_of_the_app_waits() {
    let prunes = config_maps(15);
    let why = judge(&input(None, 20, &prunes)).expect("held");
    assert!(why.contains("deletes 15 of 20 objects, more than 10 and more than 25%"), "{why}");
}

#[test]
fn many_deletions_from_a_large_app_or_few_from_a_small_one_go_ahead() {
    let eleven = config_maps(11);
    assert_eq!(judge(&input(None, 100, &eleven)), None, "11 of 100 is under 25%");
    let two = config_maps(2);
    assert_eq!(judge(&input(None, 20, &two)), None, "2 is not more than 10");
    assert_eq!(judge(&input(None, 0, &[])), None);
}

#[test]
fn deleting_more_than_one_application_waits() {
    assert_eq!(judge(&input(None, 100, &apps(1))), None);
    let why = judge(&input(None, 100, &apps(2))).expect("held");
    assert!(why.contains("deletes 2 Applications"), "{why}");
}

#[test]
fn the_apps_own_thresholds_replace_the_defaults_and_minus_one_turns_the_guard_off() {
    let prunes = config_maps(15);
    let raised = PruneGuard { max_objects: Some(20), ..Default::default() };
    assert_eq!(judge(&input(Some(&raised), 20, &prunes)), None);
    let off = PruneGuard { max_objects: Some(-1), ..Default::default() };
    assert_eq!(judge(&input(Some(&off), 20, &prunes)), None);
    assert_eq!(judge(&input(Some(&off), 100, &apps(5))), None);
}

#[test]
fn a_sharp_shrink_waits_unless_allowed_or_the_app_set_its_own_thresholds() {
    let prunes = config_maps(3);
    let shrink = Input { declared: 1, allow_shrink: false, ..input(None, 4, &prunes) };
    let why = judge(&shrink).expect("held");
    assert!(why.contains("more than half gone"), "{why}");
    assert_eq!(judge(&Input { allow_shrink: true, ..shrink }), None);
    let own = PruneGuard::default();
    assert_eq!(judge(&Input { guard: Some(&own), ..shrink }), None);
}

#[test]
fn an_approval_covers_exactly_its_revision_and_prune_set() {
    let set = lines(&config_maps(3));
    let status = ApprovalStatus {
        phase: ApprovalPhase::Approved,
        revision: "abc".into(),
        diff: set.clone(),
        ..Default::default()
    };
    assert!(approved(Some(&status), "abc", &set));
    assert!(!approved(Some(&status), "def", &set), "another revision");
    assert!(!approved(Some(&status), "abc", &lines(&config_maps(4))), "another set");
    assert!(!approved(None, "abc", &set));
}
