//! Migration progress on stderr: a bar with a spinner and the elapsed time on a terminal,
//! one plain line per event otherwise (pipes, CI logs), each written as it happens.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use dbm_migrate::{MigrationProgress, Progress};
use indicatif::{ProgressBar, ProgressStyle};

/// Reports a migrate or rollback run on stderr.
#[derive(Debug)]
pub(super) struct Reporter {
    bar: Option<Mutex<Option<ProgressBar>>>,
}

impl Reporter {
    /// A bar when stderr is a terminal, plain lines otherwise.
    pub(super) fn new() -> Self {
        Reporter {
            bar: std::io::stderr().is_terminal().then(|| Mutex::new(None)),
        }
    }
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

fn line(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
    let _ = err.flush();
}

impl MigrationProgress for Reporter {
    fn report(&self, p: &Progress<'_>) {
        let Some(bar) = &self.bar else {
            match p {
                Progress::RunStarted {
                    database,
                    pending,
                    undo,
                } if *pending > 0 => {
                    let verb = if *undo { "undoing" } else { "applying" };
                    line(&format!("{database}: {verb} {pending} migration(s)"));
                }
                Progress::Started {
                    index,
                    of,
                    version,
                    description,
                    ..
                } => line(&format!("[{index}/{of}] {version} {description}: started")),
                Progress::Finished {
                    index,
                    of,
                    version,
                    description,
                    duration,
                    ok,
                } => {
                    let how = if *ok { "done in" } else { "FAILED after" };
                    line(&format!(
                        "[{index}/{of}] {version} {description}: {how} {} ms",
                        ms(*duration)
                    ));
                }
                _ => {}
            }
            return;
        };
        let mut bar = bar.lock().unwrap_or_else(|p| p.into_inner());
        match p {
            Progress::RunStarted { pending, .. } if *pending > 0 => {
                let b = ProgressBar::new(*pending as u64);
                if let Ok(style) = ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] [{bar:30}] {pos}/{len} {msg}",
                ) {
                    b.set_style(style.progress_chars("=> "));
                }
                // The spinner and the clock keep moving during a long statement.
                b.enable_steady_tick(Duration::from_millis(100));
                *bar = Some(b);
            }
            Progress::Started {
                version,
                description,
                ..
            } => {
                if let Some(b) = bar.as_ref() {
                    b.set_message(format!("{version} {description}"));
                }
            }
            Progress::Finished {
                version,
                description,
                duration,
                ok,
                ..
            } => {
                if let Some(b) = bar.as_ref() {
                    let how = if *ok { "" } else { " FAILED" };
                    b.println(format!(
                        "  {version} {description}{how} ({} ms)",
                        ms(*duration)
                    ));
                    if *ok {
                        b.inc(1);
                    }
                }
            }
            Progress::RunFinished { .. } => {
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
            }
            _ => {}
        }
    }
}
