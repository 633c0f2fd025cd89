//! The TDS test server stays valid TDS for clients other than ours: FreeTDS `tsql` and
//! python-tds each run a batch, a parameterised query and an error against it, and are
//! refused on a wrong password. Without the tools installed the checks say they are
//! skipped; `DBM_TEST_REQUIRE_TDS_CLIENTS=1` (CI) makes that a failure.
#![cfg(feature = "mssql")]

use std::io::Write;
use std::process::{Command, Stdio};

use dbm_testing::tds::TdsServer;

const REQUIRE: &str = "DBM_TEST_REQUIRE_TDS_CLIENTS";

fn have(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `tsql` with `input` on its stdin; returns (stdout + stderr, success).
fn tsql(port: u16, password: &str, input: &str) -> (String, bool) {
    let mut child = Command::new("tsql")
        .args([
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "sa",
            "-P",
            password,
        ])
        .args(["-D", "master", "-v", "7.4"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tsql");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write to tsql");
    let out = child.wait_with_output().expect("tsql output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (text, out.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freetds_tsql_runs_a_batch_a_parameterised_query_and_an_error() {
    if !have("tsql", &["-C"]) {
        dbm_testing::skip_unless_required(
            REQUIRE,
            "FreeTDS tsql is not installed (apt-get install freetds-bin)",
        );
        return;
    }
    let server = TdsServer::engine().await;
    let port = server.addr().port();
    let script = "SELECT 1 AS one, N'batch' AS kind\nGO\n\
        CREATE TABLE p (id INT, amount DECIMAL(10,2), note NVARCHAR(20))\nGO\n\
        INSERT INTO p VALUES (7, 12.30, N'seven')\nGO\n\
        EXEC sp_executesql N'SELECT id, amount, note FROM p WHERE id = @id', N'@id INT', @id = 7\nGO\n\
        SELECT * FROM missing_table\nGO\n";
    let (out, _) = tokio::task::spawn_blocking(move || tsql(port, TdsServer::PASSWORD, script))
        .await
        .expect("tsql ran");
    assert!(
        out.contains("one\tkind") && out.contains("1\tbatch"),
        "batch: {out}"
    );
    assert!(
        out.contains("7\t12.30\tseven"),
        "parameterised query: {out}"
    );
    assert!(
        out.contains("Msg 208") && out.contains("missing_table"),
        "error: {out}"
    );
    let requests = server.requests().len();
    assert_eq!(requests, 5, "one request per batch");

    let (out, _) =
        tokio::task::spawn_blocking(move || tsql(port, "wrong-password", "SELECT 1\nGO\n"))
            .await
            .expect("tsql ran");
    assert!(
        out.contains("Login failed for user 'sa'"),
        "the login error reached tsql: {out}"
    );
    assert_eq!(server.requests().len(), 5, "nothing ran without a login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_tds_runs_a_batch_a_parameterised_query_and_an_error() {
    if !have("python3", &["-c", "import pytds"]) {
        dbm_testing::skip_unless_required(
            REQUIRE,
            "python-tds is not installed (pip install python-tds)",
        );
        return;
    }
    let server = TdsServer::engine().await;
    let port = server.addr().port();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/pytds_check.py");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args([script, &port.to_string(), TdsServer::PASSWORD])
            .output()
            .expect("run python3")
    })
    .await
    .expect("python ran");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "python-tds check failed: {text}");
    for step in [
        "batch ok",
        "parameterised ok",
        "error ok 208",
        "login failure ok 18456",
    ] {
        assert!(text.contains(step), "{step}: {text}");
    }
    // The parameterised query came as an sp_executesql RPC with decoded parameters.
    let rpc = server
        .requests()
        .into_iter()
        .find(|r| {
            r.sql
                .starts_with("SELECT id, name, amount, at FROM interop")
        })
        .expect("the parameterised query reached the server");
    assert_eq!(rpc.kind, dbm_testing::tds::RequestKind::Rpc);
    assert_eq!(rpc.params.len(), 1, "{rpc:?}");
}
