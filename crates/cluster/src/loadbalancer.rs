//! The load balancer and ingress status writers a k3s cluster ships (ServiceLB and Traefik):
//! `LoadBalancer` Services and Ingresses get the node's address in `status.loadBalancer`, so
//! their health rules pass as on k3s or kind with a cloud provider. Run by the simulator;
//! `ClusterConfig::load_balancers(false)` turns them off (objects then stay Progressing).
//!
//! # Caveats
//! - One address for everything (`ClusterConfig::load_balancer_ip`, the node IP 127.0.0.1 by
//!   default); nothing listens on the ports.

use serde_json::{Value, json};

/// Field manager of the Service load balancer's status writes (k3s's ServiceLB controller).
pub const SERVICE_LB: &str = "service-lb-controller";
/// Field manager of the ingress controller's status writes.
pub const INGRESS: &str = "ingress-controller";

/// The `status` a Service should have, when it differs from what it has.
pub fn service_status(svc: &Value, ip: &str) -> Option<Value> {
    let spec = svc.get("spec")?;
    let is_lb = spec.get("type").and_then(Value::as_str) == Some("LoadBalancer");
    // A Service asking for another load balancer implementation is not ServiceLB's.
    let ours = spec.get("loadBalancerClass").is_none_or(Value::is_null);
    let want = if is_lb && ours {
        let ports: Vec<Value> = spec
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|p| json!({"port": p["port"], "protocol": p.get("protocol").cloned().unwrap_or(json!("TCP"))}))
            .collect();
        json!({"ingress": [{"ip": ip, "ipMode": "VIP", "ports": ports}]})
    } else if is_lb {
        return None;
    } else {
        json!({})
    };
    let have = svc.pointer("/status/loadBalancer").cloned().unwrap_or(json!({}));
    if have == want {
        return None;
    }
    let mut status = svc.get("status").cloned().filter(Value::is_object).unwrap_or(json!({}));
    status["loadBalancer"] = want;
    Some(status)
}

/// The `status` an Ingress should have, when it has no address yet.
pub fn ingress_status(ing: &Value, ip: &str) -> Option<Value> {
    let want = json!({"ingress": [{"ip": ip}]});
    if ing.pointer("/status/loadBalancer") == Some(&want) {
        return None;
    }
    let mut status = ing.get("status").cloned().filter(Value::is_object).unwrap_or(json!({}));
    status["loadBalancer"] = want;
    Some(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_balancer_service_gets_the_address_and_loses_it_when_it_changes_type() {
        let lb = json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}, "status": {"loadBalancer": {}}});
        let status = service_status(&lb, "127.0.0.1").expect("an address is due");
        assert_eq!(status.pointer("/loadBalancer/ingress/0/ip"), Some(&json!("127.0.0.1")));
        assert_eq!(status.pointer("/loadBalancer/ingress/0/ports/0/protocol"), Some(&json!("TCP")));
        let done = json!({"spec": lb["spec"], "status": status});
        assert_eq!(service_status(&done, "127.0.0.1"), None, "nothing to write twice");
        let cluster_ip = json!({"spec": {"type": "ClusterIP"}, "status": done["status"]});
        assert_eq!(service_status(&cluster_ip, "127.0.0.1"), Some(json!({"loadBalancer": {}})));
        let other_class =
            json!({"spec": {"type": "LoadBalancer", "loadBalancerClass": "example.com/lb"}});
        assert_eq!(service_status(&other_class, "127.0.0.1"), None);
    }

    #[test]
    fn an_ingress_gets_the_address_once() {
        let ing = json!({"spec": {"rules": []}});
        let status = ingress_status(&ing, "10.0.0.5").expect("an address is due");
        assert_eq!(status, json!({"loadBalancer": {"ingress": [{"ip": "10.0.0.5"}]}}));
        assert_eq!(ingress_status(&json!({"status": status}), "10.0.0.5"), None);
    }
}
