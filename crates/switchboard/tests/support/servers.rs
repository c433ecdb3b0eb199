//! The real servers `bash scripts/test.sh` starts (scripts/servers.sh), found through
//! their `SWITCHBOARD_TEST_*` variables. A test that needs one fails, never skips, when
//! its variable is missing.

use std::process::Command;
use std::str::FromStr;

fn required(var: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{var} is not set: this test needs the servers of scripts/servers.sh; run \
             bash scripts/test.sh (it installs and starts them and sets the variables)"
        ),
    }
}

/// moto: Kinesis, DynamoDB, SQS, EventBridge.
pub fn moto_url() -> String {
    required("SWITCHBOARD_TEST_MOTO_URL")
}

/// dynalite: DynamoDB, strict about request shapes.
pub fn dynalite_url() -> String {
    required("SWITCHBOARD_TEST_DYNALITE_URL")
}

/// Runs `code` with the test Python (boto3 installed), dummy credentials set; returns its
/// stdout, failing the test if it fails.
pub fn python(code: &str) -> String {
    let python = required("SWITCHBOARD_TEST_PYTHON");
    let out = Command::new(python)
        .arg("-c")
        .arg(code)
        .env(
            "AWS_ACCESS_KEY_ID",
            std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "test".into()),
        )
        .env(
            "AWS_SECRET_ACCESS_KEY",
            std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "test".into()),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed:\n{code}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A schema of its own in the test PostgreSQL database, dropped at the end.
pub struct PgSchema {
    pub name: String,
}

impl PgSchema {
    pub fn new() -> Self {
        let name = super::unique_name("sb_run").replace('-', "_");
        admin()
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .unwrap();
        PgSchema { name }
    }

    /// The server's URL with this schema as the search path.
    pub fn url(&self) -> String {
        let base = required("SWITCHBOARD_TEST_PG_URL");
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}options=-csearch_path%3D{}", self.name)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let _ = admin().batch_execute(&format!("DROP SCHEMA {} CASCADE", self.name));
    }
}

fn admin() -> postgres::Client {
    postgres::Config::from_str(&required("SWITCHBOARD_TEST_PG_URL"))
        .unwrap()
        .connect(postgres::NoTls)
        .unwrap()
}
