//! Output: aligned tables for people, JSON or YAML for machines. Data goes to stdout; hints and
//! progress go to stderr so that `-o json | jq` sees only data.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::error::CliError;

/// `-o`: what `kubectl get -o` and `argocd app … -o` offer.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for people.
    #[default]
    Table,
    /// The table with more columns (messages, drift).
    Wide,
    Json,
    Yaml,
    /// One `kind/name` per line, for scripts (`xargs`).
    Name,
}

impl Format {
    /// JSON or YAML: the data itself rather than a view of it.
    pub fn is_data(self) -> bool {
        matches!(self, Format::Json | Format::Yaml)
    }
}

/// An output error; a closed pipe (`ferry … | head`) is told apart so that it ends quietly.
pub fn io_error(e: std::io::Error) -> CliError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        CliError::BrokenPipe
    } else {
        CliError::Output(e.to_string())
    }
}

/// Writes `value` as pretty JSON or YAML.
pub fn write_data(
    out: &mut dyn Write,
    format: Format,
    value: &impl Serialize,
) -> Result<(), CliError> {
    let text = match format {
        Format::Yaml => {
            serde_saphyr::to_string(value).map_err(|e| CliError::Output(e.to_string()))?
        }
        _ => {
            let mut s =
                serde_json::to_string_pretty(value).map_err(|e| CliError::Output(e.to_string()))?;
            s.push('\n');
            s
        }
    };
    out.write_all(text.as_bytes()).map_err(io_error)?;
    out.flush().map_err(io_error)
}

/// Columns padded to the widest cell; the last column is not padded (no trailing blanks).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = widths[i].saturating_sub(cell.chars().count());
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub fn print(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).map_err(io_error)?;
    out.flush().map_err(io_error)
}

/// A next step for people, on stderr.
pub fn hint(text: &str) {
    eprintln!("hint: {text}");
}

/// A spinner on stderr, drawn only when stderr is a terminal (logs and CI stay clean).
pub fn spinner(message: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    bar.set_style(style);
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// A commit id cut to 7 hex digits, as git shows it (the one rule, in `ferry-source`).
pub use ferry_source::short_revision as short;

/// `value` or `-` when empty, so that columns never collapse.
pub fn or_dash(value: &str) -> String {
    if value.is_empty() { "-".into() } else { value.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_aligns_columns_to_the_widest_cell_without_trailing_blanks() {
        let t = table(
            &["NAME", "SYNC"],
            &[vec!["guestbook".into(), "Synced".into()], vec!["a".into(), "OutOfSync".into()]],
        );
        assert_eq!(t, "NAME       SYNC\nguestbook  Synced\na          OutOfSync\n");
    }

    #[test]
    fn a_full_commit_id_is_shortened_and_anything_else_is_kept() {
        assert_eq!(short("0123456789012345678901234567890123456789"), "0123456");
        assert_eq!(short("main"), "main");
    }
}
