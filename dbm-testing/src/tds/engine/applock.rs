//! `sp_getapplock` / `sp_releaseapplock` emulated per database, with SQL Server's return
//! codes, for the migration lock of the SQL Server driver.

use std::time::{Duration, Instant};

use super::{EngineSession, Event, Sender};
use crate::tds::tokens::Column;
use crate::tds::types::{TdsType, TdsValue};

impl EngineSession {
    /// `DECLARE @r int; EXEC @r = sp_getapplock @Resource = N'..', @LockMode = '..',
    /// @LockOwner = 'Session', @LockTimeout = n; SELECT @r AS result` (and the release),
    /// emulated per database with the same return codes.
    pub(super) fn applock(
        &mut self,
        batch: &str,
        events: &Sender,
    ) -> Result<(), (i32, u8, String)> {
        let arg = |name: &str| -> Option<String> {
            let upper = batch.to_ascii_uppercase();
            let p = upper.find(&format!("@{name}"))?;
            let rest = batch[p..].split_once('=')?.1.trim_start();
            let rest = rest.strip_prefix('N').unwrap_or(rest);
            Some(if let Some(q) = rest.strip_prefix('\'') {
                q.split('\'').next().unwrap_or("").to_owned()
            } else {
                rest.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
                    .next()
                    .unwrap_or("")
                    .to_owned()
            })
        };
        let resource =
            arg("RESOURCE").ok_or((201, 16, "sp_getapplock expects @Resource".to_owned()))?;
        let key = (self.database.clone(), resource);
        let release = batch.to_ascii_uppercase().contains("SP_RELEASEAPPLOCK");
        let result: i32 = if release {
            let mut locks = self.engine.locks.lock().unwrap_or_else(|p| p.into_inner());
            match locks.get(&key) {
                Some(owner) if *owner == self.spid => {
                    locks.remove(&key);
                    0
                }
                _ => {
                    return Err((
                        1223,
                        16,
                        format!(
                            "Cannot release the application lock (Database Principal: 'public', Resource: '{}') because it is not currently held.",
                            key.1
                        ),
                    ));
                }
            }
        } else {
            let timeout: i64 = arg("LOCKTIMEOUT")
                .and_then(|t| t.parse().ok())
                .unwrap_or(-1);
            let started = Instant::now();
            loop {
                {
                    let mut locks = self.engine.locks.lock().unwrap_or_else(|p| p.into_inner());
                    match locks.get(&key) {
                        None => {
                            locks.insert(key.clone(), self.spid);
                            break if started.elapsed() > Duration::from_millis(1) {
                                1
                            } else {
                                0
                            };
                        }
                        Some(owner) if *owner == self.spid => break 0,
                        Some(_) => {}
                    }
                }
                if timeout >= 0 && started.elapsed() >= Duration::from_millis(timeout as u64) {
                    break -1;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        let _ = events.blocking_send(Event::Columns(vec![Column::new("result", TdsType::Int)]));
        let _ = events.blocking_send(Event::Row(vec![TdsValue::Int(i64::from(result))]));
        let _ = events.blocking_send(Event::Done {
            count: Some(1),
            error: false,
        });
        Ok(())
    }
}
