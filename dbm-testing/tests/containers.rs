//! The container fixtures' fallback: with no Docker engine they use the servers the
//! variables name. (The container path itself needs Docker, which our CI does not have:
//! it is not tested here.)
#![cfg(feature = "testcontainers")]

use dbm_testing::containers::{ServerFixture, Source, docker_available};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_docker_the_variables_name_the_servers() {
    if docker_available() {
        dbm_testing::skip_unless_required(
            "DBM_TEST_REQUIRE_NO_DOCKER",
            "a Docker engine is reachable: the fallback to the variables is not what runs here",
        );
        return;
    }
    match std::env::var(dbm_testing::POSTGRES_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => {
            let pg = ServerFixture::postgres()
                .await
                .expect("the variable's server");
            assert_eq!(pg.source(), Source::Variable);
            assert_eq!(pg.url(), url);
            let server = pg.into_test_server();
            assert_eq!(server.url(), url);
            // A database made on it works.
            #[cfg(feature = "postgres")]
            {
                let t = dbm_testing::TestDb::on_server(
                    &dbm_postgres::DRIVER,
                    dbm_testing::default_pool(),
                    server,
                )
                .await;
                let rows =
                    t.db.query("SELECT 1 AS one", &dbm_core::Params::new())
                        .await
                        .unwrap();
                assert_eq!(rows.len(), 1);
            }
        }
        _ => {
            // No variable either: the fixture says it skips (or fails under REQUIRE).
            if !dbm_testing::postgres_required() {
                assert!(ServerFixture::postgres().await.is_none());
            }
        }
    }
    if std::env::var("DBM_TEST_MSSQL_URL").is_err()
        && std::env::var("DBM_TEST_REQUIRE_MSSQL").is_err()
    {
        assert!(
            ServerFixture::mssql().await.is_none(),
            "no Docker, no variable: no server"
        );
    }
}
