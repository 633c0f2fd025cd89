//! Capturing what a process logs, for tests that assert log events.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// Everything a global `tracing` fmt subscriber writes, kept in memory (no colours).
///
/// Install it once per test binary (it becomes the global subscriber), run the scenario,
/// then read [`LogCapture::text`].
///
/// ```
/// let logs = dbm_testing::LogCapture::install(tracing::Level::INFO);
/// tracing::info!(pool = "app", "connection pool created");
/// assert!(logs.text().contains("connection pool created"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// Installs a fmt subscriber at `level` writing into a new capture, and returns it.
    ///
    /// # Panics
    /// When a global subscriber is already installed in this process.
    pub fn install(level: tracing::Level) -> Self {
        let capture = LogCapture::default();
        let writer = capture.clone();
        tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        capture
    }

    /// What was logged so far.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
