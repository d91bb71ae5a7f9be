//! Commit message templates: plain text with `{images}`, `{changes}` and `{count}`
//! placeholders; `{{` and `}}` are literal braces.
//!
//! - `{images}`: the new references, comma-separated (`ghcr.io/org/app:1.2.0, nginx:1.27`)
//! - `{changes}`: one line per change, `file:line old → new`
//! - `{count}`: how many references changed
//!
//! Simpler than Flux's Go templates (`{{ range .Changed.Changes }}`) on purpose: a CI flag
//! should not need a template language.

use std::fmt::Write as _;

use crate::set::Change;
use crate::update::ImageUpdate;

pub const DEFAULT_TEMPLATE: &str = "Update images: {images}\n\n{changes}\n";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error(
        "commit message template: unknown placeholder {{{name}}} (known: {{images}}, {{changes}}, {{count}}; write {{{{ for a literal brace)"
    )]
    UnknownPlaceholder { name: String },
    #[error(
        "commit message template: a '{{' at byte {at} is never closed (write {{{{ for a literal brace)"
    )]
    Unclosed { at: usize },
    #[error(
        "commit message template: a '}}' at byte {at} has no opening brace (write }}}} for a literal brace)"
    )]
    Unopened { at: usize },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Images,
    Changes,
    Count,
}

/// A validated template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageTemplate {
    parts: Vec<Part>,
}

impl Default for MessageTemplate {
    fn default() -> Self {
        MessageTemplate::parse(DEFAULT_TEMPLATE).expect("the default template is valid")
    }
}

impl MessageTemplate {
    pub fn parse(template: &str) -> Result<MessageTemplate, TemplateError> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut chars = template.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.peek().is_some_and(|(_, next)| *next == '{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek().is_some_and(|(_, next)| *next == '}') => {
                    chars.next();
                    text.push('}');
                }
                '}' => return Err(TemplateError::Unopened { at }),
                '{' => {
                    let rest = &template[at + 1..];
                    let close = rest.find('}').ok_or(TemplateError::Unclosed { at })?;
                    let name = &rest[..close];
                    let part = match name {
                        "images" => Part::Images,
                        "changes" => Part::Changes,
                        "count" => Part::Count,
                        other => {
                            return Err(TemplateError::UnknownPlaceholder {
                                name: other.to_string(),
                            });
                        }
                    };
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(part);
                    // Skip the name and the closing brace.
                    for _ in 0..name.chars().count() + 1 {
                        chars.next();
                    }
                }
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(MessageTemplate { parts })
    }

    /// The message for these changes; files are shown relative to `repo_root` when inside it.
    pub fn render(
        &self,
        updates: &[ImageUpdate],
        changes: &[Change],
        repo_root: &std::path::Path,
    ) -> String {
        let images: Vec<String> =
            updates.iter().map(|update| update.new_reference().to_string()).collect();
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Images => out.push_str(&images.join(", ")),
                Part::Count => {
                    let _ = write!(out, "{}", changes.len());
                }
                Part::Changes => {
                    let lines: Vec<String> = changes
                        .iter()
                        .map(|change| {
                            let file = change.file.strip_prefix(repo_root).unwrap_or(&change.file);
                            format!(
                                "{}:{} {} → {}",
                                file.display(),
                                change.line,
                                change.old,
                                change.new
                            )
                        })
                        .collect();
                    out.push_str(&lines.join("\n"));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn change() -> Change {
        Change {
            file: PathBuf::from("/repo/apps/web.yaml"),
            line: 17,
            old: "nginx:1.25".into(),
            new: "nginx:1.27".into(),
        }
    }

    #[test]
    fn placeholders_are_filled_and_double_braces_are_literal() {
        let template =
            MessageTemplate::parse("chore: {images} ({count}) {{ci}}\n\n{changes}").expect("valid");
        let updates = crate::parse_updates(&["nginx:1.27"]).expect("valid");
        let message = template.render(&updates, &[change()], Path::new("/repo"));
        assert_eq!(
            message,
            "chore: nginx:1.27 (1) {ci}\n\napps/web.yaml:17 nginx:1.25 → nginx:1.27"
        );
    }

    #[test]
    fn unknown_or_unbalanced_placeholders_are_refused() {
        assert_eq!(
            MessageTemplate::parse("{{ range .Changes }}x{tags}"),
            Err(TemplateError::UnknownPlaceholder { name: "tags".into() })
        );
        assert!(matches!(MessageTemplate::parse("x {images"), Err(TemplateError::Unclosed { .. })));
        assert!(matches!(MessageTemplate::parse("x } y"), Err(TemplateError::Unopened { .. })));
    }
}
