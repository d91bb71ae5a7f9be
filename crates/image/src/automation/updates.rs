//! From the tags the policies chose to the edits of one write-back (pure).

use crate::update::{ImageUpdate, UpdateError};

use super::crd::LatestRef;

/// A policy's choice: `namespace/name` of the policy and what it chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub policy: String,
    pub latest: LatestRef,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdatesError {
    #[error(
        "ImagePolicy {policy} chose {reference:?}, which is not a valid image reference: {source}"
    )]
    Invalid {
        policy: String,
        reference: String,
        #[source]
        source: Box<UpdateError>,
    },
    #[error(
        "ImagePolicies {first} and {second} choose different images for {image} ({first_ref} and {second_ref}); which one to write is a guess, so nothing was written"
    )]
    Conflict { image: String, first: String, first_ref: String, second: String, second_ref: String },
}

/// One update per image. Two policies agreeing on an image are one update; disagreeing is an
/// error rather than a winner picked by name order.
pub fn updates_for(chosen: &[Chosen]) -> Result<Vec<ImageUpdate>, UpdatesError> {
    let mut out: Vec<(ImageUpdate, &Chosen)> = Vec::new();
    for choice in chosen {
        let reference = choice.latest.reference();
        let arg = format!("{}={reference}", choice.latest.name);
        let update: ImageUpdate = arg.parse().map_err(|source| UpdatesError::Invalid {
            policy: choice.policy.clone(),
            reference: reference.clone(),
            source: Box::new(source),
        })?;
        match out.iter().find(|(other, _)| other.normalized == update.normalized) {
            // The same image however spelled (`nginx`, `docker.io/library/nginx`).
            Some((other, _)) if other.tag == update.tag && other.digest == update.digest => {}
            Some((_, first)) => {
                return Err(UpdatesError::Conflict {
                    image: choice.latest.name.clone(),
                    first: first.policy.clone(),
                    first_ref: first.latest.reference(),
                    second: choice.policy.clone(),
                    second_ref: reference,
                });
            }
            None => out.push((update, choice)),
        }
    }
    Ok(out.into_iter().map(|(update, _)| update).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen(policy: &str, name: &str, tag: &str) -> Chosen {
        Chosen {
            policy: policy.into(),
            latest: LatestRef { name: name.into(), tag: tag.into(), digest: None },
        }
    }

    #[test]
    fn agreeing_policies_make_one_update_and_disagreeing_ones_an_error() {
        let same = updates_for(&[
            chosen("apps/a", "nginx", "1.27"),
            chosen("apps/b", "docker.io/library/nginx", "1.27"),
            chosen("apps/c", "ghcr.io/org/app", "2.0.0"),
        ])
        .expect("agreeing");
        let args: Vec<String> = same.iter().map(|u| u.new_reference().to_string()).collect();
        assert_eq!(args, ["nginx:1.27", "ghcr.io/org/app:2.0.0"]);

        let error =
            updates_for(&[chosen("apps/a", "nginx", "1.27"), chosen("apps/b", "nginx", "1.25")])
                .expect_err("conflict");
        assert!(matches!(error, UpdatesError::Conflict { .. }), "{error}");
    }

    #[test]
    fn a_chosen_tag_that_is_not_a_reference_is_an_error_naming_the_policy() {
        let error = updates_for(&[chosen("apps/a", "nginx", "bad tag!")]).expect_err("invalid");
        assert!(
            error.to_string().starts_with("ImagePolicy apps/a chose \"nginx:bad tag!\""),
            "{error}"
        );
    }
}
