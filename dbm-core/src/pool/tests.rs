//! Exact accounting of the pool against a fake connection manager.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::*;

/// A fake server: connections remember the server generation they were opened in; a
/// "restart" bumps the generation so older connections fail their ping.
#[derive(Default)]
struct FakeManager {
    opened: AtomicU32,
    generation: Arc<AtomicU32>,
    connect_delay: Duration,
    ping_delay: Duration,
    pings: AtomicU32,
}

#[derive(Debug)]
struct FakeConn {
    id: u32,
    generation: u32,
    in_transaction: bool,
}

#[async_trait]
impl ManageConnection for FakeManager {
    type Connection = FakeConn;

    async fn connect(&self) -> Result<FakeConn> {
        if !self.connect_delay.is_zero() {
            tokio::time::sleep(self.connect_delay).await;
        }
        Ok(FakeConn {
            id: self.opened.fetch_add(1, Ordering::SeqCst) + 1,
            generation: self.generation.load(Ordering::SeqCst),
            in_transaction: false,
        })
    }

    async fn ping(&self, conn: &mut FakeConn) -> Result<()> {
        self.pings.fetch_add(1, Ordering::SeqCst);
        if !self.ping_delay.is_zero() {
            tokio::time::sleep(self.ping_delay).await;
        }
        if conn.generation == self.generation.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::Connection,
                "server closed the connection",
            ))
        }
    }

    fn must_discard(&self, conn: &FakeConn) -> bool {
        conn.in_transaction
    }
}

fn pool(size: u32, overflow: i32) -> Pool<FakeManager> {
    Pool::new(
        FakeManager::default(),
        PoolConfig::new("fake")
            .pool_size(size)
            .max_overflow(overflow)
            .timeout(Duration::from_millis(100))
            .pre_ping_skip(Duration::ZERO),
    )
}

#[tokio::test]
async fn connections_open_lazily() {
    let p = pool(3, 2);
    let s = p.status();
    assert_eq!((s.total_connections, s.connections_created), (0, 0));
    let _c = p.get().await.unwrap();
    assert_eq!(p.status().connections_created, 1);
}

#[tokio::test]
async fn overflow_opens_under_load_and_closes_on_checkin() {
    let p = pool(2, 2);
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(p.get().await.unwrap());
    }
    let s = p.status();
    assert_eq!(s.checked_out, 4);
    assert_eq!(s.overflow, 2);
    assert_eq!(s.total_connections, 4);
    assert_eq!(s.utilization_percent, 100.0);

    // The first two check-ins fill the idle queue; the other two find it full and close.
    held.truncate(2);
    let s = p.status();
    assert_eq!(
        (s.checked_in, s.checked_out, s.connections_closed),
        (2, 2, 0)
    );
    drop(held);
    let s = p.status();
    assert_eq!(s.checked_in, 2);
    assert_eq!(s.checked_out, 0);
    assert_eq!(s.overflow, 0);
    assert_eq!(s.connections_created, 4);
    assert_eq!(s.connections_closed, 2);
}

#[tokio::test]
async fn overflow_checked_in_while_pool_has_room_is_kept() {
    let p = pool(2, 2);
    let a = p.get().await.unwrap();
    let b = p.get().await.unwrap();
    let c = p.get().await.unwrap();
    drop(a); // idle: 1 (< pool_size), kept
    drop(b); // idle: 2, kept
    drop(c); // idle already pool_size: closed
    let s = p.status();
    assert_eq!((s.checked_in, s.connections_closed), (2, 1));
}

#[tokio::test]
async fn timeout_error_names_pool_and_prints_status() {
    let p = pool(1, 0);
    let _held = p.get().await.unwrap();
    let started = Instant::now();
    let err = p.get().await.unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert_eq!(err.kind(), ErrorKind::PoolExhausted);
    let msg = err.to_string();
    assert!(msg.starts_with("[fake] checkout: pool exhausted"), "{msg}");
    assert!(msg.contains("within 100 ms"), "{msg}");
    assert!(
        msg.contains("pool_size=1 max_overflow=0 checked_in=0 checked_out=1"),
        "{msg}"
    );
    assert!(msg.contains("hint: raise pool_size"), "{msg}");
    let s = p.status();
    assert_eq!((s.checkout_timeouts, s.waiting), (1, 0));
}

#[tokio::test]
async fn unlimited_overflow_never_waits() {
    let p = pool(1, -1);
    let held: Vec<_> = futures_join(&p, 20).await;
    let s = p.status();
    assert_eq!(s.checked_out, 20);
    assert_eq!(s.max_connections, None);
    drop(held);
    assert_eq!(p.status().checked_in, 1);
}

async fn futures_join(p: &Pool<FakeManager>, n: usize) -> Vec<PooledConnection<FakeManager>> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(p.get().await.unwrap());
    }
    v
}

#[tokio::test]
async fn pre_ping_replaces_a_dead_connection_and_counts_it_invalid() {
    let p = pool(2, 0);
    let a = p.get().await.unwrap();
    let b = p.get().await.unwrap();
    drop(a);
    drop(b);
    // The server restarts: both idle connections are dead.
    p.manager().generation.fetch_add(1, Ordering::SeqCst);
    let c = p.get().await.unwrap();
    assert_eq!(c.id, 3, "a fresh connection replaces the dead one");
    let s = p.status();
    // The first failed ping invalidated the other idle connection too: it was discarded
    // without a second ping.
    assert_eq!(s.invalid, 2);
    assert_eq!(p.manager().pings.load(Ordering::SeqCst), 1);
    assert_eq!(s.connections_created, 3);
    assert_eq!((s.checked_in, s.checked_out), (0, 1));
    assert_eq!(
        s.checkouts, 3,
        "the refused idle connections are not checkouts"
    );
}

#[tokio::test]
async fn checkout_cancelled_during_the_ping_is_not_counted() {
    let p = Pool::new(
        FakeManager {
            ping_delay: Duration::from_secs(10),
            ..FakeManager::default()
        },
        PoolConfig::new("fake")
            .pool_size(1)
            .max_overflow(0)
            .pre_ping_skip(Duration::ZERO),
    );
    drop(p.get().await.unwrap());
    let p2 = p.clone();
    let task = tokio::spawn(async move { p2.get().await.map(|_| ()) });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(p.manager().pings.load(Ordering::SeqCst), 1, "it is pinging");
    task.abort();
    let _ = task.await;
    let s = p.status();
    assert_eq!((s.checked_out, s.checkouts), (0, 1));
    assert_eq!(
        (s.checked_in, s.connections_closed, s.total_connections),
        (0, 1, 0),
        "the connection dropped with the checkout is counted as closed"
    );
    assert_eq!(
        p.shared.semaphore.available_permits(),
        1,
        "the permit came back"
    );
}

#[tokio::test]
async fn recently_used_connections_skip_the_ping() {
    let p = Pool::new(
        FakeManager::default(),
        PoolConfig::new("fake").pre_ping_skip(Duration::from_secs(60)),
    );
    drop(p.get().await.unwrap());
    drop(p.get().await.unwrap());
    assert_eq!(p.manager().pings.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn invalidate_replaces_older_connections_at_next_checkout() {
    let p = pool(2, 0);
    let a = p.get().await.unwrap();
    let b = p.get().await.unwrap();
    drop(a);
    p.invalidate(); // a query on some connection found the server gone
    drop(b);
    let c = p.get().await.unwrap();
    let d = p.get().await.unwrap();
    assert!(
        c.id > 2 && d.id > 2,
        "both old connections replaced: {} {}",
        c.id,
        d.id
    );
    assert_eq!(p.status().invalid, 2);
    assert_eq!(p.status().checkouts, 4);
}

#[tokio::test]
async fn recycle_replaces_old_connections() {
    let p = Pool::new(
        FakeManager::default(),
        PoolConfig::new("fake").recycle(Some(Duration::from_millis(20))),
    );
    drop(p.get().await.unwrap());
    tokio::time::sleep(Duration::from_millis(30)).await;
    let c = p.get().await.unwrap();
    assert_eq!(c.id, 2);
    assert_eq!(p.status().invalid, 0, "recycling is not invalidation");
    assert_eq!(
        p.status().checkouts,
        2,
        "the recycled connection is not a checkout"
    );
}

#[tokio::test]
async fn broken_or_in_transaction_connections_are_closed_not_returned() {
    let p = pool(2, 0);
    let mut a = p.get().await.unwrap();
    a.in_transaction = true; // e.g. the task was cancelled mid-transaction
    drop(a);
    let mut b = p.get().await.unwrap();
    b.mark_broken();
    drop(b);
    let s = p.status();
    assert_eq!(
        (s.checked_in, s.checked_out, s.connections_closed),
        (0, 0, 2)
    );
    assert_eq!(s.invalid, 1, "only the broken one counts as invalid");
}

#[tokio::test]
async fn cancelled_waiter_leaks_nothing() {
    let p = Pool::new(
        FakeManager::default(),
        PoolConfig::new("fake").pool_size(1).max_overflow(0),
    );
    let held = p.get().await.unwrap();
    let p2 = p.clone();
    let waiter = tokio::spawn(async move { p2.get().await.map(|c| c.id) });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(p.status().waiting, 1);
    waiter.abort();
    assert!(waiter.await.unwrap_err().is_cancelled());
    assert_eq!(p.status().waiting, 0);
    drop(held);
    let s = p.status();
    assert_eq!(
        (s.checked_in, s.checked_out, s.total_connections),
        (1, 0, 1)
    );
    let again = tokio::time::timeout(Duration::from_millis(50), p.get()).await;
    assert_eq!(
        again.unwrap().unwrap().id,
        1,
        "the one connection is still usable"
    );
}

#[tokio::test]
async fn cancelled_connect_leaks_nothing() {
    let p = Pool::new(
        FakeManager {
            connect_delay: Duration::from_secs(10),
            ..FakeManager::default()
        },
        PoolConfig::new("fake").pool_size(1).max_overflow(0),
    );
    let p2 = p.clone();
    let task = tokio::spawn(async move { p2.get().await.map(|_| ()) });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        p.status().checked_out,
        1,
        "a connection being opened counts as checked out"
    );
    task.abort();
    let _ = task.await;
    let s = p.status();
    assert_eq!((s.checked_out, s.total_connections, s.waiting), (0, 0, 0));
    assert_eq!(
        p.shared.semaphore.available_permits(),
        1,
        "the permit came back"
    );
}

#[tokio::test]
async fn waiters_are_served_in_arrival_order() {
    let p = Pool::new(
        FakeManager::default(),
        PoolConfig::new("fake")
            .pool_size(1)
            .max_overflow(0)
            .timeout(Duration::from_secs(5)),
    );
    let held = p.get().await.unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..5 {
        let (p, order) = (p.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            let c = p.get().await.unwrap();
            order.lock().unwrap().push(i);
            tokio::time::sleep(Duration::from_millis(2)).await;
            drop(c);
        }));
        tokio::time::sleep(Duration::from_millis(5)).await; // make arrival order certain
    }
    assert_eq!(p.status().waiting, 5);
    drop(held);
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4]);
}

#[tokio::test]
async fn close_fails_waiters_and_later_checkouts() {
    let p = pool(1, 0);
    let held = p.get().await.unwrap();
    let p2 = p.clone();
    let waiter = tokio::spawn(async move { p2.get().await.map(|_| ()) });
    tokio::time::sleep(Duration::from_millis(10)).await;
    p.close();
    assert_eq!(waiter.await.unwrap().unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(p.get().await.unwrap_err().kind(), ErrorKind::Closed);
    drop(held);
    let s = p.status();
    assert!(s.closed);
    assert_eq!(
        (s.checked_in, s.checked_out),
        (0, 0),
        "returned connection was closed"
    );
}

#[tokio::test]
async fn wait_time_is_recorded() {
    let p = Pool::new(
        FakeManager::default(),
        PoolConfig::new("fake").pool_size(1).max_overflow(0),
    );
    let held = p.get().await.unwrap();
    let p2 = p.clone();
    let t = tokio::spawn(async move { p2.get().await.map(|_| ()) });
    tokio::time::sleep(Duration::from_millis(30)).await;
    drop(held);
    t.await.unwrap().unwrap();
    let s = p.status();
    assert!(s.wait_time_max_ms >= 25.0, "{}", s.wait_time_max_ms);
    assert_eq!(s.checkouts, 2);
}
