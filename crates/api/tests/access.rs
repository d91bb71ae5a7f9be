//! Issue 19, API authentication and authorization: tokens by role, the RBAC policy from
//! `ferry-rbac-cm`, OIDC tokens from a local issuer, cross-site and DNS-rebinding refusals, and
//! the audit trail of it all, over real HTTP against the embedded cluster and a running engine.

mod support;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use ferry_api::OidcConfig;
use ferry_api::access::tokens::{self, ApiToken};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use support::*;

const APP: &str = "/api/v1/applications/ferry/guestbook";

/// The world with the API served on a loopback port, the policy and tokens watched.
struct Served {
    world: World,
    base: String,
    addr: SocketAddr,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    watch: tokio::task::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.watch.abort();
    }
}

/// How a test configures the API beyond the address it listens on.
type Configure = Box<dyn FnOnce(ferry_api::ApiStateBuilder) -> ferry_api::ApiStateBuilder>;

async fn serve(configure: Configure) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let options =
        Options { configure: Box::new(move |b| configure(b.listen(addr))), ..Default::default() };
    let world = World::guestbook(options).await;
    let first = world.head();
    world.create_app("guestbook", guestbook_spec(&world.repo_url())).await;
    // Through the cluster: the router's own waits send no Host and no token.
    ferry_testkit::world::World::wait_synced_healthy(&world, "guestbook", &first).await;
    let watch = tokio::spawn(world.state.watch_access(world.client.clone(), "ferry"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(ferry_api::serve(listener, world.state.clone(), async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    let base = format!("http://{addr}");
    Served { world, base, addr, http, stop: Some(stop), watch }
}

impl Served {
    async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        answer(request).await
    }

    async fn post(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body("{}");
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        answer(request).await
    }

    /// Stores a token with `role` as `ferry token create` does, and waits until the API knows it.
    async fn token(&self, name: &str, role: &str, expires: Option<jiff::Timestamp>) -> String {
        let token = tokens::generate().expect("randomness");
        let record = ApiToken {
            name: name.into(),
            role: role.into(),
            hash: tokens::hash(&token),
            expires_at: expires,
            created_at: Some(jiff::Timestamp::now()),
        };
        let secrets: Api<Secret> = Api::namespaced(self.world.client.clone(), "ferry");
        secrets
            .create(&PostParams::default(), &tokens::to_secret(&record, "ferry"))
            .await
            .expect("token Secret");
        self.until(&format!("token {name} known"), || async {
            let (status, body) = self.get("/api/v1/account", Some(&token)).await;
            status != 401 || !body["error"].as_str().is_some_and(|e| e.contains("not known"))
        })
        .await;
        token
    }

    async fn policy(&self, csv: &str, default_role: &str) {
        let cms: Api<ConfigMap> = Api::namespaced(self.world.client.clone(), "ferry");
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "ferry-rbac-cm", "namespace": "ferry"},
            "data": {"policy.csv": csv, "policy.default": default_role}});
        cms.patch("ferry-rbac-cm", &PatchParams::apply("test").force(), &Patch::Apply(cm))
            .await
            .expect("policy ConfigMap");
    }

    async fn until<F: std::future::Future<Output = bool>>(
        &self,
        what: &str,
        check: impl Fn() -> F,
    ) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !check().await {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn answer(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("the API answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_readonly_token_lists_apps_but_gets_403_on_sync_naming_the_permission() {
    let api = serve(Box::new(|b| b.require_auth(true))).await;
    let (status, body) = api.get("/api/v1/applications", None).await;
    assert_eq!(status, 401, "no token, no answer: {body}");
    assert!(body["hint"].as_str().is_some_and(|h| h.contains("ferry token create")), "{body}");

    let readonly = api.token("viewer", "role:readonly", None).await;
    let (status, body) = api.get("/api/v1/applications", Some(&readonly)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"][0]["name"], "guestbook");

    let (status, body) = api.post(&format!("{APP}/sync"), Some(&readonly)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["action"], "sync");
    assert_eq!(body["resource"], "applications");
    assert_eq!(body["object"], "default/ferry/guestbook");
    assert_eq!(body["user"], "token:viewer");
    assert!(body["hint"].as_str().is_some_and(|h| h.contains("ferry-rbac-cm")), "{body}");

    let (_, audit) = api.get("/api/v1/audit?user=token:viewer&action=sync", Some(&readonly)).await;
    let denial = &audit["items"][0];
    assert_eq!(denial["outcome"], "denied", "{audit}");
    assert_eq!(denial["actor"]["address"], "127.0.0.1");
    assert_eq!(denial["app"]["name"], "guestbook");
    assert!(!audit.to_string().contains(&readonly), "a token never appears in the audit trail");
    api.until("the refusal posted as an Event on the app", || async {
        let events: Api<k8s_openapi::api::events::v1::Event> =
            Api::namespaced(api.world.client.clone(), "ferry");
        let list = events.list(&Default::default()).await.expect("events");
        list.items.iter().any(|e| {
            e.reason.as_deref() == Some("Audit")
                && e.type_.as_deref() == Some("Warning")
                && e.note.as_deref().is_some_and(|n| {
                    n.starts_with("token:viewer sync ferry/guestbook from 127.0.0.1: denied")
                })
        })
    })
    .await;

    let (status, _) = api.get("/api/v1/applications", Some("ferry_not-a-token")).await;
    assert_eq!(status, 401);
    let expired =
        api.token("old", "role:admin", Some("2020-01-01T00:00:00Z".parse().unwrap())).await;
    let (status, body) = api.get("/api/v1/applications", Some(&expired)).await;
    assert_eq!(status, 401, "an expired token grants nothing: {body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("token old expired")), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_role_from_ferry_rbac_cm_may_sync_and_a_policy_that_does_not_parse_keeps_the_last_good_one()
 {
    let api = serve(Box::new(|b| b.require_auth(true))).await;
    let dev = api.token("dev", "role:dev", None).await;
    let (status, body) = api.post(&format!("{APP}/sync"), Some(&dev)).await;
    assert_eq!(status, 403, "role:dev grants nothing before the policy names it");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(error.contains("its role role:dev is not defined in the policy"), "{body}");

    api.policy("p, role:dev, applications, *, default/ferry/*, allow\np, role:dev, applications, update, */*, deny\n", "").await;
    api.until("the policy loaded", || async {
        api.post(&format!("{APP}/sync"), Some(&dev)).await.0 == 202
    })
    .await;
    let (status, body) = api.post(&format!("{APP}/suspend"), Some(&dev)).await;
    assert_eq!(status, 403, "deny wins: {body}");
    let (_, can) = api.get("/api/v1/account/can-i?action=sync&resource=applications&object=default/ferry/guestbook", Some(&dev)).await;
    assert_eq!(can["allowed"], true, "{can}");
    let (_, can) = api
        .get(
            "/api/v1/account/can-i?action=sync&resource=applications&object=default/other/x",
            Some(&dev),
        )
        .await;
    assert_eq!(can["allowed"], false, "{can}");

    api.policy("p, role:dev, applications, *, default/*\n", "").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (status, _) = api.post(&format!("{APP}/sync"), Some(&dev)).await;
    assert_eq!(
        status, 202,
        "a policy line that does not parse leaves the last good policy in force"
    );
    let (_, me) = api.get("/api/v1/account", Some(&dev)).await;
    assert_eq!(me["roles"], json!(["role:dev"]), "{me}");
    let problem = me["policyProblem"].as_str().unwrap_or_default();
    assert!(
        problem.contains("ferry-rbac-cm policy.csv line 1") && problem.contains("6 fields"),
        "{me}"
    );
    api.policy("p, role:dev, applications, get, */*, allow\n", "").await;
    api.until("the fixed policy in force", || async {
        api.post(&format!("{APP}/sync"), Some(&dev)).await.0 == 403
    })
    .await;
    let (_, me) = api.get("/api/v1/account", Some(&dev)).await;
    assert!(me.get("policyProblem").is_none(), "{me}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_open_loopback_server_refuses_cross_site_writes_and_foreign_host_names() {
    let api = serve(Box::new(|b| b)).await;
    let (status, body) = api.post(&format!("{APP}/refresh"), None).await;
    assert_eq!(status, 202, "loopback without a token stays open: {body}");

    let url = format!("{}{APP}/sync", api.base);
    let text_plain = api
        .http
        .post(&url)
        .header("content-type", "text/plain")
        .header("origin", "http://evil.example")
        .body("{\"prune\":true}");
    let (status, body) = answer(text_plain).await;
    assert_eq!(status, 403, "a page of another site may not sync: {body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("evil.example")), "{body}");

    let (status, body) =
        answer(api.http.post(&url).header("content-type", "text/plain").body("{}")).await;
    assert_eq!(status, 415, "a write without a token must be JSON: {body}");

    let same_site = api
        .http
        .post(&url)
        .header("content-type", "application/json")
        .header("origin", api.base.clone())
        .body("{}");
    assert_eq!(answer(same_site).await.0, 202, "the UI of this server may sync");

    let rebound = api
        .http
        .get(format!("{}/api/v1/applications", api.base))
        .header("host", format!("rebind.example:{}", api.addr.port()));
    let (status, body) = answer(rebound).await;
    assert_eq!(status, 403, "DNS rebinding: {body}");
    let by_name = api.http.get(format!("http://localhost:{}/api/v1/applications", api.addr.port()));
    assert_eq!(answer(by_name).await.0, 200);
}

/// A local OIDC issuer: discovery and keys served on a loopback port, keys swappable.
struct Issuer {
    url: String,
    keys: Arc<RwLock<Value>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Issuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn testdata(name: &str) -> String {
    let path = format!("{}/tests/testdata/oidc/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn jwk(name: &str) -> Value {
    serde_json::from_str(&testdata(&format!("{name}.jwk.json"))).expect("a JWK")
}

async fn issuer() -> Issuer {
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let keys = Arc::new(RwLock::new(json!({"keys": [jwk("issuer")]})));
    let discovery = json!({"issuer": url, "jwks_uri": format!("{url}/keys")});
    let served = keys.clone();
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { axum::Json(discovery) }),
        )
        .route(
            "/keys",
            get(move || async move { axum::Json(served.read().expect("keys lock").clone()) }),
        );
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("issuer serves");
    });
    Issuer { url, keys, task }
}

fn id_token(key: &str, kid: &str, claims: Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(kid.into());
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(testdata(&format!("{key}.pem")).as_bytes())
        .expect("RSA key");
    jsonwebtoken::encode(&header, &claims, &key).expect("signed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_oidc_token_from_the_issuer_is_accepted_and_forged_foreign_or_expired_ones_are_refused()
{
    let idp = issuer().await;
    let mut config = OidcConfig::new(&idp.url, "ferry");
    config.min_refetch = Duration::ZERO;
    let api = serve(Box::new(move |b| b.oidc(Some(config)))).await;
    api.policy("g, platform-team, role:admin\n", "role:readonly").await;
    let now = jiff::Timestamp::now().as_second();
    let claims = |aud: &str, exp: i64| {
        json!({"iss": idp.url, "aud": aud, "sub": "u-42",
        "email": "ann@example.com", "groups": ["platform-team"], "iat": now, "exp": exp})
    };

    let good = id_token("issuer", "issuer-key", claims("ferry", now + 600));
    api.until("the group mapped to role:admin", || async {
        api.post(&format!("{APP}/refresh"), Some(&good)).await.0 == 202
    })
    .await;
    let (_, me) = api.get("/api/v1/account", Some(&good)).await;
    assert_eq!(me["user"], "ann@example.com", "{me}");
    assert_eq!(me["via"], "oidc");

    let forged = id_token("other", "issuer-key", claims("ferry", now + 600));
    let (status, body) = api.get("/api/v1/applications", Some(&forged)).await;
    assert_eq!(status, 401, "signed by another key: {body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("signature")), "{body}");
    let unknown_kid = id_token("other", "other-key", claims("ferry", now + 600));
    assert_eq!(api.get("/api/v1/applications", Some(&unknown_kid)).await.0, 401);
    let foreign = id_token("issuer", "issuer-key", claims("another-app", now + 600));
    let (status, body) = api.get("/api/v1/applications", Some(&foreign)).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("audience")), "{body}");
    let expired = id_token("issuer", "issuer-key", claims("ferry", now - 3600));
    let (status, body) = api.get("/api/v1/applications", Some(&expired)).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("expired")), "{body}");

    // Key rotation: the issuer now signs with the other key; its new kid makes Ferry refetch.
    *idp.keys.write().unwrap() = json!({"keys": [jwk("other")]});
    let rotated = id_token("other", "other-key", claims("ferry", now + 600));
    let (status, body) = api.get("/api/v1/applications", Some(&rotated)).await;
    assert_eq!(status, 200, "a rotated key is fetched on its first use: {body}");
    let mut readonly = claims("ferry", now + 600);
    readonly["groups"] = json!([]);
    let plain = id_token("other", "other-key", readonly);
    assert_eq!(
        api.post(&format!("{APP}/sync"), Some(&plain)).await.0,
        403,
        "the default role is read-only"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sync_asked_for_through_the_api_is_audited_with_the_user_and_the_commit_author() {
    let api = serve(Box::new(|b| b.require_auth(true))).await;
    let admin = api.token("release-bot", "role:admin", None).await;
    let (status, body) = api.post(&format!("{APP}/sync"), Some(&admin)).await;
    assert_eq!(status, 202, "{body}");
    let mut record = Value::Null;
    api.until("the sync in the audit trail", || async {
        let (_, audit) = api
            .get("/api/v1/audit?app=guestbook&action=sync&user=token:release-bot", Some(&admin))
            .await;
        let found = audit["items"]
            .as_array()
            .and_then(|items| items.iter().find(|r| r["kind"] == "sync").cloned());
        found.is_some()
    })
    .await;
    let (_, audit) = api.get("/api/v1/audit?app=ferry/guestbook&since=10m", Some(&admin)).await;
    for r in audit["items"].as_array().expect("items") {
        if r["kind"] == "sync" && r["sync"]["trigger"]["kind"] == "user" {
            record = r.clone();
        }
    }
    assert_eq!(record["sync"]["trigger"]["user"], "token:release-bot", "{audit}");
    assert_eq!(record["sync"]["commit"]["author"], "Ferry Test <test@ferry.invalid>", "{record}");
    assert_eq!(record["sync"]["revision"], api.world.head().as_str());
    assert_eq!(record["outcome"], "succeeded");
    let request = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|r| r["kind"] == "api" && r["action"] == "sync")
        .expect("the API request too");
    assert_eq!(request["actor"]["user"], "token:release-bot");
    assert_eq!(request["request"]["permission"], "applications sync default/ferry/guestbook");

    let rollback = api
        .http
        .post(format!("{}{APP}/rollback", api.base))
        .bearer_auth(&admin)
        .json(&json!({"id": 1}))
        .send()
        .await
        .expect("the API answers");
    assert_eq!(rollback.status().as_u16(), 202);
    api.until("the rollback's sync in the audit trail", || async {
        let (_, audit) = api.get("/api/v1/audit?app=guestbook&action=sync", Some(&admin)).await;
        audit["items"].as_array().is_some_and(|items| {
            items.iter().any(|r| {
                r["sync"]["trigger"]["kind"] == "rollback"
                    && r["sync"]["trigger"]["user"] == "token:release-bot"
            })
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_secret_value_never_reaches_the_audit_trail_its_log_or_its_events() {
    const CANARY: &str = "canary-7f3a9c-never-shown";
    let dir = tempfile::tempdir().expect("a temporary directory");
    let log = dir.path().join("audit.log");
    let trail = ferry_engine::audit::AuditTrail::with_log(
        100,
        ferry_engine::audit::LogTarget::parse(&log.display().to_string()),
    )
    .expect("log");
    let kit = ferry_testkit::world::Options { audit: Some(trail), ..Default::default() };
    let world = ferry_testkit::world::World::start_with(
        |repo| {
            let secret = format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: {CANARY}\n");
            repo.write("app/secret.yaml", &secret).expect("write the Secret");
        },
        kit,
    )
    .await;
    world
        .create_app("app", ferry_testkit::world::automated_spec(&world.repo_url(), "app", "canary"))
        .await;
    world.wait_synced_healthy("app", &world.head()).await;
    let records = world.engine.audit().query(&Default::default());
    let sync = records.iter().find(|r| r.sync.is_some()).expect("the sync is recorded");
    let changes = &sync.sync.as_ref().expect("sync details").changes;
    assert!(changes.objects.iter().any(|o| o.contains("Secret canary/db")), "{changes:?}");
    let all = serde_json::to_string(&records).expect("serializes");
    assert!(!all.contains(CANARY), "the audit trail holds a Secret value");
    let logged = std::fs::read_to_string(&log).expect("the log is written");
    assert!(logged.contains("Secret canary/db") && !logged.contains(CANARY), "{logged}");
    let events =
        kube::Api::<k8s_openapi::api::events::v1::Event>::namespaced(world.client.clone(), "ferry");
    let notes: Vec<String> = events
        .list(&Default::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter_map(|e| e.note)
        .collect();
    assert!(!notes.is_empty() && notes.iter().all(|n| !n.contains(CANARY)), "{notes:?}");
}
