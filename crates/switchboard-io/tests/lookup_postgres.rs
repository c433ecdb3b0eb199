//! The PostgreSQL lookup against a real server (`SWITCHBOARD_TEST_PG_URL`): column types
//! to JSON, NULLs, misses, SQL errors (not retryable), an unreachable server (retryable),
//! and a connection the server drops (the lookup reconnects).
//!
//! Each test works in a schema of its own. A test whose server variable is missing fails
//! when `SWITCHBOARD_REQUIRE_SERVERS=1` or `CI` is set, and is skipped with a note
//! otherwise (`bash scripts/test.sh` starts the server and sets the variable).

mod support;

use serde_json::json;
use switchboard_io::lookups::config::{CacheSettings, LookupConfig};
use switchboard_io::lookups::postgres::{PostgresLookup, PostgresLookupConfig};
use switchboard_io::lookups::Lookup;
use tokio_postgres::Client;

use support::{pg_connect, pg_url, unique_name};

/// A schema of its own with a customers table; dropped by [`Db::drop_schema`].
struct Db {
    admin: Client,
    schema: String,
    /// The server URL with the schema as search path.
    url: String,
}

impl Db {
    async fn new(base: &str) -> Db {
        let admin = pg_connect(base).await;
        let schema = unique_name("sb_lookup");
        admin
            .batch_execute(&format!(
                "CREATE SCHEMA {schema};
                 CREATE TABLE {schema}.customers (
                     phone text PRIMARY KEY, name text, tier int, balance numeric(14, 2),
                     score float8, ratio real, vip bool, profile jsonb, meta json,
                     since timestamptz, born date, ref uuid, small int2, big int8,
                     account bigint, note text, plan text, wait interval);
                 INSERT INTO {schema}.customers VALUES
                     ('+15550001', 'Acme', 1, 123456789012.34, 0.5, 0.1, true,
                      '{{\"segments\": [\"b2b\", \"eu\"], \"since\": 2019}}', '[1, \"two\"]',
                      '2024-05-01 12:30:00.25+00', '1990-02-28',
                      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 7, 9007199254740993, 42, NULL,
                      'gold', '2 minutes'),
                     ('+15550002', 'Globex', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                      NULL, NULL, NULL, NULL, 43, NULL, 'silver', NULL),
                     ('+15550003', 'Initech', 3, -0.05, -1e300, 2.5, false, 'null', '{{}}',
                      '1999-12-31 23:59:59+00', '2000-01-01', NULL, -1, -1, 44, 'café', NULL, NULL);"
            ))
            .await
            .expect("create the test table");
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
        Db { admin, schema, url }
    }

    fn config(&self, query: &str) -> PostgresLookupConfig {
        PostgresLookupConfig {
            name: "crm".into(),
            url: Some(self.url.clone()),
            url_env: None,
            query: query.into(),
            timeout_ms: 10_000,
            cache: CacheSettings::default(),
        }
    }

    async fn drop_schema(self) {
        self.admin
            .batch_execute(&format!("DROP SCHEMA {} CASCADE", self.schema))
            .await
            .expect("drop the test schema");
    }
}

const ALL_COLUMNS: &str = "SELECT name AS company, tier, balance, score, ratio, vip, profile, \
    meta, since, born, ref, small, big, note FROM customers WHERE phone = $1";

#[tokio::test]
async fn rows_become_json_objects_and_absent_keys_are_misses() {
    let Some(base) = pg_url() else { return };
    let db = Db::new(&base).await;
    let lookup = LookupConfig::Postgres(db.config(ALL_COLUMNS))
        .build()
        .await
        .expect("build");
    let keys: Vec<String> = ["+15550001", "+15550002", "+15550003", "+15559999", ""]
        .map(String::from)
        .to_vec();
    let found = lookup.get_many(&keys).await.expect("lookup");
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!(
        found["+15550001"],
        json!({
            "company": "Acme",
            "tier": 1,
            "balance": "123456789012.34",
            "score": 0.5,
            "ratio": 0.1,
            "vip": true,
            "profile": {"segments": ["b2b", "eu"], "since": 2019},
            "meta": [1, "two"],
            "since": "2024-05-01T12:30:00.250Z",
            "born": "1990-02-28",
            "ref": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "small": 7,
            "big": 9007199254740993i64,
            "note": null,
        })
    );
    assert_eq!(
        found["+15550002"],
        json!({
            "company": "Globex", "tier": null, "balance": null, "score": null,
            "ratio": null, "vip": null, "profile": null, "meta": null, "since": null,
            "born": null, "ref": null, "small": null, "big": null, "note": null,
        })
    );
    let initech = &found["+15550003"];
    assert_eq!(initech["balance"], json!("-0.05"));
    assert_eq!(initech["score"], json!(-1e300));
    assert_eq!(
        initech["profile"],
        json!(null),
        "JSON null in a jsonb column"
    );
    assert_eq!(initech["meta"], json!({}));
    assert_eq!(initech["since"], json!("1999-12-31T23:59:59Z"));
    assert_eq!(initech["note"], json!("café"));
    db.drop_schema().await;
}

#[tokio::test]
async fn an_integer_parameter_takes_numeric_keys_only() {
    let Some(base) = pg_url() else { return };
    let db = Db::new(&base).await;
    let lookup = PostgresLookup::new(
        &db.config("SELECT name, plan FROM customers WHERE account = $1 ORDER BY phone LIMIT 1"),
    )
    .expect("lookup");
    let keys: Vec<String> = ["42", "43", "abc", "99"].map(String::from).to_vec();
    let found = lookup.get_many(&keys).await.expect("lookup");
    assert_eq!(found.len(), 2);
    assert_eq!(found["42"], json!({"name": "Acme", "plan": "gold"}));
    db.drop_schema().await;
}

#[tokio::test]
async fn sql_errors_are_not_retryable_and_say_what_is_wrong() {
    let Some(base) = pg_url() else { return };
    let db = Db::new(&base).await;

    let missing_column =
        PostgresLookup::new(&db.config("SELECT name, colour FROM customers WHERE phone = $1"))
            .expect("lookup");
    let err = missing_column
        .get_many(&["+15550001".into()])
        .await
        .expect_err("no such column");
    assert!(!err.retryable, "{err}");
    assert!(
        err.reason.contains("colour") && err.reason.contains("42703"),
        "{err}"
    );

    let runtime = PostgresLookup::new(
        &db.config("SELECT tier / 0 AS broken FROM customers WHERE phone = $1"),
    )
    .expect("lookup");
    let err = runtime
        .get_many(&["+15550001".into()])
        .await
        .expect_err("division by zero");
    assert!(!err.retryable, "{err}");
    assert!(err.reason.contains("22012"), "{err}");
    // A key whose row does not divide still misses cleanly.
    assert!(runtime
        .get_many(&["+15559999".into()])
        .await
        .unwrap()
        .is_empty());

    let unsupported =
        PostgresLookup::new(&db.config("SELECT name, wait FROM customers WHERE phone = $1"))
            .expect("lookup");
    let err = unsupported
        .get_many(&["+15550001".into()])
        .await
        .expect_err("interval is not converted");
    assert!(!err.retryable, "{err}");
    assert!(err.reason.contains("wait::text"), "{err}");
    db.drop_schema().await;
}

/// The server processes of connections named `application`.
async fn backends(admin: &Client, application: &str) -> Vec<i32> {
    admin
        .query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
            &[&application],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn the_lookup_reconnects_after_the_server_drops_it() {
    let Some(base) = pg_url() else { return };
    let db = Db::new(&base).await;
    let application = unique_name("sb_lookup_app");
    let mut config = db.config("SELECT name FROM customers WHERE phone = $1");
    config.url = Some(format!("{}&application_name={application}", db.url));
    let lookup = PostgresLookup::new(&config).expect("lookup");
    let key = vec!["+15550001".to_owned()];
    assert_eq!(
        lookup.get_many(&key).await.unwrap()["+15550001"],
        json!({"name": "Acme"})
    );

    let before = backends(&db.admin, &application).await;
    assert_eq!(before.len(), 1, "the lookup's backend was found");
    db.admin
        .execute("SELECT pg_terminate_backend($1)", &[&before[0]])
        .await
        .unwrap();
    for _ in 0..100 {
        if backends(&db.admin, &application).await.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        backends(&db.admin, &application).await.is_empty(),
        "the backend ended"
    );

    // The call meets the dead connection and tries once more on a new one.
    let answer = lookup.get_many(&key).await.expect("reconnected");
    assert_eq!(answer["+15550001"], json!({"name": "Acme"}));
    let after = backends(&db.admin, &application).await;
    assert_eq!(after.len(), 1);
    assert_ne!(after, before, "a new backend");
    db.drop_schema().await;
}

#[tokio::test]
async fn an_unreachable_server_is_retryable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = PostgresLookupConfig {
        url: Some(format!("postgres://nobody:secret@127.0.0.1:{port}/crm")),
        url_env: None,
        ..PostgresLookupConfig::example()
    };
    let lookup = PostgresLookup::new(&config).expect("lookup");
    let err = lookup
        .get_many(&["+15550001".into()])
        .await
        .expect_err("nothing listens");
    assert!(err.retryable, "{err}");
    assert!(err.reason.contains("cannot connect"), "{err}");
    assert!(!err.reason.contains("secret"), "the password leaked: {err}");
}

#[tokio::test]
async fn a_wrong_password_is_not_retryable() {
    let Some(base) = pg_url() else { return };
    let mut config: tokio_postgres::Config = base.parse().expect("the test URL parses");
    config.password("not-the-password");
    let tokio_postgres::config::Host::Tcp(host) = &config.get_hosts()[0] else {
        panic!("the test server is reached over TCP");
    };
    let url = format!(
        "postgres://{}:not-the-password@{host}:{}/{}",
        config.get_user().unwrap_or("postgres"),
        config.get_ports().first().copied().unwrap_or(5432),
        config.get_dbname().unwrap_or("postgres"),
    );
    let lookup = PostgresLookup::new(&PostgresLookupConfig {
        url: Some(url),
        url_env: None,
        ..PostgresLookupConfig::example()
    })
    .expect("lookup");
    let err = lookup
        .get_many(&["+15550001".into()])
        .await
        .expect_err("authentication fails");
    assert!(!err.retryable, "{err}");
    assert!(err.reason.contains("28P01"), "{err}");
}

#[tokio::test]
async fn the_url_can_come_from_the_environment() {
    let Some(base) = pg_url() else { return };
    let db = Db::new(&base).await;
    let var = unique_name("SWITCHBOARD_TEST_LOOKUP_URL");
    std::env::set_var(&var, &db.url);
    let config = PostgresLookupConfig {
        url: None,
        url_env: Some(var),
        ..db.config("SELECT tier FROM customers WHERE phone = $1")
    };
    let lookup = LookupConfig::Postgres(config).build().await.expect("build");
    let found = lookup.get_many(&["+15550003".into()]).await.unwrap();
    assert_eq!(found["+15550003"], json!({"tier": 3}));
    db.drop_schema().await;
}
