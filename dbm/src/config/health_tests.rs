//! `[health]` settings and each database's `required`: defaults, values, and errors that
//! name the key, the file line and the override variable.
#![cfg(feature = "sqlite")]

use std::time::Duration;

use super::*;

fn load(text: &str) -> Result<Config> {
    Config::loader().toml(text).base_dir("/proj").load()
}

const DB: &str = "[databases.app]\nurl = \"sqlite://app.db\"\n";

#[test]
fn health_settings_default_and_read_from_the_file() {
    let c = load(DB).unwrap();
    let h = c.global().unwrap().health;
    assert_eq!(h, HealthSettings::default());
    assert_eq!(
        (h.slow, h.pool_degraded_percent, h.timeout, h.cache),
        (
            Duration::from_secs(1),
            80.0,
            Duration::from_secs(5),
            Duration::from_secs(1)
        )
    );
    assert!(c.database("app").unwrap().required);

    let c = load(&format!(
        "[health]\nslow_ms = 250\npool_degraded_percent = 95.5\ntimeout_ms = 1500\ncache_ms = 0\n\n{DB}required = false\n"
    ))
    .unwrap();
    let d = c.database("app").unwrap();
    assert_eq!(d.health.slow, Duration::from_millis(250));
    assert_eq!(d.health.pool_degraded_percent, 95.5);
    assert_eq!(d.health.timeout, Duration::from_millis(1500));
    assert_eq!(d.health.cache, Duration::ZERO);
    assert!(!d.required);
    let r = d.origins.iter().find(|s| s.key == "required").unwrap();
    assert_eq!((r.value.as_str(), r.origin.as_str()), ("false", "file"));
}

fn global_err(text: &str) -> String {
    load(text).unwrap().global().unwrap_err().to_string()
}

#[test]
fn bad_health_settings_name_the_key_the_line_and_the_variable() {
    let e = global_err(&format!("{DB}\n[health]\npool_degraded_percent = 150\n"));
    assert!(
        e.contains("`health.pool_degraded_percent` must be a percentage from 0 to 100"),
        "{e}"
    );
    assert!(e.contains("line 5"), "{e}");
    assert!(e.contains("DBM__HEALTH__POOL_DEGRADED_PERCENT"), "{e}");
    let e = global_err("[health]\ntimeout_ms = 0\n");
    assert!(
        e.contains("`health.timeout_ms` must be more than 0 milliseconds"),
        "{e}"
    );
    let e = global_err("[health]\ncache_ms = -5\n");
    assert!(
        e.contains("`health.cache_ms` must be a non-negative number of milliseconds"),
        "{e}"
    );
    let e = load("[health]\ncache = 5\n").unwrap_err().to_string();
    assert!(
        e.contains("dbm.toml line 2: unknown key `health.cache`; did you mean `cache_ms`?"),
        "unknown key refused: {e}"
    );
    let e = load("[helth]\nslow_ms = 5\n").unwrap_err().to_string();
    assert!(e.contains("did you mean `health`?"), "{e}");
    let e = load(&format!("{DB}required = \"no\"\n"))
        .unwrap()
        .database("app")
        .unwrap_err()
        .to_string();
    assert!(e.contains("databases.app.required"), "{e}");
}

#[test]
fn a_database_opened_from_the_config_uses_its_health_settings() {
    let c = load(&format!("[health]\nslow_ms = 0.001\n\n{DB}")).unwrap();
    let d = c.database("app").unwrap();
    assert_eq!(d.health.slow, Duration::from_micros(1));
    // Different thresholds are a different handle: pools are not shared across them.
    let other = load(DB).unwrap().database("app").unwrap();
    assert!(d.identity() != other.identity());
}
