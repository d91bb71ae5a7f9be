//! `LoadBalancer` Services and Ingresses get an address as on k3s (ServiceLB, Traefik), and
//! none when the cluster is started without load balancers.

mod common;

use std::time::Duration;

use common::{Kubectl, eventually};

const SERVICE_AND_INGRESS: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: front, namespace: default}
spec:
  type: LoadBalancer
  selector: {app: front}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: front, namespace: default}
spec:
  rules:
  - host: front.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: front, port: {number: 80}}}}
"#;

fn address(k: &Kubectl, kind: &str) -> String {
    k.ok(&[
        "get",
        kind,
        "front",
        "-n",
        "default",
        "-o",
        "jsonpath={.status.loadBalancer.ingress[0].ip}",
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_load_balancer_service_and_an_ingress_get_the_node_address() {
    let cluster = ferry_cluster::testing::start().await;
    let k = Kubectl::new(cluster.kubeconfig_path());
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], SERVICE_AND_INGRESS);
    assert!(eventually(Duration::from_secs(10), || address(&k, "service") == "127.0.0.1"));
    assert!(eventually(Duration::from_secs(10), || address(&k, "ingress") == "127.0.0.1"));
    let table = k.ok(&["get", "service", "front", "-n", "default"]);
    assert!(table.contains("127.0.0.1"), "EXTERNAL-IP shows the address:\n{table}");

    k.ok(&["patch", "service", "front", "-n", "default", "-p", r#"{"spec":{"type":"ClusterIP"}}"#]);
    assert!(
        eventually(Duration::from_secs(10), || address(&k, "service").is_empty()),
        "a Service that is no longer a load balancer loses its address"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_load_balancers_a_service_and_an_ingress_stay_without_an_address() {
    let config = ferry_cluster::testing::fast_config().load_balancers(false);
    let cluster = ferry_cluster::Cluster::start(config).await.expect("the cluster starts");
    let k = Kubectl::new(cluster.kubeconfig_path());
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], SERVICE_AND_INGRESS);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(address(&k, "service"), "");
    assert_eq!(address(&k, "ingress"), "");
}
