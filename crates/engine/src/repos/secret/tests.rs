use std::collections::BTreeMap;

use super::*;
use crate::settings::LABEL_ARGOCD;

fn secret(ty: &str, pairs: &[(&str, &str)]) -> Secret {
    let mut s = Secret::default();
    s.metadata.name = Some("repo-1".into());
    s.metadata.namespace = Some("ferry".into());
    s.metadata.labels = Some(BTreeMap::from([(LABEL_ARGOCD.to_string(), ty.to_string())]));
    s.string_data = Some(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
    s
}

fn parse(ty: &str, pairs: &[(&str, &str)]) -> Result<RepoSecret, SecretError> {
    RepoSecret::parse(&secret(ty, pairs)).expect("a repository type")
}

#[test]
fn argo_cds_repository_secret_reads_as_basic_auth_with_its_options() {
    let s = parse(
        "repository",
        &[
            ("url", "https://git.example.com/org/app.git"),
            ("username", "alice"),
            ("password", "hunter2"),
            ("insecure", "true"),
            ("proxy", "http://proxy:3128"),
        ],
    )
    .unwrap();
    assert_eq!(s.kind, Kind::Repository);
    assert_eq!(s.name, "ferry/repo-1");
    assert!(s.insecure);
    assert_eq!(s.proxy.as_ref().map(Hidden::expose), Some("http://proxy:3128"));
    assert!(matches!(s.auth, Auth::Basic { username: Some(ref u), .. } if u == "alice"));
}

#[test]
fn a_repo_creds_secret_is_a_template_and_a_cluster_secret_is_not_a_repository() {
    let s = parse("repo-creds", &[("url", "git@github.com:org"), ("sshPrivateKey", KEY)]).unwrap();
    assert_eq!(s.kind, Kind::Template);
    assert!(matches!(s.auth, Auth::Ssh { .. }));
    assert!(RepoSecret::parse(&secret("cluster", &[("name", "x")])).is_none());
}

const KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----";

#[test]
fn bad_secrets_name_the_secret_and_the_key_but_never_a_value() {
    let cases: Vec<(&[(&str, &str)], &str)> = vec![
        (&[("password", "hunter2")], "no `url` key"),
        (
            &[("url", "https://h/r"), ("password", "hunter2"), ("sshPrivateKey", KEY)],
            "`password` and `sshPrivateKey`",
        ),
        (&[("url", "https://h/r"), ("insecure", "hunter2")], "key `insecure`"),
        (&[("url", "https://h/r"), ("username", "alice")], "key `password` is missing"),
        (&[("url", "https://h/r"), ("sshPrivateKey", "hunter2")], "key `sshPrivateKey`"),
        (
            &[("url", "https://h/r"), ("githubAppID", "12"), ("githubAppPrivateKey", KEY)],
            "key `githubAppInstallationID`",
        ),
        (
            &[("url", "https://h/r"), ("githubAppID", "hunter2")],
            "key `githubAppID` is not a number",
        ),
    ];
    for (pairs, expected) in cases {
        let message = parse("repository", pairs).unwrap_err().to_string();
        assert!(message.contains("Secret ferry/repo-1"), "{message}");
        assert!(message.contains(expected), "{message} should say {expected}");
        assert!(!message.contains("hunter2") && !message.contains("b3Blbn"), "{message}");
    }
}

#[test]
fn a_github_app_defaults_to_api_github_com_and_takes_an_enterprise_base() {
    let app = |extra: &[(&str, &str)]| {
        let mut pairs = vec![
            ("url", "https://github.com/org/app"),
            ("githubAppID", "12"),
            ("githubAppInstallationID", "34"),
            (
                "githubAppPrivateKey",
                "-----BEGIN RSA PRIVATE KEY-----\nx\n-----END RSA PRIVATE KEY-----",
            ),
        ];
        pairs.extend_from_slice(extra);
        match parse("repository", &pairs).unwrap().auth {
            Auth::GithubApp(a) => a,
            other => panic!("{other:?}"),
        }
    };
    let public = app(&[]);
    assert_eq!((public.app_id, public.installation_id), (12, 34));
    assert_eq!(public.base_url, "https://api.github.com");
    let enterprise = app(&[("githubAppEnterpriseBaseUrl", "https://ghe.example.com/api/v3/")]);
    assert_eq!(enterprise.base_url, "https://ghe.example.com/api/v3");
}
