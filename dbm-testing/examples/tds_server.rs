//! Runs the engine-mode TDS test server until killed, printing its address, so that
//! independent clients (FreeTDS `tsql`, python-tds) can be pointed at it:
//!
//! ```text
//! cargo run -p dbm-testing --features mssql --example tds_server
//! ```
#![allow(clippy::print_stdout)]

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let server = dbm_testing::tds::TdsServer::engine().await;
    println!("port={}", server.addr().port());
    println!("password={}", dbm_testing::tds::TdsServer::PASSWORD);
    use std::io::Write;
    let _ = std::io::stdout().flush();
    std::future::pending::<()>().await;
}
