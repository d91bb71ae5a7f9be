//! `IMAGE=NEWREF` arguments: which image to find and what to write.

use std::fmt;
use std::str::FromStr;

use crate::reference::{ImageRef, ReferenceError, normalize_name};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    #[error("{arg:?}: {source}")]
    Reference {
        arg: String,
        #[source]
        source: ReferenceError,
    },
    #[error(
        "{arg:?} says nothing to change: give a tag, a digest or a new name (IMAGE=NAME:TAG, IMAGE=:TAG, IMAGE=@DIGEST)"
    )]
    NothingToChange { arg: String },
    #[error("image {image} is given twice ({first:?} and {second:?})")]
    Duplicate { image: String, first: String, second: String },
}

/// One requested change: every reference to `image` gets the new name, tag and digest.
///
/// The new reference's tag and digest replace the old ones together: `app=app:2` drops an old
/// digest (a stale digest would pin the old image), `app=app@sha256:…` drops the old tag. A new
/// name alone (`app=registry.example.com/app`) keeps the tag and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUpdate {
    /// The argument as given, for messages.
    pub arg: String,
    /// The image to find, as given (`nginx`).
    pub image: String,
    /// `image` normalized (`docker.io/library/nginx`): what sites are compared by.
    pub(crate) normalized: String,
    /// The name to write, when it differs from `image`.
    pub new_name: Option<String>,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageUpdate {
    /// Whether the tag and digest are replaced (as opposed to a rename only).
    pub(crate) fn sets_version(&self) -> bool {
        self.tag.is_some() || self.digest.is_some()
    }

    pub(crate) fn matches(&self, name: &str) -> bool {
        normalize_name(name) == self.normalized
    }

    /// The reference `current` becomes; its name keeps its spelling unless renamed.
    pub(crate) fn apply_to(&self, current: &ImageRef) -> ImageRef {
        let name = self.new_name.clone().unwrap_or_else(|| current.name().to_string());
        if self.sets_version() {
            ImageRef::new(name, self.tag.clone(), self.digest.clone())
        } else {
            ImageRef::new(
                name,
                current.tag().map(str::to_string),
                current.digest().map(str::to_string),
            )
        }
    }

    /// The new reference as a whole, for commit messages.
    pub fn new_reference(&self) -> ImageRef {
        ImageRef::new(
            self.new_name.clone().unwrap_or_else(|| self.image.clone()),
            self.tag.clone(),
            self.digest.clone(),
        )
    }
}

impl fmt::Display for ImageUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arg)
    }
}

impl FromStr for ImageUpdate {
    type Err = UpdateError;

    /// `IMAGE=NEWREF`, `IMAGE=:TAG`, `IMAGE=@DIGEST`, `IMAGE=:TAG@DIGEST`, or just `NEWREF`
    /// (`IMAGE` is then its name).
    fn from_str(arg: &str) -> Result<ImageUpdate, UpdateError> {
        let reference_error = |source| UpdateError::Reference { arg: arg.to_string(), source };
        let (image, new) = match arg.split_once('=') {
            Some((image, new)) => {
                let image = ImageRef::parse_name(image).map_err(reference_error)?;
                let new = if new.starts_with(':') || new.starts_with('@') {
                    // Shorthand: the new tag/digest for the same name.
                    let full =
                        ImageRef::parse(&format!("{image}{new}")).map_err(reference_error)?;
                    ImageRef::new(
                        image.clone(),
                        full.tag().map(str::to_string),
                        full.digest().map(str::to_string),
                    )
                } else {
                    ImageRef::parse(new).map_err(reference_error)?
                };
                (image, new)
            }
            None => {
                let new = ImageRef::parse(arg).map_err(reference_error)?;
                (new.name().to_string(), new)
            }
        };
        let normalized = normalize_name(&image);
        let new_name = (new.normalized_name() != normalized).then(|| new.name().to_string());
        let update = ImageUpdate {
            arg: arg.to_string(),
            image,
            normalized,
            new_name,
            tag: new.tag().map(str::to_string),
            digest: new.digest().map(str::to_string),
        };
        if update.new_name.is_none() && !update.sets_version() {
            return Err(UpdateError::NothingToChange { arg: arg.to_string() });
        }
        Ok(update)
    }
}

/// Parses many arguments and refuses the same image twice (which one would win is a guess).
pub fn parse_updates<S: AsRef<str>>(args: &[S]) -> Result<Vec<ImageUpdate>, UpdateError> {
    let mut updates: Vec<ImageUpdate> = Vec::new();
    for arg in args {
        let update: ImageUpdate = arg.as_ref().parse()?;
        if let Some(first) = updates.iter().find(|u| u.normalized == update.normalized) {
            return Err(UpdateError::Duplicate {
                image: update.image.clone(),
                first: first.arg.clone(),
                second: update.arg.clone(),
            });
        }
        updates.push(update);
    }
    Ok(updates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_argument_forms_all_name_image_and_new_version() {
        let full: ImageUpdate = "nginx=nginx:1.27".parse().expect("valid");
        assert_eq!(
            (full.image.as_str(), full.new_name.as_deref(), full.tag.as_deref()),
            ("nginx", None, Some("1.27"))
        );

        let short: ImageUpdate = "ghcr.io/org/app=:2.0.0".parse().expect("valid");
        assert_eq!(short.tag.as_deref(), Some("2.0.0"));
        assert_eq!(short.new_name, None);

        let bare: ImageUpdate = "ghcr.io/org/app:2.0.0".parse().expect("valid");
        assert_eq!(bare.image, "ghcr.io/org/app");

        let renamed: ImageUpdate = "nginx=registry.example.com/nginx:1.27".parse().expect("valid");
        assert_eq!(renamed.new_name.as_deref(), Some("registry.example.com/nginx"));

        let same_name_other_spelling: ImageUpdate =
            "nginx=docker.io/library/nginx:1.27".parse().expect("valid");
        assert_eq!(same_name_other_spelling.new_name, None);
    }

    #[test]
    fn bad_arguments_are_refused_with_the_argument_named() {
        let error = "nginx=nginx:".parse::<ImageUpdate>().expect_err("bad tag").to_string();
        assert!(error.starts_with("\"nginx=nginx:\""), "{error}");
        assert!(matches!(
            "nginx=nginx".parse::<ImageUpdate>(),
            Err(UpdateError::NothingToChange { .. })
        ));
        assert!(matches!(
            "nginx:1=nginx:2".parse::<ImageUpdate>(),
            Err(UpdateError::Reference { .. })
        ));
        let twice = parse_updates(&["nginx:1", "docker.io/library/nginx:2"]).expect_err("twice");
        assert!(matches!(twice, UpdateError::Duplicate { .. }));
    }

    #[test]
    fn a_new_tag_drops_an_old_digest_but_a_rename_keeps_both() {
        let digest = "sha256:fe18e00a6aeece16b5b2f77a32ee60929e8a60e27c71df8df66bf804f5677f47";
        let current = ImageRef::parse(&format!("nginx:1.25@{digest}")).expect("valid");
        let bump: ImageUpdate = "docker.io/library/nginx=:1.27".parse().expect("valid");
        assert_eq!(bump.apply_to(&current).to_string(), "nginx:1.27");
        let rename: ImageUpdate = "nginx=mirror.example.com/nginx".parse().expect("valid");
        assert_eq!(
            rename.apply_to(&current).to_string(),
            format!("mirror.example.com/nginx:1.25@{digest}")
        );
    }
}
