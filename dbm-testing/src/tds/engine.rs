//! The engine mode: requests run on SQLite files (one per database) behind the TDS wire,
//! with the T-SQL the driver and the suite send translated (see `translate`). This proves
//! dbm's wire, state and error handling, not SQL Server's semantics.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::types::Value as Sv;
use tokio::sync::mpsc;

use super::storage::{from_sqlite, sqlite_error, to_sqlite_value, type_of_values};
use super::tokens::Column;
use super::translate::{casts, exec_sql, to_sqlite, transaction_condition, type_of_decl};
use super::types::{TdsType, TdsValue};
use super::{Param, Request};

mod applock;

/// What running a request produced, in order, for the session to write.
#[derive(Debug)]
pub(crate) enum Event {
    Columns(Vec<Column>),
    Row(Vec<TdsValue>),
    /// The end of one statement; `count` for statements that change rows.
    Done {
        count: Option<u64>,
        error: bool,
    },
    /// An error on `line` of the batch.
    Error {
        number: i32,
        class: u8,
        text: String,
        line: u32,
    },
    Begin(u64),
    Commit(u64),
    Rollback(u64),
    Database {
        new: String,
        old: String,
    },
    /// Close another session's connection (KILL).
    Kill(u16),
}

/// State shared by every session of one engine server.
#[derive(Debug)]
pub(crate) struct Engine {
    pub dir: PathBuf,
    locks: Mutex<HashMap<(String, String), u16>>,
}

impl Engine {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Engine {
            dir,
            locks: Mutex::new(HashMap::new()),
        }
    }

    fn file(&self, database: &str) -> PathBuf {
        self.dir.join(format!("{database}.db"))
    }

    /// Frees every lock `spid` holds (its connection ended).
    pub(crate) fn release_all(&self, spid: u16) {
        self.locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, owner| *owner != spid);
    }
}

/// One session's engine state.
#[derive(Debug)]
pub(crate) struct EngineSession {
    engine: Arc<Engine>,
    pub spid: u16,
    pub database: String,
    conn: Option<rusqlite::Connection>,
    tx: Option<u64>,
    next_descriptor: u64,
}

type Sender = mpsc::Sender<Event>;

/// Stops a statement: the error the session turns into an ATTENTION acknowledgement.
pub(crate) const INTERRUPTED: i32 = -1;

impl EngineSession {
    pub(crate) fn open(engine: Arc<Engine>, spid: u16, database: &str) -> Result<Self, String> {
        let mut s = EngineSession {
            engine,
            spid,
            database: database.to_owned(),
            conn: None,
            tx: None,
            next_descriptor: u64::from(spid) << 32,
        };
        s.connect()?;
        Ok(s)
    }

    fn connect(&mut self) -> Result<(), String> {
        let file = self.engine.file(&self.database);
        if !file.exists() && self.database != "master" {
            return Err(format!(
                "Cannot open database \"{}\" requested by the login. The login failed.",
                self.database
            ));
        }
        let c = rusqlite::Connection::open(&file).map_err(|e| e.to_string())?;
        c.busy_timeout(Duration::from_secs(5))
            .map_err(|e| e.to_string())?;
        let _ = c.pragma_update(None, "journal_mode", "WAL");
        self.conn = Some(c);
        Ok(())
    }

    /// A handle that stops the running SQLite statement from another thread.
    pub(crate) fn interrupt_handle(&self) -> Option<rusqlite::InterruptHandle> {
        self.conn.as_ref().map(|c| c.get_interrupt_handle())
    }

    pub(crate) fn in_transaction(&self) -> bool {
        self.tx.is_some()
    }

    /// Runs a request to its end (or until `cancel`), sending what it produces.
    pub(crate) fn run(&mut self, request: &Request, events: &Sender, cancel: &AtomicBool) {
        let mut batch = request.sql.trim();
        let mut params = request.params.clone();
        let exec = exec_sql(batch);
        let parsed = match &exec {
            Some(Ok((sql, values))) => {
                batch = sql;
                params = values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Param {
                        name: format!("@P{}", i + 1),
                        ty: TdsType::NVarChar { max: false },
                        value: v.clone(),
                    })
                    .collect();
                Ok(())
            }
            Some(Err(e)) => Err((102, 15, e.clone())),
            None => Ok(()),
        };
        let upper = batch.to_ascii_uppercase();
        let mut failed_line = 1;
        let outcome = if parsed.is_err() {
            parsed
        } else if upper.contains("SP_GETAPPLOCK") || upper.contains("SP_RELEASEAPPLOCK") {
            self.applock(batch, events)
        } else {
            let statements = split(batch);
            let mut result = Ok(());
            for (i, (stmt, line)) in statements.iter().enumerate() {
                let more = i + 1 < statements.len();
                result = self.statement(stmt, &params, events, cancel, more);
                if result.is_err() {
                    failed_line = *line as u32;
                    break;
                }
            }
            result
        };
        if let Err((number, class, text)) = outcome {
            if number != INTERRUPTED && self.tx.is_some() {
                // SET XACT_ABORT ON: an error ends the transaction.
                let _ = self.sqlite("ROLLBACK");
                if let Some(d) = self.tx.take() {
                    let _ = events.blocking_send(Event::Rollback(d));
                }
            }
            let _ = events.blocking_send(Event::Error {
                number,
                class,
                text,
                line: failed_line,
            });
            let _ = events.blocking_send(Event::Done {
                count: None,
                error: true,
            });
        }
    }

    fn sqlite(&self, sql: &str) -> rusqlite::Result<()> {
        match &self.conn {
            Some(c) => c.execute_batch(sql),
            None => Ok(()),
        }
    }

    fn done(events: &Sender, count: Option<u64>) {
        let _ = events.blocking_send(Event::Done {
            count,
            error: false,
        });
    }

    fn statement(
        &mut self,
        stmt: &str,
        params: &[Param],
        events: &Sender,
        cancel: &AtomicBool,
        _more: bool,
    ) -> Result<(), (i32, u8, String)> {
        let stmt = without_leading_comments(stmt);
        if let Some((holds, rest)) = transaction_condition(stmt, self.tx.is_some()) {
            if holds {
                return self.statement(rest, params, events, cancel, _more);
            }
            Self::done(events, None);
            return Ok(());
        }
        let upper = stmt.to_ascii_uppercase();
        let words: Vec<&str> = upper.split_whitespace().collect();
        match words.as_slice() {
            ["SET", ..] => {
                Self::done(events, None);
                return Ok(());
            }
            ["BEGIN", "TRAN" | "TRANSACTION", ..] | ["BEGIN"] => {
                if self.tx.is_some() {
                    return Err((
                        50000,
                        16,
                        "nested transactions are not supported by the test server".into(),
                    ));
                }
                self.sqlite("BEGIN IMMEDIATE").map_err(sqlite_error)?;
                self.next_descriptor += 1;
                self.tx = Some(self.next_descriptor);
                let _ = events.blocking_send(Event::Begin(self.next_descriptor));
                Self::done(events, None);
                return Ok(());
            }
            ["COMMIT", ..] | ["ROLLBACK", ..] => {
                let Some(d) = self.tx.take() else {
                    let (number, what) = if words[0] == "COMMIT" {
                        (3902, "COMMIT")
                    } else {
                        (3903, "ROLLBACK")
                    };
                    return Err((
                        number,
                        16,
                        format!(
                            "The {what} TRANSACTION request has no corresponding BEGIN TRANSACTION."
                        ),
                    ));
                };
                let commit = words[0] == "COMMIT";
                self.sqlite(if commit { "COMMIT" } else { "ROLLBACK" })
                    .map_err(sqlite_error)?;
                let _ = events.blocking_send(if commit {
                    Event::Commit(d)
                } else {
                    Event::Rollback(d)
                });
                Self::done(events, None);
                return Ok(());
            }
            ["WAITFOR", "DELAY", ..] => {
                let text = stmt.split('\'').nth(1).unwrap_or("00:00:00");
                let wait = parse_delay(text);
                let started = Instant::now();
                while started.elapsed() < wait {
                    if cancel.load(Ordering::SeqCst) {
                        return Err((INTERRUPTED, 0, "interrupted".into()));
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                Self::done(events, None);
                return Ok(());
            }
            ["KILL", spid, ..] => {
                let spid: u16 = spid
                    .parse()
                    .map_err(|_| (102, 15, "Incorrect syntax near 'KILL'.".into()))?;
                let _ = events.blocking_send(Event::Kill(spid));
                Self::done(events, None);
                return Ok(());
            }
            ["USE", db] => {
                let db = db
                    .trim_matches(|c| c == '[' || c == ']')
                    .to_ascii_lowercase();
                let old = std::mem::replace(&mut self.database, db.clone());
                self.connect().map_err(|e| (911, 16, e))?;
                let _ = events.blocking_send(Event::Database { new: db, old });
                Self::done(events, None);
                return Ok(());
            }
            ["CREATE" | "ALTER" | "DROP", "DATABASE", ..] if self.tx.is_some() => {
                let (number, what) = if words[0] == "ALTER" {
                    (574, "ALTER")
                } else {
                    (226, words[0])
                };
                return Err((
                    number,
                    16,
                    format!(
                        "{what} DATABASE statement not allowed within multi-statement transaction."
                    ),
                ));
            }
            ["CREATE", "DATABASE", name, ..] => {
                let name = name
                    .trim_matches(|c| c == '[' || c == ']' || c == '"')
                    .to_ascii_lowercase();
                let file = self.engine.file(&name);
                if file.exists() {
                    return Err((1801, 16, format!("Database '{name}' already exists.")));
                }
                rusqlite::Connection::open(&file).map_err(sqlite_error)?;
                Self::done(events, None);
                return Ok(());
            }
            ["DROP", "DATABASE", ..] => {
                let name = words
                    .last()
                    .unwrap_or(&"")
                    .trim_matches(|c| c == '[' || c == ']' || c == '"')
                    .to_ascii_lowercase();
                let file = self.engine.file(&name);
                for suffix in ["", "-wal", "-shm"] {
                    let mut f = file.clone().into_os_string();
                    f.push(suffix);
                    let _ = std::fs::remove_file(f);
                }
                Self::done(events, None);
                return Ok(());
            }
            ["ALTER", "DATABASE", ..] => {
                Self::done(events, None);
                return Ok(());
            }
            _ => {}
        }
        let (stmt, cast_types) = casts(stmt);
        let sql = to_sqlite(&stmt, self.spid, self.tx.is_some());
        let conn = self
            .conn
            .as_ref()
            .ok_or((911, 16, "no database".to_owned()))?;
        let mut prepared = conn.prepare(&sql).map_err(sqlite_error)?;
        let needed = prepared.parameter_count();
        for i in 1..=needed {
            let name = prepared
                .parameter_name(i)
                .unwrap_or("")
                .trim_start_matches('?')
                .to_owned();
            let n: usize = name.parse().unwrap_or(i);
            let p = params.get(n - 1).ok_or_else(|| {
                (
                    137,
                    15,
                    format!("Must declare the scalar variable \"@P{n}\"."),
                )
            })?;
            prepared
                .raw_bind_parameter(i, to_sqlite_value(&p.value))
                .map_err(sqlite_error)?;
        }
        let columns = prepared.column_count();
        if columns == 0 {
            let before = conn.total_changes();
            prepared.raw_execute().map_err(sqlite_error)?;
            let changed = conn.total_changes() != before;
            let count = if changed { conn.changes() } else { 0 };
            let is_dml = matches!(
                words.first(),
                Some(&"INSERT" | &"UPDATE" | &"DELETE" | &"MERGE")
            );
            Self::done(events, is_dml.then_some(count));
            return Ok(());
        }
        let names: Vec<String> = prepared
            .column_names()
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let decls: Vec<Option<TdsType>> = prepared
            .columns()
            .iter()
            .map(|c| {
                c.decl_type().and_then(type_of_decl).or_else(|| {
                    cast_types
                        .iter()
                        .find(|(alias, _)| alias.eq_ignore_ascii_case(c.name()))
                        .map(|(_, ty)| *ty)
                })
            })
            .collect();
        let mut rows = prepared.raw_query();
        // Expression columns are typed by their first values: read a few rows first.
        let mut first: Vec<Vec<Sv>> = Vec::new();
        let mut ended = false;
        while first.len() < 64 {
            match rows.next().map_err(sqlite_error)? {
                Some(r) => first.push(
                    (0..columns)
                        .map(|i| r.get::<_, Sv>(i).unwrap_or(Sv::Null))
                        .collect(),
                ),
                None => {
                    ended = true;
                    break;
                }
            }
        }
        let cols: Vec<Column> = (0..columns)
            .map(|i| {
                let ty = decls[i].unwrap_or_else(|| type_of_values(first.iter().map(|r| &r[i])));
                Column::new(names[i].clone(), ty)
            })
            .collect();
        let _ = events.blocking_send(Event::Columns(cols.clone()));
        let mut count = 0u64;
        let mut send_row = |raw: Vec<Sv>| -> Result<bool, (i32, u8, String)> {
            let values = raw
                .iter()
                .zip(&cols)
                .map(|(v, c)| {
                    from_sqlite(v, c.ty)
                        .map_err(|e| (50000, 16, format!("column `{}`: {e}", c.name)))
                })
                .collect::<Result<Vec<_>, _>>()?;
            count += 1;
            Ok(events.blocking_send(Event::Row(values)).is_ok())
        };
        for r in first {
            if !send_row(r)? {
                return Err((INTERRUPTED, 0, "interrupted".into()));
            }
        }
        if !ended {
            while let Some(r) = rows.next().map_err(sqlite_error)? {
                if cancel.load(Ordering::SeqCst) {
                    return Err((INTERRUPTED, 0, "interrupted".into()));
                }
                let raw = (0..columns)
                    .map(|i| r.get::<_, Sv>(i).unwrap_or(Sv::Null))
                    .collect();
                if !send_row(raw)? {
                    return Err((INTERRUPTED, 0, "interrupted".into()));
                }
            }
        }
        let _ = events.blocking_send(Event::Done {
            count: Some(count),
            error: false,
        });
        Ok(())
    }
}

/// `stmt` from its first code on (leading `--` and `/* */` comments skipped).
fn without_leading_comments(stmt: &str) -> &str {
    let mut s = stmt.trim_start();
    loop {
        if let Some(rest) = s.strip_prefix("--") {
            s = rest.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(rest) = s.strip_prefix("/*") {
            s = rest.split_once("*/").map_or("", |(_, r)| r).trim_start();
        } else {
            return s;
        }
    }
}

/// Splits a batch on `;` outside literals (T-SQL needs no `;`, but what is sent here has
/// them).
fn split(batch: &str) -> Vec<(String, usize)> {
    // T-SQL's lexical rules, but SQLite's triggers kept whole: SQLite runs them.
    let mut syntax = dbm_core::SqlSyntax::MSSQL;
    syntax.compound = dbm_core::CompoundRule::SqliteTrigger;
    dbm_core::split_script(batch, &syntax, dbm_core::ScriptSplit::Semicolon)
        .into_iter()
        .map(|s| (s.sql, s.line))
        .collect()
}

fn parse_delay(text: &str) -> Duration {
    let mut secs = 0.0;
    for part in text.split(':') {
        secs = secs * 60.0 + part.trim().parse::<f64>().unwrap_or(0.0);
    }
    Duration::from_secs_f64(secs)
}
