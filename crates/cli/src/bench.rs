//! `ferry bench SCENARIO`: run a benchmark scenario and print its table (or JSON).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use ferry_bench::{Options, Scenario};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// commit-to-applied, fan-out, steady-state, drift-heal, monorepo-one-line, render,
    /// apply-vs-kubectl, multi-cluster, sops, soak, shards (replica processes), or all (all
    /// but soak and shards).
    pub scenario: String,
    /// Small inputs, seconds per scenario (the CI smoke test); numbers are not comparable.
    #[arg(long)]
    pub quick: bool,
    /// Output: a table for people, or one JSON object per scenario (one per line).
    #[arg(short = 'o', long = "output", default_value = "table", value_parser = ["table", "json"])]
    pub output: String,
    /// Also append each scenario's JSON object (one per line) to this file.
    #[arg(long)]
    pub json_out: Option<PathBuf>,
    /// Override the size (apps for fan-out and monorepo-one-line, objects otherwise).
    #[arg(long)]
    pub size: Option<usize>,
    /// Override the rounds (commit-to-applied, drift-heal) or the window in seconds (steady-state).
    #[arg(long)]
    pub rounds: Option<usize>,
    /// How long the soak runs (`1h`, `30m`, `600s`; the same as `--rounds SECONDS`).
    #[arg(long, value_parser = crate::up::parse_duration, conflicts_with = "rounds")]
    pub duration: Option<std::time::Duration>,
}

impl BenchArgs {
    /// Whether this run measures a process over a long time (the soak), and so must hold
    /// memory as the long-running commands do.
    pub fn soaks(&self) -> bool {
        self.scenario == "soak"
    }
}

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let scenarios: Vec<Scenario> =
        if args.scenario == "all" { Scenario::ALL.to_vec() } else { vec![args.scenario.parse()?] };
    let rounds = args.duration.map(|d| d.as_secs() as usize).or(args.rounds);
    let opts = Options { quick: args.quick, size: args.size, rounds };
    for scenario in scenarios {
        eprintln!("running {}{} …", scenario.name(), if args.quick { " (quick)" } else { "" });
        let report = ferry_bench::run(scenario, &opts)
            .with_context(|| format!("scenario {}", scenario.name()))?;
        let line = serde_json::to_string(&report.to_json())?;
        let mut stdout = std::io::stdout().lock();
        if args.output == "json" {
            writeln!(stdout, "{line}")?;
        } else {
            write!(stdout, "{}", report.table())?;
        }
        if let Some(path) = &args.json_out {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening {}", path.display()))?;
            writeln!(file, "{line}").with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
