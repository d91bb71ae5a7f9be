//! Progress on stderr: a spinner when stderr is a terminal, plain lines otherwise (CI logs,
//! pipes), never on stdout.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
    last: std::sync::Mutex<String>,
}

impl Progress {
    pub fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Self { bar, last: std::sync::Mutex::new(String::new()) }
    }

    pub fn step(&self, message: &str) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if *last == message {
            return;
        }
        *last = message.to_owned();
        match &self.bar {
            Some(bar) => bar.set_message(message.to_owned()),
            None => eprintln!("{message}…"),
        }
    }

    pub fn warn(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.println(format!("warning: {message}")),
            None => eprintln!("warning: {message}"),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
