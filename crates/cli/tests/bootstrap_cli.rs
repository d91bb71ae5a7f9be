//! `ferry bootstrap`: Ferry's install and its Application `ferry` are committed and pushed to a
//! real `git daemon`, Ferry is installed into the embedded cluster, and the engine syncs the
//! Application from that repository — Ferry managing itself from Git. A second run finds the
//! repository up to date and makes no commit.

mod support;

use ferry_testkit::world::is_synced_healthy_at;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bootstrap_commits_ferry_to_git_and_the_application_ferry_syncs_it_from_there() {
    let world = World::start(|repo| repo.write("README.md", "apps\n").expect("write")).await;
    let fleet = Repo::init_bare(&world.tmp.path().join("git/fleet.git")).expect("a bare repo");
    let url = world.daemon.url("fleet.git");
    let args = ["bootstrap", "--repo", &url, "--path", "clusters/test", "--replicas", "3"];

    let first = world.ferry(&args).await;
    assert_eq!(first.code, 0, "{first:?}");
    assert!(first.stderr.contains("committed clusters/test/ferry-install.yaml"), "{first:?}");
    let commit = fleet.git(&["rev-parse", "main"]).expect("main exists now");
    let files = fleet.git(&["ls-tree", "-r", "--name-only", "main"]).expect("ls-tree");
    assert_eq!(
        files.lines().collect::<Vec<_>>(),
        ["clusters/test/ferry-application.yaml", "clusters/test/ferry-install.yaml"]
    );
    let install = fleet.git(&["show", "main:clusters/test/ferry-install.yaml"]).expect("show");
    assert!(install.contains("kind: PodDisruptionBudget") && install.contains("replicas: 3"));

    let app = world
        .wait_for("ferry", "Synced+Healthy from the bootstrap commit", |a| {
            is_synced_healthy_at(a, &commit)
        })
        .await;
    assert_eq!(app["spec"]["source"]["repoURL"], url.as_str());
    assert_eq!(app["spec"]["source"]["path"], "clusters/test");
    assert_eq!(app["spec"]["syncPolicy"]["automated"]["prune"], false, "Ferry never prunes itself");
    let managed: Vec<String> = app["status"]["resources"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|r| {
                    format!(
                        "{}/{}",
                        r["kind"].as_str().unwrap_or_default(),
                        r["name"].as_str().unwrap_or_default()
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    for wanted in [
        "Deployment/ferry-controller",
        "Application/ferry",
        "CustomResourceDefinition/applications.ferry.dev",
    ] {
        assert!(managed.iter().any(|m| m == wanted), "Ferry manages {wanted}: {managed:?}");
    }

    let second = world.ferry(&args).await;
    assert_eq!(second.code, 0, "{second:?}");
    assert!(second.stderr.contains("up to date: nothing to commit"), "{second:?}");
    assert_eq!(fleet.git(&["rev-parse", "main"]).expect("rev-parse"), commit, "no empty commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_refuses_a_path_outside_the_repository_and_an_unreachable_repository() {
    let home = tempfile::tempdir().expect("tempdir");
    let bad = ferry_with(
        home.path(),
        &[],
        &["bootstrap", "--repo", "git://127.0.0.1:1/x.git", "--path", "../up"],
    )
    .await;
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("--path \"../up\""), "{bad:?}");
    let unreachable = ferry_with(
        home.path(),
        &[],
        &["bootstrap", "--repo", "git://127.0.0.1:1/x.git", "--path", "p"],
    )
    .await;
    assert_eq!(unreachable.code, 2, "{unreachable:?}");
    assert!(unreachable.stderr.contains("reading git://127.0.0.1:1/x.git"), "{unreachable:?}");
}
