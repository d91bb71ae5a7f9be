//! Files written by the real `sops` decrypt here into what `sops -d` prints, and files written
//! here decrypt with the real `sops`. Keys are made per test (`age-keygen`, `gpg`).

use std::path::{Path, PathBuf};
use std::process::Command;

use ferry_secrets::{EncryptOptions, Format, Keyring, SopsError, decrypt, encrypt};

/// A scratch directory with an age key, and the `sops` binary (or a skip outside CI).
struct Bench {
    dir: tempfile::TempDir,
    identity: String,
    recipient: String,
}

fn tool(name: &str) -> bool {
    let found = Command::new(name).arg("--version").output().is_ok();
    if !found && std::env::var("CI").as_deref() == Ok("true") {
        panic!("{name} is required in CI (see .ci/run's install section)");
    }
    if !found {
        eprintln!("skipping: {name} is not installed");
    }
    found
}

impl Bench {
    fn new() -> Option<Bench> {
        if !tool("sops") {
            return None;
        }
        let (identity, recipient) = ferry_secrets::generate_age();
        Some(Bench { dir: tempfile::tempdir().expect("temp dir"), identity, recipient })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn keyring(&self) -> Keyring {
        let mut ring = Keyring::new();
        ring.add_age(&self.identity, "test identity").expect("a valid identity");
        ring
    }

    /// `sops -e ARGS NAME` on `content` written to NAME; returns the encrypted bytes.
    fn sops_encrypt(&self, name: &str, content: &[u8], args: &[&str]) -> Vec<u8> {
        std::fs::write(self.path(name), content).expect("write plain file");
        let out = Command::new("sops")
            .current_dir(self.dir.path())
            .args(["-e", "--age", &self.recipient])
            .args(args)
            .arg(name)
            .output()
            .expect("run sops");
        assert!(out.status.success(), "sops -e failed: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }

    /// `sops -d ARGS` on `content` written to NAME; returns what sops printed.
    fn sops_decrypt(&self, name: &str, content: &[u8], args: &[&str]) -> Vec<u8> {
        std::fs::write(self.path(name), content).expect("write encrypted file");
        std::fs::write(self.path("key.txt"), &self.identity).expect("write key");
        let out = Command::new("sops")
            .current_dir(self.dir.path())
            .env("SOPS_AGE_KEY_FILE", self.path("key.txt"))
            .arg("-d")
            .args(args)
            .arg(name)
            .output()
            .expect("run sops");
        assert!(out.status.success(), "sops -d failed: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }

    fn ferry_decrypt(
        &self,
        name: &str,
        encrypted: &[u8],
    ) -> Result<ferry_secrets::Decrypted, SopsError> {
        decrypt(Format::from_path(name), encrypted, &self.keyring())
            .map(|d| d.expect("a SOPS file"))
    }
}

fn json_docs(decrypted: &ferry_secrets::Decrypted) -> Vec<serde_json::Value> {
    decrypted.documents.iter().map(|d| d.to_json()).collect()
}

const SECRET_YAML: &str = "\
apiVersion: v1
kind: Secret
metadata:
  name: db
# a comment sops encrypts too
stringData:
  password: hunter2
  port: 5432
  ratio: 1.5
  enabled: true
  empty: \"\"
  nothing: null
  list:
    - a
    - 2
";

#[test]
fn yaml_encrypted_by_sops_decrypts_to_what_sops_prints() {
    let Some(b) = Bench::new() else { return };
    let enc = b.sops_encrypt("s.yaml", SECRET_YAML.as_bytes(), &[]);
    let ours = b.ferry_decrypt("s.yaml", &enc).expect("decrypts");
    let theirs = b.sops_decrypt("s.enc.yaml", &enc, &["--output-type", "json"]);
    let theirs: serde_json::Value = serde_json::from_slice(&theirs).expect("sops prints JSON");
    assert_eq!(json_docs(&ours), vec![theirs]);
    assert_eq!(ours.documents[0].to_json()["stringData"]["port"], 5432);
}

#[test]
fn multi_document_yaml_decrypts_every_document() {
    let Some(b) = Bench::new() else { return };
    let enc = b.sops_encrypt("m.yaml", b"a: 1\n---\nb: x\nc: 1.0\nd: 0x10\n", &[]);
    let ours = b.ferry_decrypt("m.yaml", &enc).expect("decrypts");
    assert_eq!(
        json_docs(&ours),
        vec![serde_json::json!({"a": 1}), serde_json::json!({"b": "x", "c": 1, "d": 16})]
    );
}

#[test]
fn json_with_encrypted_regex_decrypts_and_keeps_clear_values() {
    let Some(b) = Bench::new() else { return };
    let plain = br#"{"metadata":{"name":"n"},"data":{"k":"djE="},"n":3}"#;
    let enc = b.sops_encrypt("s.json", plain, &["--encrypted-regex", "^data$"]);
    assert!(String::from_utf8_lossy(&enc).contains("\"name\": \"n\""), "names stay in clear");
    let ours = b.ferry_decrypt("s.json", &enc).expect("decrypts");
    let expected: serde_json::Value = serde_json::from_slice(plain).expect("valid JSON");
    assert_eq!(json_docs(&ours), vec![expected]);
}

#[test]
fn dotenv_decrypts_to_the_lines_sops_prints() {
    let Some(b) = Bench::new() else { return };
    let plain = b"USER=admin\n# the password\nPASSWORD=s3cr3t words\nMULTI=a\\nb\n";
    let enc = b.sops_encrypt("app.env", plain, &[]);
    let ours = b.ferry_decrypt("app.env", &enc).expect("decrypts");
    assert_eq!(ours.to_bytes().expect("emits"), b.sops_decrypt("app.env", &enc, &[]));
}

#[test]
fn binary_files_decrypt_byte_for_byte() {
    let Some(b) = Bench::new() else { return };
    let plain: Vec<u8> = (0..=255u8).chain(b"tail\n".iter().copied()).collect();
    let enc = b.sops_encrypt("tls.key", &plain, &[]);
    let ours = b.ferry_decrypt("tls.key", &enc).expect("decrypts");
    assert_eq!(ours.to_bytes().expect("emits"), plain);
}

#[test]
fn every_selection_rule_of_sops_is_honoured() {
    let Some(b) = Bench::new() else { return };
    let plain = b"a_enc: 1\nb: two\nc_unencrypted: three\nd:\n  e_enc: true\n";
    for args in [
        &["--encrypted-suffix", "_enc"][..],
        &["--unencrypted-suffix", "_unencrypted"],
        &["--unencrypted-regex", "^b$"],
        &["--encrypted-regex", "^d$"],
        &["--mac-only-encrypted", "--encrypted-regex", "^b$"],
    ] {
        let enc = b.sops_encrypt("r.yaml", plain, args);
        let ours = b.ferry_decrypt("r.yaml", &enc).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let theirs = b.sops_decrypt("r.yaml", &enc, &["--output-type", "json"]);
        let theirs: serde_json::Value = serde_json::from_slice(&theirs).expect("JSON");
        assert_eq!(json_docs(&ours), vec![theirs], "{args:?}");
    }
}

#[test]
fn a_changed_clear_value_fails_the_mac() {
    let Some(b) = Bench::new() else { return };
    let enc = b.sops_encrypt(
        "t.yaml",
        b"name: db\npassword: hunter2\n",
        &["--encrypted-regex", "^password$"],
    );
    let tampered = String::from_utf8(enc).expect("UTF-8").replace("name: db", "name: evil");
    let err = b.ferry_decrypt("t.yaml", tampered.as_bytes()).expect_err("tampered");
    assert!(matches!(err, SopsError::MacMismatch), "{err}");
}

#[test]
fn a_value_moved_to_another_key_or_truncated_is_refused() {
    let Some(b) = Bench::new() else { return };
    let enc = String::from_utf8(b.sops_encrypt("t.yaml", b"a: one\nb: two\n", &[])).expect("UTF-8");
    let lines: Vec<&str> = enc.lines().collect();
    let (a, bv) = (lines[0].trim_start_matches("a: "), lines[1].trim_start_matches("b: "));
    let swapped = enc.replacen(a, "X", 1).replacen(bv, a, 1).replacen("X", bv, 1);
    let err = b.ferry_decrypt("t.yaml", swapped.as_bytes()).expect_err("swapped");
    assert!(matches!(&err, SopsError::Value { path, .. } if path == "a:"), "{err}");
    let truncated = enc.replacen(a, &a[..a.len() - 30], 1);
    let err = b.ferry_decrypt("t.yaml", truncated.as_bytes()).expect_err("truncated");
    assert!(err.to_string().contains("a:"), "{err}");
}

#[test]
fn a_wrong_key_and_no_key_fail_clearly() {
    let Some(b) = Bench::new() else { return };
    let enc = b.sops_encrypt("w.yaml", b"a: 1\n", &[]);
    let (other, _) = ferry_secrets::generate_age();
    let mut ring = Keyring::new();
    ring.add_age(&other, "Secret apps/keys key other.agekey").expect("valid");
    let err = decrypt(Format::Yaml, &enc, &ring).expect_err("wrong key");
    assert!(
        matches!(&err, SopsError::WrongKey { tried: 1, recipients } if recipients == &b.recipient),
        "{err}"
    );
    let err = decrypt(Format::Yaml, &enc, &Keyring::new()).expect_err("no key");
    assert!(matches!(err, SopsError::NoKeys), "{err}");
}

#[test]
fn an_unknown_sops_version_is_refused() {
    let Some(b) = Bench::new() else { return };
    let enc = String::from_utf8(b.sops_encrypt("v.yaml", b"a: 1\n", &[])).expect("UTF-8");
    let future = enc.replace("version: 3.", "version: 9.");
    let err = b.ferry_decrypt("v.yaml", future.as_bytes()).expect_err("unknown version");
    assert!(matches!(err, SopsError::UnknownVersion(_)), "{err}");
}

#[test]
fn plain_files_are_not_sops_files() {
    let ring = Keyring::new();
    assert!(decrypt(Format::Yaml, b"kind: ConfigMap\n", &ring).expect("plain").is_none());
    assert!(decrypt(Format::Binary, b"\x00\x01 \"sops\"", &ring).expect("plain").is_none());
    let dashboard = br#"[{"title": "sops", "panels": []}]"#;
    assert!(
        decrypt(Format::Json, dashboard, &ring).expect("plain").is_none(),
        "a JSON list is plain"
    );
}

#[test]
fn files_ferry_encrypts_decrypt_with_sops() {
    let Some(b) = Bench::new() else { return };
    let opts = EncryptOptions { age: vec![b.recipient.clone()], ..EncryptOptions::default() };
    let cases: [(&str, &[u8]); 4] = [
        ("s.yaml", SECRET_YAML.as_bytes()),
        ("s.json", br#"{"a":{"b":[1,"two",true,2.5]}}"#),
        ("s.env", b"A=1\n#note\nB=two words\n"),
        ("s.bin", b"\x00\xffbinary\n"),
    ];
    for (name, plain) in cases {
        let enc = encrypt(Format::from_path(name), plain, &opts).expect("encrypts");
        let theirs = b.sops_decrypt(name, &enc, &[]);
        let ours = b.ferry_decrypt(name, &enc).expect("decrypts").to_bytes().expect("emits");
        assert_eq!(theirs, ours, "{name}: sops and ferry print the same cleartext");
    }
}

#[test]
fn ferry_honours_encrypted_regex_and_mac_only_encrypted_when_encrypting() {
    let Some(b) = Bench::new() else { return };
    let opts = EncryptOptions {
        age: vec![b.recipient.clone()],
        encrypted_regex: Some("^(data|stringData)$".into()),
        mac_only_encrypted: true,
        ..EncryptOptions::default()
    };
    let enc = encrypt(Format::Yaml, SECRET_YAML.as_bytes(), &opts).expect("encrypts");
    let text = String::from_utf8_lossy(&enc);
    assert!(text.contains("name: db") && !text.contains("hunter2"), "{text}");
    let theirs = b.sops_decrypt("s.yaml", &enc, &["--output-type", "json"]);
    let theirs: serde_json::Value = serde_json::from_slice(&theirs).expect("JSON");
    assert_eq!(theirs["stringData"]["password"], "hunter2");
}

/// A throwaway GnuPG home with one unprotected key; returns (home, fingerprint).
fn gpg_home() -> Option<(tempfile::TempDir, String)> {
    if !tool("gpg") {
        return None;
    }
    let home = tempfile::tempdir().expect("temp dir");
    let gpg = |args: &[&str]| {
        let out = Command::new("gpg")
            .env("GNUPGHOME", home.path())
            .arg("--batch")
            .args(args)
            .output()
            .expect("gpg");
        assert!(out.status.success(), "gpg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    gpg(&[
        "--passphrase",
        "",
        "--quick-gen-key",
        "ferry-test <t@example.invalid>",
        "default",
        "default",
        "never",
    ]);
    let listing = String::from_utf8(gpg(&["--with-colons", "--list-secret-keys"])).expect("UTF-8");
    let fpr = listing.lines().find_map(|l| l.strip_prefix("fpr:")).expect("a fingerprint");
    Some((home, fpr.trim_matches(':').to_owned()))
}

fn gpg_export(home: &Path, args: &[&str]) -> String {
    let out = Command::new("gpg")
        .env("GNUPGHOME", home)
        .args(["--batch", "--armor"])
        .args(args)
        .output()
        .expect("gpg");
    String::from_utf8(out.stdout).expect("armored")
}

#[test]
fn pgp_files_work_both_ways_with_sops() {
    let Some(b) = Bench::new() else { return };
    let Some((home, fpr)) = gpg_home() else { return };
    std::fs::write(b.path("p.yaml"), "password: hunter2\n").expect("write");
    let out = Command::new("sops")
        .current_dir(b.dir.path())
        .env("GNUPGHOME", home.path())
        .args(["-e", "--pgp", &fpr, "p.yaml"])
        .output()
        .expect("sops");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut ring = Keyring::new();
    ring.add_pgp(&gpg_export(home.path(), &["--export-secret-keys"]), "test.asc")
        .expect("a secret key");
    let ours = decrypt(Format::Yaml, &out.stdout, &ring).expect("decrypts").expect("SOPS");
    assert_eq!(ours.documents[0].to_json()["password"], "hunter2");

    let public = gpg_export(home.path(), &["--export", &fpr]);
    let opts = EncryptOptions { pgp: vec![public], ..EncryptOptions::default() };
    let enc = encrypt(Format::Yaml, b"token: abc\n", &opts).expect("encrypts");
    assert!(String::from_utf8_lossy(&enc).contains(&fpr), "the stanza names the fingerprint");
    std::fs::write(b.path("q.yaml"), &enc).expect("write");
    let out = Command::new("sops")
        .current_dir(b.dir.path())
        .env("GNUPGHOME", home.path())
        .args(["-d", "q.yaml"])
        .output()
        .expect("sops");
    assert!(out.status.success(), "sops -d: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "token: abc\n");
}

#[test]
fn an_empty_file_is_refused_rather_than_written_as_one_that_reads_as_plain() {
    let (_, recipient) = ferry_secrets::generate_age();
    let opts = ferry_secrets::EncryptOptions { age: vec![recipient], ..Default::default() };
    for format in [Format::Yaml, Format::Json, Format::Dotenv] {
        match ferry_secrets::encrypt(format, b"", &opts) {
            // YAML and dotenv say there is nothing to encrypt; JSON that an empty file is not JSON.
            Err(e) => assert!(
                e.to_string().contains("no document") || format == Format::Json,
                "{format:?}: {e}"
            ),
            Ok(sealed) => assert!(
                ferry_secrets::is_encrypted(format, &sealed),
                "{format:?}: an encrypted empty file must read back as encrypted"
            ),
        }
    }
}
