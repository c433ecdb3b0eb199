//! Helpers shared by switchboard-io's integration tests: the published samples, the
//! servers of scripts/servers.sh (found by their variables, or skipped or failed as the
//! house rule says), a real moto server (installed into `.tools/venv` on first use),
//! Python with boto3 as a real AWS client, a stand-in pipeline that acknowledges
//! deliveries, and a raw HTTP/1.1 client that shows exactly what goes over the wire.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub mod connect_fake;

use switchboard_io::delivery::{self, AckError, DeliverySender};
use switchboard_model::decode::{DecodeError, Decoded};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The published Connect samples (`../shared/connect/samples`, or `SWITCHBOARD_SAMPLES`).
pub fn sample(name: &str) -> PathBuf {
    let dir = match std::env::var("SWITCHBOARD_SAMPLES") {
        Ok(dir) => PathBuf::from(dir),
        Err(_) => workspace().join("../shared/connect/samples"),
    };
    assert!(
        dir.is_dir(),
        "samples not found at {}: set SWITCHBOARD_SAMPLES",
        dir.display()
    );
    dir.join(name)
}

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The published voice contact record (pretty-printed, as received) with its
/// `LastUpdateTimestamp` and a `marker` attribute set.
pub fn sample_ctr(last_update: &str, marker: &str) -> String {
    let raw = std::fs::read(sample("ctr-voice-inbound-2022.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    v["LastUpdateTimestamp"] = serde_json::json!(last_update);
    v["Attributes"]["marker"] = serde_json::json!(marker);
    serde_json::to_string_pretty(&v).unwrap()
}

/// An RFC 3339 time in milliseconds since the epoch.
pub fn ms(ts: &str) -> i64 {
    switchboard_model::Timestamp::parse(ts).unwrap().millis()
}

// ---------------------------------------------------------------------------------------
// The servers of scripts/servers.sh

/// The URL in the server variable `var` (`SWITCHBOARD_TEST_PG_URL`...), or `None` when
/// it is unset or empty and the test may be skipped (after a note saying so). It may not
/// be skipped, and the test fails here, when `SWITCHBOARD_REQUIRE_SERVERS=1` or `CI` is
/// set: there a missing server is a broken setup, not a reason to pass.
pub fn server_url(var: &str) -> Option<String> {
    if let Ok(url) = std::env::var(var) {
        if !url.is_empty() {
            return Some(url);
        }
    }
    let required = std::env::var("SWITCHBOARD_REQUIRE_SERVERS").is_ok_and(|v| v == "1")
        || std::env::var_os("CI").is_some();
    assert!(
        !required,
        "{var} is not set: this test needs the servers of scripts/servers.sh; run \
         bash scripts/test.sh (it starts them and sets the variables)"
    );
    eprintln!("skipped: {var} is not set (source scripts/servers.sh && start_servers)");
    None
}

/// The PostgreSQL server's URL (`SWITCHBOARD_TEST_PG_URL`), as [`server_url`] finds it.
pub fn pg_url() -> Option<String> {
    server_url("SWITCHBOARD_TEST_PG_URL")
}

/// A client of the PostgreSQL server at `url`, its connection driven on a task of the
/// test's runtime.
pub async fn pg_connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test server");
    tokio::spawn(connection);
    client
}

/// The AWS config that points the Rust SDK at a local server (moto, dynalite...) at
/// `endpoint`, with dummy credentials (local servers take any).
pub fn aws_at(endpoint: &str) -> switchboard_io::aws::AwsConfig {
    dummy_credentials();
    switchboard_io::aws::AwsConfig {
        region: Some("us-east-1".into()),
        profile: None,
        endpoint_url: Some(endpoint.to_owned()),
    }
}

/// Creates an SQS queue named `name`; returns its URL.
pub async fn create_queue(client: &aws_sdk_sqs::Client, name: &str) -> String {
    client
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// moto and Python

/// The virtualenv holding moto and boto3: `SWITCHBOARD_MOTO_VENV`, else `.tools/venv`
/// (where scripts/servers.sh installs them), installed on first use when missing.
fn venv() -> PathBuf {
    static VENV: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut cached = VENV.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(v) = cached.as_ref() {
        return v.clone();
    }
    let venv = match std::env::var("SWITCHBOARD_MOTO_VENV") {
        Ok(v) => PathBuf::from(v),
        Err(_) => {
            let venv = workspace().join(".tools/venv");
            install(&venv);
            venv
        }
    };
    assert!(
        ready(&venv),
        "no moto_server with boto3 in {}: install them with `python3 -m venv {0} && {0}/bin/pip install 'moto[server]' boto3`",
        venv.display()
    );
    *cached = Some(venv.clone());
    venv
}

fn ready(venv: &Path) -> bool {
    venv.join("bin/moto_server").exists()
        && Command::new(venv.join("bin/python"))
            .args(["-c", "import boto3, moto, flask"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// Python with boto3: `SWITCHBOARD_TEST_PYTHON` (set by scripts/servers.sh), else the
/// venv's.
pub fn python() -> PathBuf {
    match std::env::var("SWITCHBOARD_TEST_PYTHON") {
        Ok(p) => PathBuf::from(p),
        Err(_) => venv().join("bin/python"),
    }
}

/// Installs moto and boto3 into `venv` unless they are there. Idempotent; a lock folder
/// keeps two test binaries from installing at once.
fn install(venv: &Path) {
    if ready(venv) {
        return;
    }
    let lock = venv.with_extension("installing");
    std::fs::create_dir_all(venv.parent().unwrap()).unwrap();
    let started = Instant::now();
    while std::fs::create_dir(&lock).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "another install of {} holds {} for 15 minutes: remove it if stale",
            venv.display(),
            lock.display()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let result = (|| -> Result<(), String> {
        if ready(venv) {
            return Ok(());
        }
        eprintln!(
            "installing moto and boto3 into {} (first run only)",
            venv.display()
        );
        run(Command::new("python3").arg("-m").arg("venv").arg(venv)).map_err(|e| {
            format!("{e}\nmoto needs Python 3 with venv: apt-get install -y python3 python3-venv")
        })?;
        run(Command::new(venv.join("bin/pip")).args([
            "install",
            "--quiet",
            "moto[server]",
            "boto3",
        ]))
    })();
    let _ = std::fs::remove_dir(&lock);
    if let Err(e) = result {
        panic!(
            "cannot install moto into {}: {e}\ninstall it by hand: python3 -m venv {0} && {0}/bin/pip install 'moto[server]' boto3",
            venv.display()
        );
    }
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A moto server: the shared one of scripts/servers.sh (`SWITCHBOARD_TEST_MOTO_URL`),
/// else one of our own on a free port of 127.0.0.1, stopped when dropped. Tests name
/// their queues, buses and streams with [`unique`], so they can share a server.
pub struct Moto {
    child: Option<Child>,
    pub url: String,
}

impl Moto {
    pub fn start() -> Moto {
        if let Ok(url) = std::env::var("SWITCHBOARD_TEST_MOTO_URL") {
            return Moto { child: None, url };
        }
        let venv = venv();
        let port = free_port();
        let child = Command::new(venv.join("bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start moto_server");
        let moto = Moto {
            child: Some(child),
            url: format!("http://127.0.0.1:{port}"),
        };
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let started = Instant::now();
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto_server did not listen on {addr} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// Runs a Python script with boto3 against this server (`ENDPOINT` in the script's
    /// globals, dummy credentials, us-east-1); returns its stdout.
    pub fn python(&self, script: &str, args: &[&str]) -> String {
        let prelude = format!(
            "import sys, json, boto3\nENDPOINT = {:?}\n\
             def client(name):\n    return boto3.client(name, endpoint_url=ENDPOINT, region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')\n",
            self.url
        );
        let out = Command::new(python())
            .arg("-c")
            .arg(prelude + script)
            .args(args)
            .output()
            .expect("cannot run python");
        assert!(
            out.status.success(),
            "python failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The AWS config that points the Rust SDK at this server.
    pub fn aws(&self) -> switchboard_io::aws::AwsConfig {
        aws_at(&self.url)
    }

    /// An SQS client of this server.
    pub async fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.aws().load().await)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Dummy credentials for the SDK's default chain (moto accepts any).
fn dummy_credentials() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::remove_var("AWS_PROFILE");
    });
}

static NEXT_UNIQUE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// `prefix` made unique in this run (process id and a counter).
pub fn unique(prefix: &str) -> String {
    let n = NEXT_UNIQUE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

/// `prefix` made unique across runs too (process id, a counter and the clock's
/// nanoseconds, joined by `_`), for what outlives a run on a shared server: a schema or
/// table (a plain SQL identifier when `prefix` is one), an environment variable.
pub fn unique_name(prefix: &str) -> String {
    let n = NEXT_UNIQUE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------------------------------
// A stand-in pipeline

/// What the stand-in pipeline received, one entry per delivery.
#[derive(Debug, Default)]
pub struct Received {
    pub deliveries: Vec<(String, Vec<Result<Decoded, DecodeError>>)>,
}

impl Received {
    pub fn records(&self) -> Vec<&Decoded> {
        self.deliveries
            .iter()
            .flat_map(|(_, items)| items.iter().filter_map(|i| i.as_ref().ok()))
            .collect()
    }
}

/// A pipeline that records every delivery and acknowledges it with `outcome` (called
/// with the delivery's index).
pub fn pipeline(
    outcome: impl Fn(usize) -> Result<(), AckError> + Send + 'static,
) -> (
    DeliverySender,
    Arc<Mutex<Received>>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, mut rx) = delivery::channel(16);
    let received = Arc::new(Mutex::new(Received::default()));
    let task = tokio::spawn({
        let received = Arc::clone(&received);
        async move {
            while let Some(mut d) = rx.recv().await {
                let ack = d.ack.take();
                let index = {
                    let mut r = received.lock().unwrap();
                    r.deliveries.push((d.source.clone(), d.items));
                    r.deliveries.len() - 1
                };
                if let Some(ack) = ack {
                    ack.send(outcome(index));
                }
            }
        }
    });
    (tx, received, task)
}

/// Waits (polling, up to `limit`) until `done` holds.
pub async fn eventually(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------------------
// A raw HTTP/1.1 client

/// A parsed HTTP response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// Lower-cased names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Sends one request (`Connection: close`) and reads the whole response.
pub async fn http_post(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (413) without reading a body it refuses.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> HttpResponse {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "no HTTP response head in {:?}",
                String::from_utf8_lossy(raw)
            )
        });
    let head = std::str::from_utf8(&raw[..end]).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    HttpResponse {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    }
}
