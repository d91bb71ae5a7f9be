//! A YAML document as a tree of nodes that remember where they are in the source (byte range,
//! line, column) so edits can splice exactly the bytes of one scalar.
//!
//! Built from the events of `granit-parser` (the parser under serde-saphyr), which reports byte
//! offsets and scalar styles. Comments are not in the tree: setter markers are read from the
//! source text right after a scalar (see `sites`).

use granit_parser::{Event, Parser, ScalarStyle};

/// Deepest nesting accepted; deeper input is refused rather than risking the stack.
const MAX_DEPTH: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct YamlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    /// `|` or `>`: never edited in place.
    Block,
}

#[derive(Debug)]
pub(crate) struct Node {
    /// Byte range in the source; for quoted scalars it includes the quotes.
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// 1-based line and 0-based column of `start`.
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) kind: Kind,
}

#[derive(Debug)]
pub(crate) enum Kind {
    Scalar {
        value: String,
        style: Style,
    },
    Mapping {
        entries: Vec<(Node, Node)>,
        flow: bool,
    },
    Sequence {
        items: Vec<Node>,
        flow: bool,
    },
    /// `*name`: edits never go through aliases.
    Alias,
}

impl Node {
    pub(crate) fn as_scalar(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    fn is_empty_scalar(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { value, style: Style::Plain } if value.is_empty() || value == "~")
    }

    pub(crate) fn entries(&self) -> &[(Node, Node)] {
        match &self.kind {
            Kind::Mapping { entries, .. } => entries,
            _ => &[],
        }
    }

    pub(crate) fn items(&self) -> &[Node] {
        match &self.kind {
            Kind::Sequence { items, .. } => items,
            _ => &[],
        }
    }

    /// The value of a key in a mapping.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        self.entries().iter().find(|(k, _)| k.as_scalar() == Some(key)).map(|(_, value)| value)
    }

    pub(crate) fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Node::as_scalar)
    }

    pub(crate) fn is_flow(&self) -> bool {
        matches!(self.kind, Kind::Mapping { flow: true, .. } | Kind::Sequence { flow: true, .. })
    }
}

enum Frame {
    Mapping {
        start: (usize, usize, usize),
        flow: bool,
        pending_key: Option<Node>,
        entries: Vec<(Node, Node)>,
    },
    Sequence {
        start: (usize, usize, usize),
        flow: bool,
        items: Vec<Node>,
    },
}

/// Parses every document of a stream; an empty document yields no node.
pub(crate) fn parse_documents(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut documents = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|error| YamlError {
            line: error.marker().line(),
            column: error.marker().col() + 1,
            message: error.info().to_string(),
        })?;
        let start = span.start.byte_offset().unwrap_or(0);
        let end = span.end.byte_offset().unwrap_or(start);
        let position = (start, span.start.line(), span.start.col());
        let finished = match event {
            Event::Scalar(value, style, _, _) => Some(Node {
                start,
                end,
                line: span.start.line(),
                column: span.start.col(),
                kind: Kind::Scalar {
                    value: value.into_owned(),
                    style: match style {
                        ScalarStyle::Plain => Style::Plain,
                        ScalarStyle::SingleQuoted => Style::SingleQuoted,
                        ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
                        _ => Style::Block,
                    },
                },
            }),
            Event::Alias(_) | Event::UnresolvedAlias(_) => Some(Node {
                start,
                end,
                line: span.start.line(),
                column: span.start.col(),
                kind: Kind::Alias,
            }),
            Event::MappingStart(style, _, _) => {
                push(
                    &mut stack,
                    &span,
                    Frame::Mapping {
                        start: position,
                        flow: style == granit_parser::StructureStyle::Flow,
                        pending_key: None,
                        entries: Vec::new(),
                    },
                )?;
                None
            }
            Event::SequenceStart(style, _, _) => {
                push(
                    &mut stack,
                    &span,
                    Frame::Sequence {
                        start: position,
                        flow: style == granit_parser::StructureStyle::Flow,
                        items: Vec::new(),
                    },
                )?;
                None
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let frame = stack.pop().ok_or_else(|| YamlError {
                    line: span.start.line(),
                    column: span.start.col() + 1,
                    message: "a collection ends that never started".to_string(),
                })?;
                Some(close(frame, end))
            }
            Event::DocumentEnd => {
                // An empty document (a trailing `---`) is an empty plain scalar: nothing there.
                documents.extend(root.take().filter(|node| !node.is_empty_scalar()));
                None
            }
            _ => None,
        };
        if let Some(node) = finished {
            match stack.last_mut() {
                Some(Frame::Mapping { pending_key, entries, .. }) => match pending_key.take() {
                    Some(key) => entries.push((key, node)),
                    None => *pending_key = Some(node),
                },
                Some(Frame::Sequence { items, .. }) => items.push(node),
                None => root = Some(node),
            }
        }
    }
    documents.extend(root.filter(|node| !node.is_empty_scalar()));
    Ok(documents)
}

fn push(stack: &mut Vec<Frame>, span: &granit_parser::Span, frame: Frame) -> Result<(), YamlError> {
    if stack.len() >= MAX_DEPTH {
        return Err(YamlError {
            line: span.start.line(),
            column: span.start.col() + 1,
            message: format!("nesting deeper than {MAX_DEPTH} levels"),
        });
    }
    stack.push(frame);
    Ok(())
}

fn close(frame: Frame, end: usize) -> Node {
    let ((start, line, column), kind) = match frame {
        Frame::Mapping { start, flow, entries, .. } => (start, Kind::Mapping { entries, flow }),
        Frame::Sequence { start, flow, items } => (start, Kind::Sequence { items, flow }),
    };
    Node { start, end, line, column, kind }
}

/// Writes `value` as a scalar in `style`, or double-quoted when the style cannot carry it as a
/// string (a plain `1.10` would read back as the number 1.1).
pub(crate) fn render_scalar(value: &str, style: Style) -> String {
    match style {
        Style::Plain if plain_is_string(value) => value.to_string(),
        Style::SingleQuoted => format!("'{}'", value.replace('\'', "''")),
        _ => format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"")),
    }
}

/// Whether a plain scalar with this text reads back as the same string (YAML 1.2 core schema
/// and the YAML 1.1 words Go's YAML libraries still resolve).
fn plain_is_string(value: &str) -> bool {
    let Some(first) = value.chars().next() else {
        return false;
    };
    let special_start = "-?:,[]{}#&*!|>'\"%@`".contains(first) || first.is_whitespace();
    let special_inside = value.contains(": ")
        || value.contains(" #")
        || value.ends_with(':')
        || value.ends_with(char::is_whitespace);
    let lower = value.to_ascii_lowercase();
    let keyword = matches!(
        lower.as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "~"
    );
    let number = value.parse::<f64>().is_ok()
        || lower.starts_with("0x")
        || lower.starts_with("0o")
        || matches!(lower.as_str(), ".inf" | "-.inf" | "+.inf" | ".nan")
        || (value.chars().all(|c| c.is_ascii_digit() || c == '_')
            && value.contains(|c: char| c.is_ascii_digit()));
    !(special_start || special_inside || keyword || number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_know_their_bytes_including_quotes() {
        let text = "a: 'x'\nb: \"y\"\nc: plain # note\n";
        let docs = parse_documents(text).expect("valid");
        let doc = &docs[0];
        for (key, expected) in [("a", "'x'"), ("b", "\"y\""), ("c", "plain")] {
            let node = doc.get(key).expect("present");
            assert_eq!(&text[node.start..node.end], expected);
        }
        assert_eq!(doc.get("c").expect("present").line, 3);
    }

    #[test]
    fn every_document_of_a_stream_is_kept() {
        let docs = parse_documents("a: 1\n---\nb: 2\n---\n").expect("valid");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].get_str("b"), Some("2"));
    }

    #[test]
    fn malformed_yaml_names_its_line() {
        let error = parse_documents("a: b\n  c: d\n").expect_err("malformed");
        assert_eq!(error.line, 2);
    }

    #[test]
    fn values_that_would_not_read_back_as_strings_are_quoted() {
        assert_eq!(render_scalar("1.10", Style::Plain), "\"1.10\"");
        assert_eq!(render_scalar("20240101", Style::Plain), "\"20240101\"");
        assert_eq!(render_scalar("true", Style::Plain), "\"true\"");
        assert_eq!(render_scalar("6.14.2", Style::Plain), "6.14.2");
        assert_eq!(render_scalar("v1.2", Style::Plain), "v1.2");
        assert_eq!(render_scalar("nginx:1.27", Style::Plain), "nginx:1.27");
        assert_eq!(render_scalar("1.2", Style::SingleQuoted), "'1.2'");
    }
}
