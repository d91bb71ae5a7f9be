//! The small subset of Go's `text/template` that Argo CD Notifications templates use, pure.
//!
//! Written here rather than taken from a crate: the maintained Rust engines (minijinja,
//! handlebars, tera) speak other syntaxes, and the one Go-template crate (`gtmpl`) is not
//! maintained and pulls a reflection layer; what configs need fits in this file and every
//! unsupported action is refused by name when the config is read, not at send time.
//!
//! Supported: text; `{{.a.b}}` (fields of the dot), `{{$.a}}` (of the root), `{{.}}`;
//! `{{"literal"}}`; `{{if X}}…{{else if Y}}…{{else}}…{{end}}` where X is an operand,
//! `not A`, `eq A B`, `ne A B`, `and A B`, `or A B`; `{{range .list}}…{{end}}` (the dot is each
//! element); `{{/* comments */}}`; `{{-` and `-}}` trim white space. A missing field prints
//! nothing (Go prints `<no value>`). Output is capped at [`MAX_OUTPUT`].

use serde_json::Value;

/// The most a template may render (a message larger than this is refused, not truncated).
pub const MAX_OUTPUT: usize = 64 * 1024;

/// The most nodes one rendering visits (nested `range`s multiply; this bounds the time).
pub const MAX_STEPS: usize = 200_000;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("`{{{{` at byte {at} is never closed with `}}}}`")]
    Unclosed { at: usize },
    #[error(
        "`{{{{{action}}}}}` is not supported (Ferry supports fields, literals, if/else/end with not/eq/ne/and/or, range and comments)"
    )]
    Unsupported { action: String },
    #[error("`{{{{{action}}}}}` has no matching `{{{{if}}}}` or `{{{{range}}}}`")]
    Unmatched { action: String },
    #[error("an `{{{{if}}}}` or `{{{{range}}}}` is never closed with `{{{{end}}}}`")]
    MissingEnd,
    #[error("the output is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("rendering takes more than {limit} steps (nested ranges?)")]
    TooManySteps { limit: usize },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    nodes: Vec<Node>,
}

#[derive(Clone, Debug, PartialEq)]
enum Node {
    Text(String),
    Value(Operand),
    If { cond: Cond, then: Vec<Node>, otherwise: Vec<Node> },
    Range { list: Operand, body: Vec<Node> },
}

#[derive(Clone, Debug, PartialEq)]
enum Operand {
    Field { root: bool, path: Vec<String> },
    Literal(String),
}

#[derive(Clone, Debug, PartialEq)]
enum Cond {
    Truthy(Operand),
    Not(Operand),
    Eq(Operand, Operand),
    Ne(Operand, Operand),
    And(Operand, Operand),
    Or(Operand, Operand),
}

enum Token {
    Text(String),
    Action(String),
}

impl Template {
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        let tokens = tokenize(source)?;
        let mut iter = tokens.into_iter().peekable();
        let (nodes, end) = parse_nodes(&mut iter)?;
        match end {
            None => Ok(Self { nodes }),
            Some(action) => Err(TemplateError::Unmatched { action }),
        }
    }

    /// Renders with `data` as both the root (`$`) and the dot.
    pub fn render(&self, data: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        let mut steps = 0;
        render_nodes(&self.nodes, data, data, &mut out, &mut steps)?;
        Ok(out)
    }
}

fn tokenize(source: &str) -> Result<Vec<Token>, TemplateError> {
    let mut tokens = Vec::new();
    let mut rest = source;
    let mut offset = 0;
    let mut trim_next = false;
    while let Some(open) = rest.find("{{") {
        let close = rest[open..].find("}}").ok_or(TemplateError::Unclosed { at: offset + open })?;
        let mut text = &rest[..open];
        let mut action = &rest[open + 2..open + close];
        if trim_next {
            text = text.trim_start();
        }
        if let Some(a) = action.strip_prefix('-').filter(|a| a.starts_with(char::is_whitespace)) {
            text = text.trim_end();
            action = a;
        }
        trim_next = false;
        if let Some(a) = action.strip_suffix('-').filter(|a| a.ends_with(char::is_whitespace)) {
            trim_next = true;
            action = a;
        }
        if !text.is_empty() {
            tokens.push(Token::Text(text.to_owned()));
        }
        tokens.push(Token::Action(action.trim().to_owned()));
        offset += open + close + 2;
        rest = &rest[open + close + 2..];
    }
    let text = if trim_next { rest.trim_start() } else { rest };
    if !text.is_empty() {
        tokens.push(Token::Text(text.to_owned()));
    }
    Ok(tokens)
}

type Tokens = std::iter::Peekable<std::vec::IntoIter<Token>>;

/// Nodes up to an `else`/`end` (returned as the second value) or the end of input.
fn parse_nodes(tokens: &mut Tokens) -> Result<(Vec<Node>, Option<String>), TemplateError> {
    let mut nodes = Vec::new();
    while let Some(token) = tokens.next() {
        let action = match token {
            Token::Text(text) => {
                nodes.push(Node::Text(text));
                continue;
            }
            Token::Action(action) => action,
        };
        if action == "end" || action == "else" || action.starts_with("else if ") {
            return Ok((nodes, Some(action)));
        }
        if action.starts_with("/*") && action.ends_with("*/") {
            continue;
        }
        if let Some(cond) = action.strip_prefix("if ") {
            nodes.push(parse_if(cond, tokens)?);
        } else if let Some(list) = action.strip_prefix("range ") {
            let list = operand(list.trim(), &action)?;
            let (body, end) = parse_nodes(tokens)?;
            if end.as_deref() != Some("end") {
                return Err(end.map_or(TemplateError::MissingEnd, |action| {
                    TemplateError::Unsupported { action: format!("{action} (in a range)") }
                }));
            }
            nodes.push(Node::Range { list, body });
        } else {
            nodes.push(Node::Value(operand(&action, &action)?));
        }
    }
    Ok((nodes, None))
}

fn parse_if(cond: &str, tokens: &mut Tokens) -> Result<Node, TemplateError> {
    let cond = condition(cond.trim())?;
    let (then, end) = parse_nodes(tokens)?;
    let otherwise = match end.as_deref() {
        Some("end") => Vec::new(),
        Some("else") => {
            let (otherwise, end) = parse_nodes(tokens)?;
            if end.as_deref() != Some("end") {
                return Err(TemplateError::MissingEnd);
            }
            otherwise
        }
        Some(other) => match other.strip_prefix("else if ") {
            Some(next) => vec![parse_if(next, tokens)?],
            None => return Err(TemplateError::MissingEnd),
        },
        None => return Err(TemplateError::MissingEnd),
    };
    Ok(Node::If { cond, then, otherwise })
}

fn condition(text: &str) -> Result<Cond, TemplateError> {
    let words = words(text);
    let unsupported = || TemplateError::Unsupported { action: format!("if {text}") };
    let op = |i: usize| words.get(i).ok_or_else(unsupported).and_then(|w| operand(w, text));
    match (words.first().map(String::as_str), words.len()) {
        (Some("not"), 2) => Ok(Cond::Not(op(1)?)),
        (Some("eq"), 3) => Ok(Cond::Eq(op(1)?, op(2)?)),
        (Some("ne"), 3) => Ok(Cond::Ne(op(1)?, op(2)?)),
        (Some("and"), 3) => Ok(Cond::And(op(1)?, op(2)?)),
        (Some("or"), 3) => Ok(Cond::Or(op(1)?, op(2)?)),
        (Some(_), 1) => Ok(Cond::Truthy(op(0)?)),
        _ => Err(unsupported()),
    }
}

/// Splits on white space, keeping a double-quoted literal whole.
fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

fn operand(word: &str, action: &str) -> Result<Operand, TemplateError> {
    let unsupported = || TemplateError::Unsupported { action: action.to_owned() };
    if let Some(literal) = word.strip_prefix('"').and_then(|w| w.strip_suffix('"')) {
        return Ok(Operand::Literal(literal.replace("\\\"", "\"").replace("\\n", "\n")));
    }
    let (root, path) = match word {
        "." => (false, ""),
        "$" => (true, ""),
        w if w.starts_with("$.") => (true, &w[2..]),
        w if w.starts_with('.') => (false, &w[1..]),
        _ => return Err(unsupported()),
    };
    let path: Vec<String> =
        if path.is_empty() { Vec::new() } else { path.split('.').map(str::to_owned).collect() };
    let plain = |s: &String| {
        !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    };
    if !path.iter().all(plain) {
        return Err(unsupported());
    }
    Ok(Operand::Field { root, path })
}

fn resolve<'a>(op: &'a Operand, root: &'a Value, dot: &'a Value) -> Option<&'a Value> {
    match op {
        Operand::Literal(_) => None,
        Operand::Field { root: from_root, path } => {
            let mut value = if *from_root { root } else { dot };
            for key in path {
                value = match value {
                    Value::Object(map) => map.get(key)?,
                    Value::Array(items) => items.get(key.parse::<usize>().ok()?)?,
                    _ => return None,
                };
            }
            Some(value)
        }
    }
}

fn text_of(op: &Operand, root: &Value, dot: &Value) -> String {
    match op {
        Operand::Literal(s) => s.clone(),
        _ => match resolve(op, root, dot) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        },
    }
}

fn truthy(op: &Operand, root: &Value, dot: &Value) -> bool {
    match op {
        Operand::Literal(s) => !s.is_empty(),
        _ => match resolve(op, root, dot) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
            Some(Value::Array(a)) => !a.is_empty(),
            Some(Value::Object(o)) => !o.is_empty(),
        },
    }
}

fn holds(cond: &Cond, root: &Value, dot: &Value) -> bool {
    match cond {
        Cond::Truthy(a) => truthy(a, root, dot),
        Cond::Not(a) => !truthy(a, root, dot),
        Cond::Eq(a, b) => text_of(a, root, dot) == text_of(b, root, dot),
        Cond::Ne(a, b) => text_of(a, root, dot) != text_of(b, root, dot),
        Cond::And(a, b) => truthy(a, root, dot) && truthy(b, root, dot),
        Cond::Or(a, b) => truthy(a, root, dot) || truthy(b, root, dot),
    }
}

fn render_nodes(
    nodes: &[Node],
    root: &Value,
    dot: &Value,
    out: &mut String,
    steps: &mut usize,
) -> Result<(), TemplateError> {
    for node in nodes {
        *steps += 1;
        if *steps > MAX_STEPS {
            return Err(TemplateError::TooManySteps { limit: MAX_STEPS });
        }
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Value(op) => out.push_str(&text_of(op, root, dot)),
            Node::If { cond, then, otherwise } => {
                let branch = if holds(cond, root, dot) { then } else { otherwise };
                render_nodes(branch, root, dot, out, steps)?;
            }
            Node::Range { list, body } => {
                if let Some(Value::Array(items)) = resolve(list, root, dot) {
                    for item in items {
                        render_nodes(body, root, item, out, steps)?;
                    }
                }
            }
        }
        if out.len() > MAX_OUTPUT {
            return Err(TemplateError::TooLarge { limit: MAX_OUTPUT });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(source: &str, data: Value) -> Result<String, TemplateError> {
        Template::parse(source)?.render(&data)
    }

    #[test]
    fn fields_of_the_app_and_the_context_are_printed() {
        let data = json!({"app": {"metadata": {"name": "guestbook"}, "status": {"sync": {"revision": "abc"}}},
                          "context": {"argocdUrl": "https://ferry.example"}});
        let out = render(
            "{{.app.metadata.name}} at {{ .app.status.sync.revision }}: {{.context.argocdUrl}}/applications/{{.app.metadata.name}}",
            data,
        );
        assert_eq!(
            out.as_deref(),
            Ok("guestbook at abc: https://ferry.example/applications/guestbook")
        );
    }

    #[test]
    fn if_else_eq_and_range_follow_go_semantics() {
        let data =
            json!({"serviceType": "slack", "items": [{"n": "a"}, {"n": "b"}], "flag": false});
        let out = render(
            "{{if eq .serviceType \"slack\"}}S{{else}}O{{end}}{{if .flag}}T{{else if not .flag}}F{{end}}{{range .items}}[{{.n}}{{$.serviceType}}]{{end}}",
            data,
        );
        assert_eq!(out.as_deref(), Ok("SF[aslack][bslack]"));
    }

    #[test]
    fn trim_markers_and_comments_leave_no_white_space() {
        let out = render("a  {{- /* note */ -}}  b {{- .x }}", json!({"x": 1}));
        assert_eq!(out.as_deref(), Ok("ab1"));
    }

    #[test]
    fn a_missing_field_prints_nothing() {
        assert_eq!(render("[{{.nope.deeper}}]", json!({})).as_deref(), Ok("[]"));
    }

    #[test]
    fn functions_outside_the_subset_are_refused_by_name_when_parsed() {
        let err = Template::parse("{{ call .app.metadata.name }}").expect_err("unsupported");
        assert!(err.to_string().contains("call .app.metadata.name"), "{err}");
        assert_eq!(Template::parse("{{if .a}}x"), Err(TemplateError::MissingEnd));
        assert!(matches!(Template::parse("x{{end}}"), Err(TemplateError::Unmatched { .. })));
        assert_eq!(Template::parse("{{ .a"), Err(TemplateError::Unclosed { at: 0 }));
    }

    #[test]
    fn nested_ranges_stop_at_the_step_cap_instead_of_running_for_ever() {
        let deep = format!("{}{}", "{{range $.l}}".repeat(30), "{{end}}".repeat(30));
        let err = render(&deep, json!({"l": [1, 2]}));
        assert_eq!(err, Err(TemplateError::TooManySteps { limit: MAX_STEPS }));
    }

    #[test]
    fn an_output_over_the_cap_is_an_error_not_a_truncation() {
        let big = "x".repeat(MAX_OUTPUT / 2 + 1);
        let err = render("{{range .l}}{{.}}{{end}}", json!({"l": [big.clone(), big]}));
        assert_eq!(err, Err(TemplateError::TooLarge { limit: MAX_OUTPUT }));
    }
}
