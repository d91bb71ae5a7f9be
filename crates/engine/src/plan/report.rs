//! A plan as data and its two readings for people: plain text for a terminal and Markdown for a
//! pull-request comment. Pure.

use std::fmt::Write as _;

use serde::Serialize;

use super::select::Skip;

/// One side of the change: the ref as asked and the commit it resolved to.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Side {
    #[serde(rename = "ref")]
    pub reference: String,
    pub commit: String,
}

/// What merging `head` into `base` would do to the live cluster, app by app.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub repo_url: String,
    pub base: Side,
    pub head: Side,
    /// Files that differ between base and head.
    pub changed_paths: usize,
    /// Apps the change concerns: with a change, a violation or an error.
    pub apps: Vec<AppPlan>,
    /// Apps of the repository the change leaves as they are, and why.
    pub unaffected: Vec<Unaffected>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unaffected {
    pub app: String,
    pub reason: Skip,
}

/// One app's share of the plan.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppPlan {
    /// `namespace/name`.
    pub app: String,
    /// Where its objects go: `cluster/namespace`.
    pub destination: String,
    pub create: Vec<ObjectChange>,
    pub update: Vec<ObjectChange>,
    pub prune: Vec<ObjectChange>,
    /// Whether the app prunes (`syncPolicy.automated.prune`); without it, `prune` lists what a
    /// sync would leave behind, extraneous.
    pub prune_enabled: bool,
    /// What the app's project refuses at head.
    pub violations: Vec<String>,
    /// Why the app could not be planned (a head that does not render, an unreachable cluster).
    pub error: Option<String>,
}

/// One object's change: its display name and, for creates and updates, the diff (Secret values
/// masked).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectChange {
    pub api_version: String,
    /// `Kind namespace/name` or `Kind name`.
    pub object: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

impl AppPlan {
    pub fn changes(&self) -> usize {
        self.create.len() + self.update.len() + self.prune.len()
    }

    /// Whether the app cannot be applied as it is: it did not plan, or its project refuses it.
    pub fn blocked(&self) -> bool {
        self.error.is_some() || !self.violations.is_empty()
    }
}

impl Plan {
    pub fn has_errors(&self) -> bool {
        self.apps.iter().any(AppPlan::blocked)
    }

    pub fn has_changes(&self) -> bool {
        self.apps.iter().any(|a| a.changes() > 0)
    }

    /// The exit code `ferry plan` uses: 2 on an error or violation, 1 on a change, 0 otherwise.
    pub fn exit_code(&self) -> u8 {
        if self.has_errors() {
            2
        } else if self.has_changes() {
            1
        } else {
            0
        }
    }

    /// One line: "2 apps change (1 to create, 3 to update, 1 to prune); 5 unaffected".
    pub fn headline(&self) -> String {
        let changing = self.apps.iter().filter(|a| a.changes() > 0).count();
        let failing = self.apps.iter().filter(|a| a.blocked()).count();
        let sum = |f: fn(&AppPlan) -> usize| self.apps.iter().map(f).sum::<usize>();
        let mut line = format!(
            "{} ({} to create, {} to update, {} to prune); {} unaffected",
            count(changing, "app changes", "apps change"),
            sum(|a| a.create.len()),
            sum(|a| a.update.len()),
            sum(|a| a.prune.len()),
            self.unaffected.len()
        );
        if failing > 0 {
            let _ = write!(line, "; {} cannot be applied as is", count(failing, "app", "apps"));
        }
        line
    }
}

fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {many}") }
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// The plan for a terminal.
pub fn text(plan: &Plan) -> String {
    let mut out = format!(
        "plan for {} {} ({}) -> {} ({}): {} changed files\n",
        plan.repo_url,
        plan.base.reference,
        short(&plan.base.commit),
        plan.head.reference,
        short(&plan.head.commit),
        plan.changed_paths
    );
    for app in &plan.apps {
        let _ = writeln!(out, "\napp {} -> {}", app.app, app.destination);
        if let Some(e) = &app.error {
            let _ = writeln!(out, "  error: {e}");
        }
        for v in &app.violations {
            let _ = writeln!(out, "  refused by the project: {v}");
        }
        for (verb, list) in [("create", &app.create), ("update", &app.update)] {
            for c in list {
                let _ = writeln!(out, "  {verb} {} {}", c.api_version, c.object);
                if let Some(d) = &c.diff {
                    for line in d.lines() {
                        let _ = writeln!(out, "    {line}");
                    }
                }
            }
        }
        for c in &app.prune {
            let _ = writeln!(out, "  {} {} {}", prune_verb(app), c.api_version, c.object);
        }
    }
    let _ = writeln!(out, "\n{}", plan.headline());
    out
}

fn prune_verb(app: &AppPlan) -> &'static str {
    if app.prune_enabled { "prune" } else { "leave (prune disabled)" }
}

/// The plan as a pull-request comment: a headline, one section per app with a table of objects
/// and the diffs folded.
pub fn markdown(plan: &Plan) -> String {
    let mut out = format!(
        "### Ferry plan\n\n`{}` → `{}` on {} ({} changed files)\n\n**{}**\n",
        short(&plan.base.commit),
        short(&plan.head.commit),
        plan.repo_url,
        plan.changed_paths,
        plan.headline()
    );
    for app in &plan.apps {
        let _ = write!(out, "\n#### `{}` → `{}`\n\n", app.app, app.destination);
        if let Some(e) = &app.error {
            let _ = writeln!(out, "> :x: **cannot plan**: {}\n", one_line(e));
        }
        for v in &app.violations {
            let _ = writeln!(out, "> :no_entry: **refused by the project**: {}\n", one_line(v));
        }
        if app.changes() > 0 {
            out.push_str("| change | object |\n|---|---|\n");
            for (verb, list) in [("create", &app.create), ("update", &app.update)] {
                for c in list {
                    let _ = writeln!(out, "| {verb} | `{}` `{}` |", c.api_version, c.object);
                }
            }
            for c in &app.prune {
                let _ =
                    writeln!(out, "| {} | `{}` `{}` |", prune_verb(app), c.api_version, c.object);
            }
            for c in app.create.iter().chain(&app.update) {
                if let Some(d) = &c.diff {
                    let fence = fence_for(d);
                    let _ = write!(
                        out,
                        "\n<details><summary>{}</summary>\n\n{fence}diff\n{}{}{fence}\n</details>\n",
                        c.object,
                        d,
                        if d.ends_with('\n') { "" } else { "\n" }
                    );
                }
            }
        }
    }
    out
}

/// A code fence longer than any run of backticks in `text`, so a diff cannot close it early.
fn fence_for(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for ch in text.chars() {
        run = if ch == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

fn one_line(text: &str) -> String {
    text.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(apps: Vec<AppPlan>) -> Plan {
        Plan {
            repo_url: "https://git.example.com/org/config".into(),
            base: Side { reference: "main".into(), commit: "a".repeat(40) },
            head: Side { reference: "pr-1".into(), commit: "b".repeat(40) },
            changed_paths: 2,
            apps,
            unaffected: vec![Unaffected { app: "ferry/db".into(), reason: Skip::Untouched }],
        }
    }

    fn web() -> AppPlan {
        AppPlan {
            app: "ferry/web".into(),
            destination: "in-cluster/web".into(),
            update: vec![ObjectChange {
                api_version: "apps/v1".into(),
                object: "Deployment web/web".into(),
                diff: Some("-  replicas: 1\n+  replicas: 3\n".into()),
            }],
            prune: vec![ObjectChange {
                api_version: "v1".into(),
                object: "Service web/web".into(),
                diff: None,
            }],
            prune_enabled: true,
            ..AppPlan::default()
        }
    }

    #[test]
    fn a_plan_with_a_change_exits_1_and_with_an_error_2() {
        assert_eq!(plan(vec![]).exit_code(), 0);
        assert_eq!(plan(vec![web()]).exit_code(), 1);
        let broken = AppPlan { error: Some("does not render".into()), ..web() };
        assert_eq!(plan(vec![broken]).exit_code(), 2);
    }

    #[test]
    fn the_headline_counts_apps_and_objects() {
        assert_eq!(
            plan(vec![web()]).headline(),
            "1 app changes (0 to create, 1 to update, 1 to prune); 1 unaffected"
        );
    }

    #[test]
    fn the_markdown_lists_each_object_and_folds_the_diff() {
        let md = markdown(&plan(vec![web()]));
        assert!(md.contains("| update | `apps/v1` `Deployment web/web` |"), "{md}");
        assert!(md.contains("| prune | `v1` `Service web/web` |"), "{md}");
        assert!(md.contains("<details><summary>Deployment web/web</summary>"), "{md}");
        assert!(md.contains("```diff\n-  replicas: 1\n+  replicas: 3\n```"), "{md}");
    }

    #[test]
    fn a_diff_holding_backticks_gets_a_longer_fence() {
        assert_eq!(fence_for("a ``` b"), "````");
        assert_eq!(fence_for("plain"), "```");
    }

    #[test]
    fn without_prune_the_plan_says_what_would_be_left() {
        let kept = AppPlan { prune_enabled: false, ..web() };
        assert!(text(&plan(vec![kept])).contains("leave (prune disabled) v1 Service web/web"));
    }
}
