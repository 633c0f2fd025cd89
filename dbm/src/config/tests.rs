//! Configuration tests; most use SQLite URLs, some PostgreSQL ones, each gated by its driver.
#![cfg_attr(
    not(all(feature = "sqlite", feature = "postgres")),
    allow(unused_imports, dead_code)
)]

use std::time::Duration;

use dbm_core::{Backend, ErrorKind};
use secrecy::ExposeSecret;

use super::*;

const FILE: &str = "\
[defaults]
pool_size = 3
timeout = 10

[retry]
max_attempts = 5

[databases.app]
url = \"sqlite://target/app.db\"
max_overflow = 2

[env.production.databases.app]
pool_size = 20
url = \"sqlite:///srv/app.db\"

[env.staging.defaults]
pool_size = 8
";

fn loader() -> ConfigLoader {
    Config::loader().toml(FILE).base_dir("/proj")
}

fn origin_of<'a>(d: &'a DatabaseConfig, key: &str) -> &'a SettingReport {
    d.origins.iter().find(|s| s.key == key).unwrap()
}

#[cfg(feature = "sqlite")]
#[test]
fn each_layer_overrides_the_one_below() {
    // default < file: timeout from [defaults], pre_ping built in.
    let d = loader().load().unwrap().database("app").unwrap();
    assert_eq!(d.environment, "development");
    assert_eq!(d.pool_size, 3);
    assert_eq!(d.timeout, Duration::from_secs(10));
    assert!(d.pre_ping);
    assert_eq!(d.retry.max_attempts, 5);
    assert_eq!(origin_of(&d, "pre_ping").origin, "default");
    assert_eq!(origin_of(&d, "pool_size").detail, "dbm.toml line 2");
    assert_eq!(origin_of(&d, "max_overflow").detail, "dbm.toml line 10");

    // file < environment section
    let d = loader()
        .environment("production")
        .load()
        .unwrap()
        .database("app")
        .unwrap();
    assert_eq!(d.pool_size, 20);
    assert_eq!(d.url().expose_secret(), "sqlite:///srv/app.db");
    assert_eq!(origin_of(&d, "pool_size").origin, "environment");
    assert_eq!(
        d.max_overflow, 2,
        "keys the section does not set still come from the file"
    );

    // environment section < DBM__ variable
    let d = loader()
        .environment("production")
        .var("DBM__DATABASES__APP__POOL_SIZE", "30")
        .var("DBM__DEFAULTS__PRE_PING", "false")
        .load()
        .unwrap()
        .database("app")
        .unwrap();
    assert_eq!(d.pool_size, 30);
    assert!(!d.pre_ping);
    assert_eq!(
        origin_of(&d, "pool_size").detail,
        "DBM__DATABASES__APP__POOL_SIZE"
    );

    // ... and DBM_<NAME>_URL wins over every url
    let d = loader()
        .environment("production")
        .var("DBM__DATABASES__APP__URL", "sqlite://b.db")
        .var("DBM_APP_URL", "sqlite://c.db")
        .load()
        .unwrap()
        .database("app")
        .unwrap();
    assert_eq!(d.url().expose_secret(), "sqlite://c.db");
    assert_eq!(origin_of(&d, "url").detail, "DBM_APP_URL");
}

#[cfg(feature = "sqlite")]
#[test]
fn pre_ping_skip_window_is_configurable() {
    let d = loader().load().unwrap().database("app").unwrap();
    assert_eq!(d.pre_ping_skip, Duration::from_millis(500));
    assert_eq!(origin_of(&d, "pre_ping_skip_ms").origin, "default");
    let d = loader()
        .var("DBM__DEFAULTS__PRE_PING_SKIP_MS", "0")
        .load()
        .unwrap()
        .database("app")
        .unwrap();
    assert_eq!(d.pre_ping_skip, Duration::ZERO);
    assert_eq!(origin_of(&d, "pre_ping_skip_ms").value, "0");
    let c = Config::loader()
        .toml("[databases.app]\nurl = \"sqlite::memory:\"\npre_ping_skip_ms = 250\n")
        .load()
        .unwrap();
    assert_eq!(
        c.database("app").unwrap().pre_ping_skip,
        Duration::from_millis(250)
    );
    for key in ["statement_timeout", "connect_timeout", "recycle"] {
        let e = Config::loader()
            .toml(format!(
                "[databases.app]\nurl = \"sqlite::memory:\"\n{key} = 0\n"
            ))
            .load()
            .unwrap()
            .database("app")
            .unwrap_err();
        assert!(
            e.to_string().contains(&format!(
                "`databases.app.{key}` must be greater than 0 (leave it out for no limit)"
            )),
            "{e}"
        );
    }
    let e = Config::loader()
        .toml("[databases.app]\nurl = \"sqlite::memory:\"\npre_ping_skip_ms = -1\n")
        .load()
        .unwrap()
        .database("app")
        .unwrap_err();
    assert!(
        e.to_string().contains(
            "`databases.app.pre_ping_skip_ms` must be a non-negative number of milliseconds"
        ),
        "{e}"
    );
}

#[cfg(feature = "sqlite")]
#[test]
fn environment_is_chosen_by_dbm_env() {
    let c = loader().var("DBM_ENV", "staging").load().unwrap();
    assert_eq!(c.environment(), "staging");
    assert_eq!(
        c.database("app").unwrap().pool_size,
        8,
        "[env.staging.defaults] applies"
    );
    assert!(c.warnings().is_empty());
    let c = loader().var("DBM_ENV", "prod").load().unwrap();
    assert_eq!(
        c.database("app").unwrap().pool_size,
        3,
        "an environment without a section changes nothing"
    );
    assert_eq!(
        c.warnings(),
        [
            "DBM_ENV is `prod`, but dbm.toml has no [env.prod] section (environments: production, staging); only its base settings apply"
        ]
    );
    // The default environment needs no section, and no file means nothing to check.
    assert!(loader().load().unwrap().warnings().is_empty());
    assert!(
        Config::loader()
            .var("DBM_ENV", "prod")
            .load()
            .unwrap()
            .warnings()
            .is_empty()
    );
}

#[cfg(feature = "sqlite")]
#[test]
fn databases_known_only_from_variables() {
    let c = Config::loader()
        .var("DBM_WAREHOUSE_URL", "sqlite::memory:")
        .var("DBM__DATABASES__RPA_DB__URL", "sqlite::memory:")
        .load()
        .unwrap();
    assert_eq!(c.database("warehouse").unwrap().pool_size, 5);
    assert_eq!(c.database_names(), ["rpa_db"]);
}

#[cfg(all(feature = "sqlite", feature = "postgres"))]
#[test]
fn secrets_from_variables_and_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pg_url"), "postgres://etl:s3cret@db/w\n").unwrap();
    std::fs::write(dir.path().join("pg_pass"), "hunter2\r\n").unwrap();
    let text = "[databases.a]\nurl_env = \"PG_MAIN_URL\"\npassword_file = \"pg_pass\"\n[databases.b]\nurl_file = \"pg_url\"\npassword_env = \"PG_PASS\"\n";
    let c = Config::loader()
        .toml(text)
        .base_dir(dir.path())
        .var("PG_MAIN_URL", "postgres://etl@db/main")
        .var("PG_PASS", "from-env")
        .load()
        .unwrap();
    let a = c.database("a").unwrap();
    assert_eq!(a.url().expose_secret(), "postgres://etl@db/main");
    assert_eq!(
        a.password.as_ref().unwrap().expose_secret(),
        "hunter2",
        "trailing newline trimmed"
    );
    assert_eq!(origin_of(&a, "url").detail, "url_env = PG_MAIN_URL");
    assert_eq!(origin_of(&a, "url").origin, "secret");
    assert_eq!(origin_of(&a, "password").value, "***");
    let b = c.database("b").unwrap();
    assert_eq!(b.url().expose_secret(), "postgres://etl:s3cret@db/w");
    assert_eq!(origin_of(&b, "url").value, "postgres://etl:***@db/w");
    assert_eq!(b.password.as_ref().unwrap().expose_secret(), "from-env");
    for text in [format!("{a:?}"), format!("{b:?}")] {
        assert!(
            !text.contains("hunter2") && !text.contains("s3cret") && !text.contains("from-env"),
            "{text}"
        );
    }
}

/// The error resolving database `a` of `text` with variable `X` set to `x`.
fn secret_err(text: &str, x: &str) -> String {
    Config::loader()
        .toml(text)
        .var("X", x)
        .load()
        .unwrap()
        .database("a")
        .unwrap_err()
        .to_string()
}

#[cfg(feature = "sqlite")]
#[test]
fn secret_errors_are_clear() {
    for (text, x, needle) in [
        (
            "[databases.a]\nurl_env = \"PG_MAIN_URL\"\n",
            "",
            "`databases.a.url_env` names the variable PG_MAIN_URL, which is not set (file dbm.toml line 2",
        ),
        (
            "[databases.a]\nurl_file = \"/run/secrets/nope\"\n",
            "",
            "names the file /run/secrets/nope, which cannot be read",
        ),
        (
            "[databases.a]\nurl = \"sqlite::memory:\"\nurl_env = \"X\"\n",
            "sqlite::memory:",
            "give only one of url, url_env, url_file",
        ),
        (
            "[databases.a]\nurl = \"sqlite::memory:\"\npassword_env = \"X\"\n",
            "pw",
            "SQLite databases have no password",
        ),
    ] {
        let msg = secret_err(text, x);
        assert!(msg.contains(needle), "{msg}");
    }
}

#[cfg(feature = "postgres")]
#[test]
fn urls_are_checked_at_configuration_time_without_quoting_passwords() {
    for (url, needle) in [
        (
            "postgres://u:pw%zz9Q@h/db",
            "the password has a `%` that is not followed by two hex digits",
        ),
        ("postgres://u:pw/9Q@h/db", "an `@` after a `/`"),
        ("postgres://u:pw9Q/h/db", "not host[:port]"),
    ] {
        let msg = db_err(&format!("[databases.app]\nurl = '{url}'\n"));
        assert!(msg.contains(needle), "{msg}");
        assert!(msg.contains("file dbm.toml line 2"), "{msg}");
        assert!(!msg.contains("9Q"), "{msg}");
    }
}

fn db_err(text: &str) -> String {
    let e = Config::loader()
        .toml(text)
        .environment("production")
        .load()
        .unwrap()
        .database("app")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Configuration);
    e.to_string()
}

#[cfg(feature = "sqlite")]
#[test]
fn validation_errors_name_key_environment_file_line_and_variable() {
    let msg = db_err("[databases.app]\nurl = \"sqlite::memory:\"\npool_size = 0\n");
    assert_eq!(
        msg,
        "[app] configure: configuration error: `databases.app.pool_size` must be at least 1, got 0 (file dbm.toml line 3, environment `production`; override with DBM__DATABASES__APP__POOL_SIZE)"
    );
    let msg = db_err(
        "[databases.app]\nurl = \"sqlite::memory:\"\n[env.production.databases.app]\nmax_overflow = -2\n",
    );
    assert!(msg.contains("`databases.app.max_overflow` must be at least -1, got -2 (environment `production` in dbm.toml line 4"), "{msg}");
    let msg = db_err("[defaults]\ntimeout = -1\n[databases.app]\nurl = \"sqlite::memory:\"\n");
    assert!(
        msg.contains(
            "`defaults.timeout` must be a non-negative number of seconds (file dbm.toml line 2"
        ),
        "{msg}"
    );
    assert!(msg.contains("DBM__DEFAULTS__TIMEOUT"), "{msg}");
    let msg = db_err("[databases.app]\nurl = \"sqlite::memory:\"\npre_ping = \"yes\"\n");
    assert!(
        msg.contains("`databases.app.pre_ping` must be true or false"),
        "{msg}"
    );
    // The driver's parser checks the URL (each driver with its feature).
    if cfg!(feature = "sqlite") {
        let msg = db_err("[databases.app]\nurl = \"sqlite://a.db?cache=shared\"\n");
        assert!(
            msg.contains("the url of `app` is invalid") && msg.contains("file dbm.toml line 2"),
            "{msg}"
        );
    }
    if cfg!(feature = "postgres") {
        let msg = db_err("[databases.app]\nurl = \"postgres://u:pw@h:notaport/db\"\n");
        assert!(msg.contains("the url of `app` is invalid"), "{msg}");
        assert!(!msg.contains("pw@"), "{msg}");
    }
    // Unknown keys of a database, from the file or a variable, are refused when it is used.
    let msg = db_err("[databases.app]\nurl = \"sqlite::memory:\"\npoolsize = 3\n");
    assert!(
        msg.contains(
            "unknown key `databases.app.poolsize` (file dbm.toml line 3, environment `production`); did you mean `pool_size`?"
        ),
        "{msg}"
    );
    let msg = var_err("DBM__DATABASES__APP__POOLSIZE", "3");
    assert!(
        msg.contains("unknown key `databases.app.poolsize` (set by DBM__DATABASES__APP__POOLSIZE); did you mean `pool_size`?"),
        "{msg}"
    );
    // A driver's own keys: checked by kind, and refused on another driver's database.
    if cfg!(feature = "postgres") {
        let msg = db_err("[databases.app]\nurl = \"postgres://h/db\"\nsslmode = \"sometimes\"\n");
        assert!(
            msg.contains("`databases.app.sslmode` `sometimes` is not one of disable"),
            "{msg}"
        );
        assert!(msg.contains("dbm.toml line 3"), "{msg}");
        if cfg!(feature = "sqlite") {
            let msg = db_err("[databases.app]\nurl = \"sqlite::memory:\"\nsslmode = \"require\"\n");
            assert!(
                msg.contains("`databases.app.sslmode` is a PostgreSQL setting, but `app` is a SQLite database"),
                "{msg}"
            );
        }
    }
    if cfg!(feature = "mssql") {
        let msg = db_err("[databases.app]\nurl = \"Server=tcp:h,14x;User Id=u;Password=pw9X\"\n");
        assert!(msg.contains("the url of `app` is invalid"), "{msg}");
        assert!(!msg.contains("pw9X"), "{msg}");
        let msg = db_err("[databases.app]\nurl = \"mssql://u:pw@h/db\"\nencrypt = \"maybe\"\n");
        assert!(
            msg.contains(
                "`databases.app.encrypt` `maybe` is not one of true, false, DANGER_PLAINTEXT"
            ),
            "{msg}"
        );
        assert!(msg.contains("dbm.toml line 3"), "{msg}");
        let msg = db_err(
            "[databases.app]\nurl = \"mssql://u:pw@h/db\"\ntrust_server_certificate = \"maybe\"\n",
        );
        assert!(
            msg.contains("`databases.app.trust_server_certificate`")
                && msg.contains("true or false"),
            "{msg}"
        );
        if cfg!(feature = "sqlite") {
            let msg = db_err("[databases.app]\nurl = \"sqlite::memory:\"\nencrypt = \"true\"\n");
            assert!(
                msg.contains("`databases.app.encrypt` is a SQL Server setting, but `app` is a SQLite database"),
                "{msg}"
            );
        }
    }
    let msg = var_err("DBM__DATABASES__APP__POOL_SIZE", "many");
    assert!(
        msg.contains(
            "must be a whole number, got \"many\" (set by DBM__DATABASES__APP__POOL_SIZE)"
        ),
        "{msg}"
    );
}

/// The error of resolving an in-memory SQLite `app` with one variable set.
#[cfg(feature = "sqlite")]
fn var_err(var: &str, value: &str) -> String {
    Config::loader()
        .toml("[databases.app]\nurl = \"sqlite::memory:\"\n")
        .var(var, value)
        .load()
        .unwrap()
        .database("app")
        .unwrap_err()
        .to_string()
}

#[cfg(all(feature = "sqlite", feature = "postgres"))]
#[test]
fn type_must_agree_with_the_url() {
    let msg = db_err("[databases.app]\nurl = \"postgres://u:secret@h/db\"\ntype = \"sqlite\"\n");
    assert!(
        msg.contains(
            "`databases.app.type` says sqlite but the URL (postgres://u:***@h/db) is postgresql"
        ),
        "{msg}"
    );
    assert!(msg.contains("accepted URLs:"), "{msg}");
    assert!(!msg.contains("secret"), "{msg}");
    let msg = db_err("[databases.app]\nurl = \"sqlite::memory:\"\ntype = \"oracle\"\n");
    assert!(msg.contains("`oracle` is not a database type"), "{msg}");
    let msg = db_err("[databases.app]\nurl = \"oracle://u:pw@h/db\"\n");
    assert!(
        msg.contains("unknown database URL scheme `oracle`")
            && msg.contains("file dbm.toml line 2"),
        "{msg}"
    );
    let ok = Config::loader()
        .toml("[databases.app]\nurl = \"sqlite::memory:\"\ntype = \"SQLite\"\n")
        .load()
        .unwrap()
        .database("app")
        .unwrap();
    assert_eq!(ok.backend(), Backend::Sqlite);
}

#[cfg(feature = "sqlite")]
#[test]
fn missing_database_names_the_fix() {
    let c = Config::from_toml_str(
        "[databases.app]\nurl = \"sqlite::memory:\"\n",
        Path::new("."),
    )
    .unwrap();
    let msg = c.database("reports").unwrap_err().to_string();
    assert!(
        msg.contains("database `reports` is not configured"),
        "{msg}"
    );
    assert!(
        msg.contains("configured: app") && msg.contains("DBM_REPORTS_URL"),
        "{msg}"
    );
}

#[cfg(feature = "sqlite")]
#[test]
fn the_readme_and_shipped_config_parse() {
    let readme = include_str!("../../../README.md");
    let start = readme.find("```toml\n").unwrap() + 8;
    let end = start + readme[start..].find("```").unwrap();
    let c = Config::from_toml_str(&readme[start..end], std::path::Path::new(".")).unwrap();
    let d = c.database("app").unwrap();
    assert_eq!(d.recycle, Some(Duration::from_secs(3600)));
    // The README's [retry] section shows the defaults.
    assert_eq!(d.retry, dbm_core::RetryPolicy::default());
    assert_eq!(d.pre_ping_skip, Duration::from_millis(500));
    let shipped =
        Config::from_toml_str(include_str!("../../../dbm.toml"), std::path::Path::new("."))
            .unwrap();
    assert_eq!(shipped.default_database(), "app");
    assert_eq!(shipped.database("app").unwrap().backend(), Backend::Sqlite);
}

#[cfg(all(feature = "sqlite", feature = "postgres"))]
#[test]
fn debug_of_config_and_loader_shows_no_values() {
    let l = Config::loader()
        .toml("[databases.app]\nurl = \"postgres://u:topsecret@h/db\"\n")
        .var("PG_PASS", "topsecret");
    assert!(!format!("{l:?}").contains("topsecret"));
    let c = l.load().unwrap();
    assert!(!format!("{c:?}").contains("topsecret"));
}
