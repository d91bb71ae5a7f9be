//! A small Go-template evaluator for ApplicationSet templates with `goTemplate: true`: actions
//! `{{ .a.b }}`, `{{ index .path.segments 0 }}`, string, number literals, pipelines
//! (`{{ .name | upper }}`) and a few Sprig functions (`lower`, `upper`, `default`, `replace`,
//! `trimPrefix`, `trimSuffix`, `quote`, `toString`), with `{{-`/`-}}` trimming.
//!
//! Why our own: the maintained Rust Go-template crate (`gtmpl`) is not in Ferry's vendored
//! dependency set, and what ApplicationSet templates need is field access and a few functions,
//! not Go's control flow. `if`, `range`, `with` and variables are refused with a message that
//! says so, never rendered wrongly.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GoTemplateError {
    #[error("unclosed action starting at byte {at}: add the closing }}}}")]
    Unclosed { at: usize },
    #[error("{{{{ {action} }}}}: {message}")]
    Action { action: String, message: String },
}

/// Options from `goTemplateOptions`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// `missingkey=error`: a key the parameters lack is an error (else `<no value>`, as Go).
    pub missing_key_error: bool,
}

/// Renders `text` with `data` as the dot.
pub fn render(text: &str, data: &Value, options: Options) -> Result<String, GoTemplateError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut offset = 0;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            return Err(GoTemplateError::Unclosed { at: offset + start });
        };
        let mut inner = &rest[start + 2..start + len];
        let mut before = &rest[..start];
        if let Some(i) = inner.strip_prefix('-').filter(|i| i.starts_with(char::is_whitespace)) {
            before = before.trim_end();
            inner = i;
        }
        let mut after = &rest[start + len + 2..];
        if let Some(i) = inner.strip_suffix('-').filter(|i| i.ends_with(char::is_whitespace)) {
            after = after.trim_start();
            inner = i;
        }
        out.push_str(before);
        let action = inner.trim();
        if !action.starts_with("/*") {
            let value = pipeline(action, data, options).map_err(|message| {
                GoTemplateError::Action { action: action.to_owned(), message }
            })?;
            out.push_str(&display(&value));
        }
        offset += rest.len() - after.len();
        rest = after;
    }
    out.push_str(rest);
    Ok(out)
}

fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<no value>".into(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(display).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(_) => {
            let mut m: Vec<String> = Vec::new();
            if let Value::Object(o) = v {
                m = o.iter().map(|(k, v)| format!("{k}:{}", display(v))).collect();
            }
            format!("map[{}]", m.join(" "))
        }
        other => other.to_string(),
    }
}

/// `cmd | cmd | …`: each command's result is the last argument of the next.
fn pipeline(action: &str, data: &Value, o: Options) -> Result<Value, String> {
    let words = tokens(action)?;
    if let Some(first) = words.first().filter(|w| {
        ["if", "range", "with", "else", "end", "define", "template", "block"].contains(&w.as_str())
    }) {
        return Err(format!(
            "{first:?} is not supported in ApplicationSet templates (only values, index and functions are); compute the value in the generator instead"
        ));
    }
    if words.iter().any(|w| w.starts_with('$')) {
        return Err("template variables ($x) are not supported".into());
    }
    let mut value: Option<Value> = None;
    for cmd in words.split(|w| w == "|") {
        let mut args: Vec<&String> = cmd.iter().collect();
        if args.is_empty() {
            return Err("an empty command in the pipeline".into());
        }
        let head = args.remove(0);
        let mut argv: Vec<Value> =
            args.iter().map(|a| operand(a, data, o)).collect::<Result<_, _>>()?;
        argv.extend(value.take());
        value = Some(if is_operand(head) && argv.is_empty() {
            operand(head, data, o)?
        } else {
            call(head, &argv)?
        });
    }
    value.ok_or_else(|| "an empty action".into())
}

fn is_operand(w: &str) -> bool {
    w.starts_with('.') || w.starts_with('"') || w.starts_with('`') || w.parse::<f64>().is_ok()
}

fn operand(w: &str, data: &Value, o: Options) -> Result<Value, String> {
    if w == "." {
        return Ok(data.clone());
    }
    if let Some(path) = w.strip_prefix('.') {
        let mut v = data;
        for key in path.split('.') {
            match v.get(key) {
                Some(next) => v = next,
                None if o.missing_key_error => {
                    return Err(format!("map has no entry for key {key:?} (missingkey=error)"));
                }
                None => return Ok(Value::Null),
            }
        }
        return Ok(v.clone());
    }
    if let Some(s) = w.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        return Ok(Value::String(s.replace("\\\"", "\"").replace("\\\\", "\\")));
    }
    if let Some(s) = w.strip_prefix('`').and_then(|s| s.strip_suffix('`')) {
        return Ok(Value::String(s.to_owned()));
    }
    if let Ok(n) = w.parse::<i64>() {
        return Ok(Value::from(n));
    }
    Err(format!(
        "function {w:?} is not defined here (known: index, lower, upper, default, replace, trimPrefix, trimSuffix, quote, toString)"
    ))
}

fn text(v: &Value) -> String {
    display(v)
}

fn call(name: &str, args: &[Value]) -> Result<Value, String> {
    let arity = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!("{name} takes {n} arguments, got {}", args.len()))
        }
    };
    let s = |i: usize| text(&args[i]);
    Ok(match name {
        "index" => {
            let (first, keys) = args.split_first().ok_or("index needs a value")?;
            let mut v = first.clone();
            for k in keys {
                v = match (&v, k) {
                    (Value::Array(items), Value::Number(n)) => {
                        n.as_u64().and_then(|i| items.get(i as usize).cloned()).ok_or_else(
                            || format!("index {n} out of range (length {})", items.len()),
                        )?
                    }
                    (Value::Object(m), key) => m.get(&text(key)).cloned().unwrap_or(Value::Null),
                    _ => return Err(format!("cannot index {} with {}", display(&v), display(k))),
                };
            }
            v
        }
        "lower" => {
            arity(1)?;
            Value::String(s(0).to_lowercase())
        }
        "upper" => {
            arity(1)?;
            Value::String(s(0).to_uppercase())
        }
        "toString" => {
            arity(1)?;
            Value::String(s(0))
        }
        "quote" => {
            arity(1)?;
            Value::String(format!("{:?}", s(0)))
        }
        "default" => {
            arity(2)?;
            let empty = matches!(&args[1], Value::Null) || args[1] == Value::String(String::new());
            if empty { args[0].clone() } else { args[1].clone() }
        }
        "replace" => {
            arity(3)?;
            Value::String(s(2).replace(&s(0), &s(1)))
        }
        "trimPrefix" => {
            arity(2)?;
            Value::String(s(1).strip_prefix(&s(0)).map(str::to_owned).unwrap_or_else(|| s(1)))
        }
        "trimSuffix" => {
            arity(2)?;
            Value::String(s(1).strip_suffix(&s(0)).map(str::to_owned).unwrap_or_else(|| s(1)))
        }
        other => {
            return Err(format!(
                "function {other:?} is not defined here (known: index, lower, upper, default, replace, trimPrefix, trimSuffix, quote, toString)"
            ));
        }
    })
}

/// Splits an action into words: quoted strings stay whole, `|` is its own word.
fn tokens(action: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = action.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '|' {
            chars.next();
            out.push("|".into());
        } else if c == '"' || c == '`' {
            let mut w = String::from(chars.next().unwrap_or(c));
            let mut closed = false;
            while let Some(n) = chars.next() {
                w.push(n);
                if n == '\\' && c == '"' {
                    w.extend(chars.next());
                } else if n == c {
                    closed = true;
                    break;
                }
            }
            if !closed {
                return Err("an unterminated string".into());
            }
            out.push(w);
        } else {
            let mut w = String::new();
            while let Some(&n) = chars.peek() {
                if n.is_whitespace() || n == '|' {
                    break;
                }
                w.push(n);
                chars.next();
            }
            out.push(w);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn go(text: &str) -> Result<String, GoTemplateError> {
        let data = json!({"name": "in-cluster", "path": {"path": "apps/web_1", "basename": "web_1",
                          "segments": ["apps", "web_1"]}, "metadata": {"labels": {"env": "prod"}}});
        render(text, &data, Options::default())
    }

    #[test]
    fn go_templates_read_fields_indexes_and_functions() {
        let table = [
            ("{{ .path.basename }}", "web_1"),
            ("app-{{.name}}", "app-in-cluster"),
            ("{{ index .path.segments 0 }}", "apps"),
            ("{{ index .metadata.labels \"env\" }}", "prod"),
            ("{{ .path.basename | replace \"_\" \"-\" | upper }}", "WEB-1"),
            ("{{ .missing | default \"none\" }}", "none"),
            ("{{ .missing }}", "<no value>"),
            ("a {{- \" b \" -}} c", "a b c"),
            ("{{ trimPrefix \"apps/\" .path.path }}", "web_1"),
        ];
        for (text, want) in table {
            assert_eq!(go(text).as_deref(), Ok(want), "{text}");
        }
    }

    #[test]
    fn control_flow_and_unknown_functions_are_refused_by_name() {
        for (text, said) in [
            ("{{ if .name }}x{{ end }}", "\"if\" is not supported"),
            ("{{ sha256sum .name }}", "\"sha256sum\" is not defined"),
            ("{{ .name ", "unclosed action"),
            ("{{ index .path.segments 7 }}", "out of range"),
        ] {
            let err = go(text).unwrap_err().to_string();
            assert!(err.contains(said), "{text}: {err}");
        }
    }

    #[test]
    fn missingkey_error_names_the_key() {
        let o = Options { missing_key_error: true };
        let err = render("{{ .nope }}", &json!({}), o).unwrap_err().to_string();
        assert!(err.contains("\"nope\""), "{err}");
    }
}
