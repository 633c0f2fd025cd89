//! One pool layer for every driver, with SQLAlchemy `QueuePool` semantics.
//!
//! - `pool_size` connections are kept; up to `max_overflow` more are opened under load and
//!   closed when checked in while `pool_size` connections are already idle.
//! - Connections open lazily. Waiters are served first come, first served (tokio's semaphore
//!   is fair); `timeout` bounds the wait and the error prints the pool status.
//! - `pre_ping` validates at checkout unless the connection was used within
//!   `pre_ping_skip`. A failed ping, or [`Pool::invalidate`] after the server went away,
//!   invalidates every connection opened before that moment.
//! - A checked-out connection that is dropped while broken or inside a transaction (a
//!   cancelled task) is closed, never returned.

mod status;

use std::collections::VecDeque;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use crate::error::{Error, ErrorKind, Result};

pub use status::{ConnectTarget, Metric, PoolConfig, PoolStatus};

/// How a driver opens, checks and judges its connections.
#[async_trait]
pub trait ManageConnection: Send + Sync + 'static {
    /// The driver's connection type.
    type Connection: Send + 'static;

    /// Opens a new connection.
    async fn connect(&self) -> Result<Self::Connection>;

    /// Checks that a connection still works.
    async fn ping(&self, conn: &mut Self::Connection) -> Result<()>;

    /// Whether a connection being checked in must be closed instead of kept: broken, lost
    /// mid-operation, or left inside a transaction.
    fn must_discard(&self, conn: &Self::Connection) -> bool;

    /// Where connections go, for logs (never a password).
    fn target(&self) -> ConnectTarget {
        ConnectTarget::default()
    }
}

struct Idle<C> {
    conn: C,
    created: Instant,
    last_used: Instant,
}

#[derive(Default)]
struct State<C> {
    idle: VecDeque<Idle<C>>,
    checked_out: u32,
    waiting: u32,
    invalid_before: Option<Instant>,
    closed: bool,
    invalid: u64,
    created: u64,
    closed_conns: u64,
    checkouts: u64,
    timeouts: u64,
    wait_total: Duration,
    wait_max: Duration,
}

struct Shared<M: ManageConnection> {
    manager: M,
    config: PoolConfig,
    semaphore: Arc<Semaphore>,
    state: Mutex<State<M::Connection>>,
}

/// A connection pool over a driver's [`ManageConnection`]. Cheap to clone.
///
/// ```
/// use dbm_core::{ManageConnection, Pool, PoolConfig, Result};
/// struct Numbers;
/// #[async_trait::async_trait]
/// impl ManageConnection for Numbers {
///     type Connection = u32;
///     async fn connect(&self) -> Result<u32> { Ok(7) }
///     async fn ping(&self, _: &mut u32) -> Result<()> { Ok(()) }
///     fn must_discard(&self, _: &u32) -> bool { false }
/// }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let pool = Pool::new(Numbers, PoolConfig::new("demo").pool_size(1).max_overflow(0));
/// let conn = pool.get().await.unwrap();
/// assert_eq!(*conn, 7);
/// assert_eq!(pool.status().checked_out, 1);
/// drop(conn);
/// assert_eq!(pool.status().checked_in, 1);
/// # });
/// ```
pub struct Pool<M: ManageConnection> {
    shared: Arc<Shared<M>>,
}

impl<M: ManageConnection> Clone for Pool<M> {
    fn clone(&self) -> Self {
        Pool {
            shared: self.shared.clone(),
        }
    }
}

impl<M: ManageConnection> fmt::Debug for Pool<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("status", &self.status())
            .finish()
    }
}

/// Decrements `checked_out` unless disarmed: keeps the books right when a checkout is
/// cancelled while it pings or connects.
struct Reservation<'a, M: ManageConnection> {
    shared: &'a Shared<M>,
    armed: bool,
}

impl<M: ManageConnection> Drop for Reservation<'_, M> {
    fn drop(&mut self) {
        if self.armed {
            let mut st = self.shared.lock();
            st.checked_out -= 1;
        }
    }
}

/// Keeps the books when a checkout is cancelled (dropped) while it pre-pings: the checkout
/// counted in advance is taken back, and the connection, dropped with the checkout, is
/// counted as closed.
struct PingGuard<'a, M: ManageConnection>(Option<&'a Shared<M>>);

impl<M: ManageConnection> Drop for PingGuard<'_, M> {
    fn drop(&mut self) {
        if let Some(shared) = self.0 {
            let mut st = shared.lock();
            st.checkouts -= 1;
            st.closed_conns += 1;
        }
    }
}

/// Decrements `waiting` when the wait ends, however it ends.
struct Waiting<'a, M: ManageConnection>(&'a Shared<M>);

impl<M: ManageConnection> Drop for Waiting<'_, M> {
    fn drop(&mut self) {
        self.0.lock().waiting -= 1;
    }
}

impl<M: ManageConnection> Shared<M> {
    fn lock(&self) -> MutexGuard<'_, State<M::Connection>> {
        // A panic while holding this lock cannot leave the counters half-updated in a way
        // that matters more than stopping the whole pool would, so recover the guard.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn status(&self) -> PoolStatus {
        let st = self.lock();
        let c = &self.config;
        let checked_in = st.idle.len() as u32;
        let total = checked_in + st.checked_out;
        let max = c.max_connections();
        let denominator = max.unwrap_or(c.pool_size.max(total)).max(1);
        PoolStatus {
            name: c.name.clone(),
            pool_size: c.pool_size,
            max_overflow: c.max_overflow,
            checked_in,
            checked_out: st.checked_out,
            overflow: total.saturating_sub(c.pool_size),
            invalid: st.invalid,
            waiting: st.waiting,
            total_connections: total,
            max_connections: max,
            utilization_percent: f64::from(st.checked_out) * 100.0 / f64::from(denominator),
            connections_created: st.created,
            connections_closed: st.closed_conns,
            checkouts: st.checkouts,
            checkout_timeouts: st.timeouts,
            wait_time_total_ms: st.wait_total.as_secs_f64() * 1000.0,
            wait_time_max_ms: st.wait_max.as_secs_f64() * 1000.0,
            closed: st.closed,
        }
    }

    fn closed_error(&self) -> Error {
        Error::new(ErrorKind::Closed, "the pool was closed")
            .with_database(self.config.name.clone())
            .with_operation("checkout")
    }
}

/// A pre-ping that a server which stopped answering cannot hold forever: it gets the
/// checkout timeout, and running out of it counts as a failed ping.
async fn bounded_ping<M: ManageConnection>(
    shared: &Shared<M>,
    conn: &mut M::Connection,
) -> Result<()> {
    match tokio::time::timeout(shared.config.timeout, shared.manager.ping(conn)).await {
        Ok(r) => r,
        Err(_) => Err(Error::new(
            ErrorKind::Connection,
            format!(
                "the pre-ping got no answer within {} ms",
                shared.config.timeout.as_millis()
            ),
        )),
    }
}

impl<M: ManageConnection> Pool<M> {
    /// A pool; no connection is opened until the first checkout.
    pub fn new(manager: M, config: PoolConfig) -> Self {
        let target = manager.target();
        tracing::info!(
            pool = %config.name,
            target = %target,
            server.address = target.host.as_deref(),
            server.port = target.port,
            db.namespace = target.database.as_deref(),
            db.user = target.user.as_deref(),
            pool_size = config.pool_size,
            max_overflow = config.max_overflow,
            "connection pool created (connections open on first use)"
        );
        let permits = config
            .max_connections()
            .map_or(Semaphore::MAX_PERMITS, |n| n as usize);
        Pool {
            shared: Arc::new(Shared {
                manager,
                config,
                semaphore: Arc::new(Semaphore::new(permits)),
                state: Mutex::new(State {
                    idle: VecDeque::new(),
                    checked_out: 0,
                    waiting: 0,
                    invalid_before: None,
                    closed: false,
                    invalid: 0,
                    created: 0,
                    closed_conns: 0,
                    checkouts: 0,
                    timeouts: 0,
                    wait_total: Duration::ZERO,
                    wait_max: Duration::ZERO,
                }),
            }),
        }
    }

    /// The pool's configuration.
    pub fn config(&self) -> &PoolConfig {
        &self.shared.config
    }

    /// The driver's connection manager.
    pub fn manager(&self) -> &M {
        &self.shared.manager
    }

    /// A snapshot of the pool's gauges and counters.
    pub fn status(&self) -> PoolStatus {
        self.shared.status()
    }

    /// Checks out a connection: an idle one (most recently used first), or a new one while
    /// the pool is below its maximum, or the first one returned, waiting at most `timeout`.
    ///
    /// When a permit is free and an idle connection fits, the checkout takes the pool's lock
    /// once and arms no timer.
    pub async fn get(&self) -> Result<PooledConnection<M>> {
        let shared = &*self.shared;
        let (permit, mut waited) = match shared.semaphore.clone().try_acquire_owned() {
            Ok(permit) => (permit, Some(Duration::ZERO)),
            Err(TryAcquireError::Closed) => return Err(shared.closed_error()),
            Err(TryAcquireError::NoPermits) => {
                let started = Instant::now();
                let permit = self.wait_for_permit(started).await?;
                (permit, Some(started.elapsed()))
            }
        };
        if let Some(w) = waited {
            crate::observe::connection_wait(&shared.config.name, w, false);
        }
        loop {
            let candidate = {
                let mut st = shared.lock();
                if let Some(w) = waited.take() {
                    st.wait_total += w;
                    st.wait_max = st.wait_max.max(w);
                }
                if st.closed {
                    return Err(shared.closed_error());
                }
                st.checked_out += 1;
                let idle = st.idle.pop_back();
                if idle.is_some() {
                    // Counted now to take the lock once; taken back below if it is refused.
                    st.checkouts += 1;
                }
                idle.map(|idle| (idle, st.invalid_before))
            };
            let mut reservation = Reservation {
                shared,
                armed: true,
            };
            let Some((mut idle, invalid_before)) = candidate else {
                let conn = match shared.manager.connect().await {
                    Ok(c) => c,
                    Err(e) => {
                        let target = shared.manager.target();
                        tracing::warn!(
                            pool = %shared.config.name,
                            target = %target,
                            server.address = target.host.as_deref(),
                            server.port = target.port,
                            db.namespace = target.database.as_deref(),
                            db.user = target.user.as_deref(),
                            error = %e,
                            "connection failed"
                        );
                        return Err(e);
                    }
                };
                tracing::debug!(pool = %shared.config.name, "connection opened");
                let now = Instant::now();
                reservation.armed = false;
                let mut st = shared.lock();
                st.created += 1;
                st.checkouts += 1;
                drop(st);
                return Ok(self.wrap(conn, now, permit));
            };
            if invalid_before.is_some_and(|t| idle.created <= t) {
                let mut st = shared.lock();
                st.checkouts -= 1;
                st.invalid += 1;
                st.closed_conns += 1;
                continue; // reservation released on drop; the connection is closed here
            }
            if shared
                .config
                .recycle
                .is_some_and(|age| idle.created.elapsed() >= age)
            {
                let mut st = shared.lock();
                st.checkouts -= 1;
                st.closed_conns += 1;
                continue;
            }
            let stale =
                shared.config.pre_ping && idle.last_used.elapsed() >= shared.config.pre_ping_skip;
            if stale {
                // A checkout cancelled during the ping must not stay counted.
                let mut guard = PingGuard(Some(shared));
                let pinged = bounded_ping(shared, &mut idle.conn).await;
                guard.0 = None;
                if let Err(e) = pinged {
                    tracing::warn!(
                        pool = %shared.config.name,
                        error = %e,
                        "pre-ping failed: invalidating every connection opened before now"
                    );
                    let mut st = shared.lock();
                    st.checkouts -= 1;
                    st.invalid += 1;
                    st.closed_conns += 1;
                    st.invalid_before = Some(Instant::now());
                    continue;
                }
            }
            reservation.armed = false;
            return Ok(self.wrap(idle.conn, idle.created, permit));
        }
    }

    /// Waits for a permit (every connection is in use), at most the pool's timeout.
    async fn wait_for_permit(&self, started: Instant) -> Result<OwnedSemaphorePermit> {
        let shared = &*self.shared;
        shared.lock().waiting += 1;
        let waiting = Waiting(shared);
        let acquire = shared.semaphore.clone().acquire_owned();
        match tokio::time::timeout(shared.config.timeout, acquire).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(shared.closed_error()),
            Err(_) => {
                shared.lock().timeouts += 1;
                drop(waiting);
                crate::observe::connection_wait(&shared.config.name, started.elapsed(), true);
                let status = shared.status();
                Err(Error::new(
                    ErrorKind::PoolExhausted,
                    format!(
                        "no connection available within {} ms ({status})",
                        shared.config.timeout.as_millis()
                    ),
                )
                .with_database(shared.config.name.clone())
                .with_operation("checkout")
                .with_hint(
                    "raise pool_size or max_overflow, raise the pool timeout, or find the \
                     tasks that hold connections too long",
                ))
            }
        }
    }

    fn wrap(
        &self,
        conn: M::Connection,
        created: Instant,
        permit: OwnedSemaphorePermit,
    ) -> PooledConnection<M> {
        PooledConnection {
            conn: Some(conn),
            created,
            broken: false,
            pool: self.clone(),
            _permit: permit,
        }
    }

    /// Marks every connection opened before now as invalid: each is replaced at its next
    /// checkout. Call it when a query finds the server gone.
    pub fn invalidate(&self) {
        self.shared.lock().invalid_before = Some(Instant::now());
    }

    /// Closes the pool: idle connections are closed now, checked-out ones when returned,
    /// and waiting or later checkouts fail with [`ErrorKind::Closed`].
    pub fn close(&self) {
        let (idle, busy) = {
            let mut st = self.shared.lock();
            st.closed = true;
            let idle: Vec<_> = st.idle.drain(..).collect();
            st.closed_conns += idle.len() as u64;
            (idle, st.checked_out)
        };
        self.shared.semaphore.close();
        tracing::info!(
            pool = %self.shared.config.name,
            closed_now = idle.len(),
            closing_when_returned = busy,
            "connection pool closed"
        );
        drop(idle);
    }

    /// Whether [`close`](Pool::close) was called.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }
}

/// A checked-out connection; it goes back to the pool (or is closed) when dropped.
pub struct PooledConnection<M: ManageConnection> {
    conn: Option<M::Connection>,
    created: Instant,
    broken: bool,
    pool: Pool<M>,
    _permit: OwnedSemaphorePermit,
}

impl<M: ManageConnection> PooledConnection<M> {
    /// Marks the connection as broken: it is closed, not returned, and counted as invalid.
    pub fn mark_broken(&mut self) {
        self.broken = true;
    }

    /// The pool this connection came from.
    pub fn pool(&self) -> &Pool<M> {
        &self.pool
    }
}

impl<M: ManageConnection> Deref for PooledConnection<M> {
    type Target = M::Connection;
    fn deref(&self) -> &M::Connection {
        self.conn.as_ref().expect("connection present until drop")
    }
}

impl<M: ManageConnection> DerefMut for PooledConnection<M> {
    fn deref_mut(&mut self) -> &mut M::Connection {
        self.conn.as_mut().expect("connection present until drop")
    }
}

impl<M: ManageConnection> fmt::Debug for PooledConnection<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledConnection")
            .field("pool", &self.pool.shared.config.name)
            .field("broken", &self.broken)
            .finish()
    }
}

impl<M: ManageConnection> Drop for PooledConnection<M> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        let shared = &*self.pool.shared;
        let discard = self.broken || shared.manager.must_discard(&conn);
        let mut st = shared.lock();
        st.checked_out -= 1;
        let keep = !discard && !st.closed && (st.idle.len() as u32) < shared.config.pool_size;
        if keep {
            st.idle.push_back(Idle {
                conn,
                created: self.created,
                last_used: Instant::now(),
            });
            return; // the permit is released after this, so a waiter finds the idle connection
        }
        st.closed_conns += 1;
        if self.broken {
            st.invalid += 1;
        }
        drop(st);
        drop(conn); // closed outside the lock
    }
}

#[cfg(test)]
mod tests;
