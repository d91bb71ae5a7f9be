//! Custom resources validated against their CRD's schema, and built-in kinds against their own
//! rules, the way a real kube-apiserver refuses them, driven through the real `kubectl`.

mod common;

use common::{Kubectl, NAMESPACE_ARGOCD, corpus};

const WIDGET_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget}
  versions:
  - name: v1beta1
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
              color: {type: string, default: blue}
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            x-kubernetes-validations:
            - rule: "self.size <= 10"
              message: "size may be at most 10"
            properties:
              size: {type: integer, minimum: 1}
              color: {type: string, enum: [blue, red], default: red}
          status:
            type: object
            properties:
              ready: {type: boolean}
"#;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn refused(k: &Kubectl, args: &[&str], yaml: &str) -> String {
    let out = k.run_with_stdin(args, Some(yaml));
    assert!(!out.status.success(), "kubectl {args:?} should fail for:\n{yaml}");
    stderr(&out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_application_without_a_repo_url_is_refused_naming_the_field_after_the_argo_cd_crds() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    k.ok_stdin(&["apply", "-f", "-"], NAMESPACE_ARGOCD);
    let install = corpus().join("argo-cd-install/install.yaml");
    let path = install.to_str().expect("UTF-8 path");
    k.ok(&["apply", "--server-side", "-n", "argocd", "-f", path]);
    let bad = r#"
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: bad, namespace: argocd}
spec:
  project: default
  source: {path: guestbook, targetRevision: HEAD}
  destination: {server: "https://kubernetes.default.svc", namespace: guestbook}
"#;
    let err = refused(&k, &["apply", "--server-side", "-f", "-"], bad);
    assert!(
        // kubectl words it from the Status details, as it does for a real server.
        err.contains(r#"The Application "bad" is invalid: spec.source.repoURL: Required value"#),
        "{err}"
    );
    let typo = bad.replace("targetRevision: HEAD", "targetRevison: HEAD, repoURL: https://x");
    let err = refused(&k, &["apply", "--server-side", "-f", "-"], &typo);
    assert!(err.contains(r#"unknown field "spec.source.targetRevison""#), "{err}");
    let none = k.run(&["get", "applications.argoproj.io", "bad", "-n", "argocd"]);
    assert!(!none.status.success(), "nothing half-written for a refused Application");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn schema_defaults_show_in_get_and_each_version_uses_its_own_schema() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    k.ok_stdin(&["apply", "-f", "-"], WIDGET_CRD);
    let v1 = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: a, namespace: default}\nspec: {size: 3}\n";
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], v1);
    let yaml = k.ok(&["get", "widgets.v1.example.com", "a", "-o", "yaml"]);
    assert!(yaml.contains("color: red"), "the v1 default is stored:\n{yaml}");

    let beta = "apiVersion: example.com/v1beta1\nkind: Widget\nmetadata: {name: b, namespace: default}\nspec: {size: 30}\n";
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], beta);
    let got = k.json(&["get", "widgets.v1beta1.example.com", "b"]);
    assert_eq!(got["spec"]["color"], "blue", "the v1beta1 schema's default: {got}");
    let as_v1 = k.json(&["get", "widgets.v1.example.com", "b"]);
    assert_eq!(as_v1["apiVersion"], "example.com/v1", "None conversion changes only apiVersion");
    assert_eq!(as_v1["spec"]["size"], 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn widgets_breaking_types_enums_minimums_and_cel_rules_are_refused_with_the_real_words() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    k.ok_stdin(&["apply", "-f", "-"], WIDGET_CRD);
    let widget = |spec: &str| {
        format!(
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {{name: w, namespace: default}}\nspec: {spec}\n"
        )
    };
    let err = refused(&k, &["create", "-f", "-"], &widget("{size: many}"));
    assert!(
        err.contains(r#"spec.size: Invalid value: "string": spec.size in body must be of type integer: "string""#),
        "{err}"
    );
    let err = refused(&k, &["create", "-f", "-"], &widget("{size: 2, color: green}"));
    assert!(
        err.contains(r#"spec.color: Unsupported value: "green": supported values: "blue", "red""#),
        "{err}"
    );
    let err = refused(&k, &["create", "-f", "-"], &widget("{size: 0}"));
    assert!(err.contains("spec.size in body should be greater than or equal to 1"), "{err}");
    let err = refused(&k, &["create", "-f", "-"], &widget("{size: 11}"));
    assert!(
        err.contains(
            r#"The Widget "w" is invalid: spec: Invalid value: "object": size may be at most 10"#
        ),
        "{err}"
    );
    k.ok_stdin(&["create", "-f", "-"], &widget("{size: 2}"));
    let err = refused(
        &k,
        &["patch", "widgets.example.com", "w", "--type", "merge", "-p", "{\"spec\":{\"size\":12}}"],
        "",
    );
    assert!(err.contains("size may be at most 10"), "a patch is validated too: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crd_whose_cel_rule_does_not_compile_is_refused() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    let broken = WIDGET_CRD.replace("self.size <= 10", "self.size <=");
    let err = refused(&k, &["apply", "-f", "-"], &broken);
    assert!(
        err.contains("x-kubernetes-validations[0].rule: Invalid value"),
        "the rule's field is named: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn built_in_objects_a_real_server_refuses_are_refused() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    let cases = [
        (
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: default}\ndata: {k: 'not base64!'}\n",
            "illegal base64 data",
        ),
        (
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: default}\nstringData: oops\n",
            "Secret.stringData of type map[string]string",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: default}\ndata: {'bad key!': v}\n",
            r#"ConfigMap "c" is invalid: data[bad key!]: Invalid value: "bad key!""#,
        ),
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: default}\n",
            "spec.selector: Required value",
        ),
        (
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default}\nspec: {}\n",
            r#"Pod "p" is invalid: spec.containers: Required value"#,
        ),
    ];
    for (yaml, words) in cases {
        // `--validate=false`: the server's answer, not kubectl's own schema check.
        let err = refused(&k, &["create", "--validate=false", "-f", "-"], yaml);
        assert!(err.contains(words), "expected {words:?} in: {err}");
    }
    let all = k.ok(&["get", "secrets,configmaps,deployments,pods", "-n", "default", "-o", "name"]);
    assert!(!all.contains("/s\n") && !all.contains("/d\n") && !all.contains("/p\n"), "{all}");
}
