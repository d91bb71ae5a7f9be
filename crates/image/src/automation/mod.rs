//! Image automation in the cluster: `ImageRepository` scans a registry on an interval,
//! `ImagePolicy` chooses a tag, `ImageUpdateAutomation` writes the chosen images to Git in one
//! commit per repository and branch (see [`crd`]).
//!
//! Entry point: [`start`] with an [`AutomationConfig`]; stop with [`AutomationHandle::shutdown`].
//!
//! ```no_run
//! # async fn run(client: kube::Client) -> Result<(), ferry_image::automation::AutomationError> {
//! use ferry_image::automation::{self, AutomationConfig};
//! let handle = automation::start(client, AutomationConfig::new("/var/lib/ferry/image")).await?;
//! // …
//! handle.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Caveats
//! - A write-back edits what `ferry image set` edits: every reference to a chosen image under
//!   `spec.update.path` (containers, kustomization `images:`, fields with a setter marker). A
//!   Flux marker names a policy, but it is matched by the image of its field, so two policies
//!   choosing different tags for one image in a namespace are refused, not guessed between.
//! - The ImagePolicies of an automation are those of its namespace.

mod choose;
mod controller;
pub mod crd;
mod run;
mod scan;
pub mod secrets;
mod updates;
mod writeback;

pub use controller::{AutomationConfig, AutomationError, AutomationHandle, install_crds, start};
pub use crd::{
    ImagePolicy, ImagePolicySpec, ImagePolicyStatus, ImageRepository, ImageRepositorySpec,
    ImageRepositoryStatus, ImageUpdateAutomation, ImageUpdateAutomationSpec,
    ImageUpdateAutomationStatus, LatestRef, crds,
};
pub use updates::{Chosen, UpdatesError, updates_for};
pub use writeback::WriteBackError;
