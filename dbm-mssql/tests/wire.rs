//! The driver on the wire, against the scripted TDS test server: every statement it emits
//! is asserted verbatim, and failures are staged on purpose (a refused login, error
//! tokens, the socket closed mid-result, a statement that only stops on ATTENTION, an
//! acknowledgement that comes late or never).

use std::time::{Duration, Instant};

use dbm_core::{Database, ErrorCode, ErrorKind, ManageConnection, Params, PoolConfig, params};
use dbm_mssql::{MssqlDatabase, MssqlManager, MssqlOptions};
use dbm_testing::tds::{Action, Column, RequestKind, Script, TdsServer, TdsType, TdsValue};

const CONNECT: &str = "SET XACT_ABORT ON; SELECT @@SPID AS spid";

fn rows(name: &str, values: &[i64]) -> Action {
    Action::Rows {
        columns: vec![Column::new(name, TdsType::Int)],
        rows: values.iter().map(|v| vec![TdsValue::Int(*v)]).collect(),
    }
}

/// A script that lets connections in: every session says it is 51.
fn script() -> Script {
    Script::new().on(CONNECT, vec![Action::Done, rows("spid", &[51])])
}

fn options(server: &TdsServer) -> MssqlOptions {
    server.url("master").parse().expect("the test server's URL")
}

fn db(server: &TdsServer) -> MssqlDatabase {
    dbm_mssql::open(
        "wire",
        options(server),
        PoolConfig::new("wire")
            .pool_size(1)
            .max_overflow(0)
            .timeout(Duration::from_secs(10)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_sets_xact_abort_and_records_its_spid() {
    let server = TdsServer::scripted(script().on("SELECT 1 AS one", vec![rows("one", &[1])])).await;
    let conn = MssqlManager::new(options(&server)).connect().await.unwrap();
    assert_eq!(conn.spid(), 51);
    let db = db(&server);
    let got = db.query("SELECT 1 AS one", &Params::new()).await.unwrap();
    assert_eq!(got.first().unwrap().get::<i64>("one").unwrap(), 1);
    let requests = server.requests();
    let seen: Vec<(RequestKind, &str)> =
        requests.iter().map(|r| (r.kind, r.sql.as_str())).collect();
    assert_eq!(
        seen,
        [
            (RequestKind::Batch, CONNECT),
            (RequestKind::Batch, CONNECT),
            (RequestKind::Rpc, "SELECT 1 AS one"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_refused_by_number_without_the_password() {
    let server = TdsServer::scripted(script()).await;
    let url = server
        .url("master")
        .replace(TdsServer::PASSWORD, "Wrong-Pw-9X");
    let db = dbm_mssql::open("wire", url.parse().unwrap(), PoolConfig::new("wire"));
    let e = db.query("SELECT 1", &Params::new()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Authentication, "{e}");
    assert_eq!(e.code(), Some(&ErrorCode::MssqlNumber(18456)));
    let shown = format!("{e} {e:?}");
    assert!(shown.contains("login to mssql://sa@127.0.0.1:"), "{shown}");
    assert!(shown.contains("Login failed for user 'sa'"), "{shown}");
    assert!(
        !shown.contains("9X") && !shown.contains(TdsServer::PASSWORD),
        "{shown}"
    );
    assert!(!e.is_transient(), "a wrong password is not retried");
    assert!(e.hint().unwrap().contains("user name and password"));
    assert!(server.requests().is_empty(), "nothing ran without a login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_numbers_become_kinds_with_their_codes() {
    let error = |number: i32, class: u8, message: &str| Action::Error {
        number,
        class,
        message: message.to_owned(),
    };
    let server = TdsServer::scripted(
        script()
            .on(
                "DEADLOCK",
                vec![error(
                    1205,
                    13,
                    "Transaction (Process ID 51) was deadlocked",
                )],
            )
            .on(
                "SNAPSHOT",
                vec![error(3960, 16, "Snapshot isolation transaction aborted")],
            )
            .on(
                "LOCKWAIT",
                vec![error(1222, 16, "Lock request time out period exceeded.")],
            )
            .on(
                "DUPLICATE",
                vec![error(2627, 14, "Violation of PRIMARY KEY constraint")],
            )
            .on(
                "FK",
                vec![error(
                    547,
                    16,
                    "The INSERT statement conflicted with the FOREIGN KEY constraint",
                )],
            )
            .on(
                "MISSING",
                vec![error(208, 16, "Invalid object name 'nope'.")],
            )
            .on("FATAL", vec![error(2511, 21, "a fatal error")]),
    )
    .await;
    let db = db(&server);
    for (sql, kind, transient) in [
        ("DEADLOCK", ErrorKind::Transaction, true),
        ("SNAPSHOT", ErrorKind::Transaction, true),
        ("LOCKWAIT", ErrorKind::Transaction, true),
        ("DUPLICATE", ErrorKind::Constraint, false),
        ("FK", ErrorKind::Constraint, false),
        ("MISSING", ErrorKind::Query, false),
        ("FATAL", ErrorKind::Connection, false),
    ] {
        let e = db.execute(sql, &Params::new()).await.unwrap_err();
        assert_eq!(e.kind(), kind, "{sql}: {e}");
        assert_eq!(e.is_transient(), transient, "{sql}: {e}");
        assert!(
            matches!(e.code(), Some(ErrorCode::MssqlNumber(_))),
            "{sql}: {e:?}"
        );
        assert_eq!(e.database(), Some("wire"));
        assert_eq!(e.operation(), Some("execute"));
        if matches!(sql, "DEADLOCK" | "SNAPSHOT" | "LOCKWAIT") {
            assert!(
                e.hint().unwrap().contains("retry the whole transaction"),
                "{sql}: {e}"
            );
        }
    }
    // After each error the connection stayed in step and was kept, but for the class 21
    // one, which ends a session: the next statement has a new connection.
    assert_eq!(server.logins(), 1);
    let e = db.execute("MISSING", &Params::new()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Query);
    assert_eq!(
        server.logins(),
        2,
        "only the class 21 error cost a connection"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_returns_the_total_of_a_batch_and_query_refuses_two_result_sets() {
    let server = TdsServer::scripted(
        script()
            .on(
                "INSERT A; INSERT B",
                vec![Action::Count(2), Action::Count(3)],
            )
            .on(
                "SELECT 1 AS a; SELECT 2 AS b",
                vec![rows("a", &[1]), rows("b", &[2])],
            )
            .on("SELECT 3 AS c", vec![rows("c", &[3])]),
    )
    .await;
    let db = db(&server);
    assert_eq!(
        db.execute("INSERT A; INSERT B", &Params::new())
            .await
            .unwrap(),
        5
    );
    let e = db
        .query("SELECT 1 AS a; SELECT 2 AS b", &Params::new())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("returned 2 result sets"), "{e}");
    assert!(e.to_string().contains("all of its statements ran"), "{e}");
    // The whole reply was read: the connection answers the next query correctly.
    let r = db.query("SELECT 3 AS c", &Params::new()).await.unwrap();
    assert_eq!(r.first().unwrap().get::<i64>("c").unwrap(), 3);
    assert_eq!(server.logins(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_closed_mid_result_is_a_connection_error_and_the_pool_recovers() {
    let server = TdsServer::scripted(
        script()
            .on(
                "SELECT n FROM big",
                vec![Action::CloseMidResult {
                    columns: vec![Column::new("n", TdsType::Int)],
                    rows: vec![vec![TdsValue::Int(1)], vec![TdsValue::Int(2)]],
                }],
            )
            .on("SELECT 1 AS one", vec![rows("one", &[1])]),
    )
    .await;
    let db = db(&server);
    let e = db
        .query("SELECT n FROM big", &Params::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connection, "{e}");
    let write = db
        .execute("SELECT n FROM big", &Params::new())
        .await
        .unwrap_err();
    assert!(
        write.outcome_unknown(),
        "a write cut off midway may have happened: {write}"
    );
    let r = db.query("SELECT 1 AS one", &Params::new()).await.unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(server.logins(), 3, "each cut connection was replaced");
    assert_eq!(db.pool_status().checked_out, 0);
}

async fn timed_out(server: &TdsServer, sql: &str) -> (dbm_core::Error, Duration) {
    let db = db(server);
    let started = Instant::now();
    let e = db
        .query_with_timeout(sql, &Params::new(), Duration::from_millis(200))
        .await
        .unwrap_err();
    let took = started.elapsed();
    // The stopped connection is not reused: the next query has a fresh one.
    let r = db.query("SELECT 1 AS one", &Params::new()).await.unwrap();
    assert_eq!(r.len(), 1);
    (e, took)
}

fn stall(columns: Vec<Column>, rows: Vec<Vec<TdsValue>>) -> Vec<Action> {
    vec![Action::StallUntilAttention { columns, rows }]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_sends_attention_before_the_first_token_and_mid_stream() {
    let n = || vec![Column::new("n", TdsType::Int)];
    let server = TdsServer::scripted(
        script()
            .on("SELECT 1 AS one", vec![rows("one", &[1])])
            .on("WAIT FIRST", stall(Vec::new(), Vec::new()))
            .on("WAIT MIDWAY", stall(n(), vec![vec![TdsValue::Int(1)]])),
    )
    .await;
    for (i, sql) in ["WAIT FIRST", "WAIT MIDWAY"].into_iter().enumerate() {
        let (e, took) = timed_out(&server, sql).await;
        assert_eq!(e.kind(), ErrorKind::Timeout, "{sql}: {e}");
        assert!(
            !e.outcome_unknown(),
            "{sql}: the server acknowledged it: {e}"
        );
        assert!(
            e.to_string()
                .contains("the server confirmed the cancellation"),
            "{e}"
        );
        assert!(took < Duration::from_secs(2), "{sql}: {took:?}");
        assert_eq!(server.attentions(), i as u16 + 1);
        assert!(
            !server.sql_log().iter().any(|s| s.starts_with("KILL")),
            "no KILL needed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_acknowledgement_falls_back_to_kill_and_says_the_outcome_is_unknown() {
    let server = TdsServer::scripted(
        script()
            .on("SELECT 1 AS one", vec![rows("one", &[1])])
            .on("KILL 51", vec![Action::Done])
            .on(
                "FINISHES ANYWAY",
                vec![Action::Sleep(Duration::from_millis(600)), rows("n", &[7])],
            ),
    )
    .await;
    let (e, took) = timed_out(&server, "FINISHES ANYWAY").await;
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.outcome_unknown(), "it may have completed: {e}");
    let text = e.to_string();
    assert!(
        text.contains("ATTENTION failed") && text.contains("ended with KILL"),
        "{text}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    let kills: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.sql.starts_with("KILL"))
        .collect();
    assert_eq!(kills.len(), 1);
    assert_eq!(kills[0].sql, "KILL 51");
    assert_eq!(kills[0].kind, RequestKind::Batch);
    assert_ne!(kills[0].spid, 51, "from a fresh connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacknowledged_attention_falls_back_to_kill_within_its_bound() {
    let server = TdsServer::scripted(
        script()
            .on("SELECT 1 AS one", vec![rows("one", &[1])])
            .on("KILL 51", vec![Action::Done])
            .on(
                "DEAF",
                vec![Action::Sleep(Duration::from_secs(8)), rows("n", &[1])],
            ),
    )
    .await;
    let (e, took) = timed_out(&server, "DEAF").await;
    assert!(e.outcome_unknown(), "{e}");
    assert!(
        e.to_string()
            .contains("ATTENTION was not acknowledged within 2 s"),
        "{e}"
    );
    assert!(e.to_string().contains("ended with KILL"), "{e}");
    assert!(
        took >= dbm_mssql::ATTENTION_WAIT && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert!(server.sql_log().contains(&"KILL 51".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_statement_is_stopped_on_the_server() {
    let server = TdsServer::scripted(
        script()
            .on("SELECT 1 AS one", vec![rows("one", &[1])])
            .on("LONG", stall(Vec::new(), Vec::new())),
    )
    .await;
    let db = std::sync::Arc::new(db(&server));
    let d = db.clone();
    let task = tokio::spawn(async move { d.query("LONG", &Params::new()).await });
    while server.requests().iter().all(|r| r.sql != "LONG") {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    task.abort();
    let _ = task.await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.attentions() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        server.attentions(),
        1,
        "the abandoned statement was cancelled"
    );
    assert_eq!(db.pool_status().checked_out, 0);
    let r = db.query("SELECT 1 AS one", &params! {}).await.unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(
        server.logins(),
        2,
        "the abandoned connection was not pooled again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_dropped_midway_is_stopped_and_not_pooled() {
    let many: Vec<Vec<TdsValue>> = (0..50).map(|i| vec![TdsValue::Int(i)]).collect();
    let server = TdsServer::scripted(
        script()
            .on("SELECT 1 AS one", vec![rows("one", &[1])])
            .on("STREAM", stall(vec![Column::new("n", TdsType::Int)], many)),
    )
    .await;
    let db = db(&server);
    let mut stream = db.query_stream("STREAM", &Params::new()).await.unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first.get::<i64>("n").unwrap(), 0);
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.attentions() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.attentions(), 1);
    let r = db.query("SELECT 1 AS one", &Params::new()).await.unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(server.logins(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encryption_required_by_the_client_but_not_offered_is_a_clear_error() {
    let server = TdsServer::scripted(script()).await;
    let url = server
        .url("master")
        .replace("encrypt=DANGER_PLAINTEXT", "encrypt=true");
    let db = dbm_mssql::open("wire", url.parse().unwrap(), PoolConfig::new("wire"));
    let e = db.query("SELECT 1", &Params::new()).await.unwrap_err();
    let text = e.to_string();
    assert_eq!(e.kind(), ErrorKind::Connection, "{text}");
    assert!(
        text.contains("Server does not allow the requested encryption level"),
        "{text}"
    );
    assert!(
        e.hint().unwrap().contains("encrypt=true disagree on TLS"),
        "{e:?}"
    );
    assert!(!text.contains(TdsServer::PASSWORD), "{text}");
    assert!(server.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_the_server_ended_is_replaced_at_checkout() {
    let server = TdsServer::engine().await;
    let db = dbm_mssql::open(
        "wire",
        options(&server),
        PoolConfig::new("wire")
            .pool_size(1)
            .max_overflow(0)
            .pre_ping_skip(Duration::ZERO),
    );
    let r = db
        .query("SELECT @@SPID AS spid", &Params::new())
        .await
        .unwrap();
    let first: i64 = r.first().unwrap().get("spid").unwrap();
    // The server ends the idle pooled session (as KILL or a restart would).
    server.kill(first as u16);
    let r = db
        .query("SELECT @@SPID AS spid", &Params::new())
        .await
        .unwrap();
    let second: i64 = r.first().unwrap().get("spid").unwrap();
    assert_ne!(first, second, "a new session replaced the dead one");
    assert_eq!(server.logins(), 2);
    let status = db.pool_status();
    assert_eq!(status.checked_out, 0);
}
