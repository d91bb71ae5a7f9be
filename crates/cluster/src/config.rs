//! How to run the cluster: a `Default` struct with builder methods.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Settings for [`crate::Cluster::start`].
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub data_dir: Option<PathBuf>,
    pub listen: SocketAddr,
    pub kubeconfig_path: Option<PathBuf>,
    /// How long simulated controllers take to move status (pods becoming ready, jobs finishing).
    pub simulator_delay: Duration,
    /// Whether the workload simulator runs at all.
    pub simulator: bool,
    /// Images whose reference matches this regex never pull: their pods stay in
    /// `ImagePullBackOff`, Deployments hit their progress deadline, Jobs fail.
    pub unpullable_images: String,
    /// How many recent events watches can resume from; older versions get 410 Gone.
    pub watch_window: usize,
    /// How old those events may get (75 s, as kube-apiserver's watch cache keeps them): the
    /// window holds a minute or two of history, not a tail that grows with every write.
    pub watch_window_age: Duration,
    /// The bearer token clients must send; random when unset (persisted in the data dir).
    pub token: Option<String>,
    /// How often watches that allow bookmarks get one.
    pub bookmark_interval: Duration,
    /// Extra static bearer tokens, a kube-apiserver `--token-auth-file`
    /// (`token,user,uid,"group1,group2"` lines).
    pub token_auth_file: Option<PathBuf>,
    /// Whether `LoadBalancer` Services and Ingresses get an address (k3s's ServiceLB and
    /// Traefik do that); off, they stay without one, as on a cluster with no load balancer.
    /// Needs the simulator.
    pub load_balancers: bool,
    /// The address they get: the node's, like k3s ServiceLB.
    pub load_balancer_ip: IpAddr,
    /// How long an Event is kept after it was last written (kube-apiserver's `--event-ttl`,
    /// one hour by default).
    pub event_ttl: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            data_dir: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            kubeconfig_path: None,
            simulator_delay: Duration::from_millis(300),
            simulator: true,
            unpullable_images: "unpullable".to_string(),
            watch_window: crate::window::WindowLimits::default().events,
            watch_window_age: crate::window::WindowLimits::DEFAULT_AGE,
            token: None,
            bookmark_interval: Duration::from_secs(5),
            token_auth_file: None,
            load_balancers: true,
            load_balancer_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            event_ttl: crate::event_ttl::DEFAULT_EVENT_TTL,
        }
    }
}

impl ClusterConfig {
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    pub fn kubeconfig_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.kubeconfig_path = Some(path.into());
        self
    }

    pub fn event_ttl(mut self, ttl: Duration) -> Self {
        self.event_ttl = ttl;
        self
    }

    pub fn simulator_delay(mut self, delay: Duration) -> Self {
        self.simulator_delay = delay;
        self
    }

    pub fn simulator(mut self, enabled: bool) -> Self {
        self.simulator = enabled;
        self
    }

    pub fn unpullable_images(mut self, regex: impl Into<String>) -> Self {
        self.unpullable_images = regex.into();
        self
    }

    pub fn watch_window(mut self, events: usize) -> Self {
        self.watch_window = events;
        self
    }

    pub fn watch_window_age(mut self, age: Duration) -> Self {
        self.watch_window_age = age;
        self
    }

    pub fn bookmark_interval(mut self, every: Duration) -> Self {
        self.bookmark_interval = every;
        self
    }

    pub fn token_auth_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.token_auth_file = Some(path.into());
        self
    }

    pub fn load_balancers(mut self, enabled: bool) -> Self {
        self.load_balancers = enabled;
        self
    }

    pub fn load_balancer_ip(mut self, ip: IpAddr) -> Self {
        self.load_balancer_ip = ip;
        self
    }

    /// The static admin token (also accepted besides the kubeconfig's client certificate).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }
}
