//! The tables the PostgreSQL sink writes, for BI tools: `contact_records` (one row per
//! contact, the newest copy of its record), `transitions` (agent state transitions),
//! `metric_intervals` (15-minute queue and agent metrics) and `events` (everything else).
//! With `create_tables` (the default) the sink runs this SQL in its schema when it
//! connects; otherwise create the tables from it yourself (replace nothing: set the
//! `search_path` to the schema first, e.g. `SET search_path TO switchboard_bi;`).
//!
//! ```sql
#![doc = include_str!("schema.sql")]
//! ```

use tokio_postgres::Client;

/// The SQL above: idempotent, unqualified (run with the schema as `search_path`).
pub const SQL: &str = include_str!("schema.sql");

/// The tables, in the order the SQL creates them.
pub const TABLES: [&str; 4] = [
    "contact_records",
    "transitions",
    "metric_intervals",
    "events",
];

/// Creates the schema and its tables unless they exist. Several workers starting at once
/// take turns (an advisory lock on the schema's name): concurrent `CREATE ... IF NOT
/// EXISTS` of one table can otherwise fail on the catalog's unique index.
pub async fn create(client: &mut Client, schema: &str) -> Result<(), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('switchboard sink schema ' || $1::text))",
        &[&schema],
    )
    .await?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS \"{schema}\"; SET LOCAL search_path TO \"{schema}\";"
    ))
    .await?;
    tx.batch_execute(SQL).await?;
    tx.commit().await
}

/// The tables of [`TABLES`] missing from `schema` (with `create_tables = false`).
pub async fn missing(
    client: &Client,
    schema: &str,
) -> Result<Vec<&'static str>, tokio_postgres::Error> {
    let mut missing = Vec::new();
    for table in TABLES {
        let row = client
            .query_one(
                "SELECT to_regclass(quote_ident($1::text) || '.' || quote_ident($2::text))::text",
                &[&schema, &table],
            )
            .await?;
        if row.get::<_, Option<String>>(0).is_none() {
            missing.push(table);
        }
    }
    Ok(missing)
}
