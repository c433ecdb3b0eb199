//! The `switchboard` binary as a child process: started with a config, its stderr
//! captured, its HTTP listener found in its log, stopped with SIGTERM.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_switchboard")
}

/// Polls `done` until it holds, failing the test after `limit` (a bound on a hang, not
/// a timing assertion).
pub fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `command` to its end, killing it after `limit`.
pub fn with_timeout(command: &mut Command, limit: Duration) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// `switchboard run` in the background.
pub struct Running {
    child: Option<Child>,
    log: PathBuf,
    _dir: tempfile::TempDir,
    addr: Option<SocketAddr>,
}

impl Running {
    /// Starts `run --config config` with `env` added, and waits until it listens (if its
    /// config has a listener) or has started its sources.
    pub fn start(config: &Path, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("stderr.log");
        let child = Command::new(bin())
            .arg("run")
            .arg("--config")
            .arg(config)
            .envs(env.iter().copied())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut run = Running {
            child: Some(child),
            log,
            _dir: dir,
            addr: None,
        };
        let start = Instant::now();
        loop {
            let text = run.log();
            if let Some(addr) = text
                .split("listening on http://")
                .nth(1)
                .and_then(|rest| rest.split('/').next())
            {
                run.addr = Some(addr.parse().unwrap());
                break;
            }
            if text.contains("source started") && !config_has_listener(config) {
                break;
            }
            if let Some(status) = run.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("switchboard run exited with {status}:\n{text}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "switchboard run did not start:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        run
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr.expect("this run has no HTTP listener")
    }

    /// `GET path` as JSON (status 200 required).
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let r = switchboard_server::client::get(self.addr(), path, &[]).unwrap();
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        r.json().unwrap()
    }

    /// `POST path` with a JSON body: (status, body).
    pub fn post(&self, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(self.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n",
            self.addr(),
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map_or(String::new(), |(_, b)| b.to_owned());
        (status, body)
    }

    /// SIGKILL: no shutdown, no last commit (a crash).
    pub fn kill(mut self) -> String {
        let mut child = self.child.take().unwrap();
        let _ = child.kill();
        let _ = child.wait();
        self.log()
    }

    /// SIGTERM, then waits for a clean exit (status 0); returns the whole log.
    pub fn stop(mut self) -> String {
        let mut child = self.child.take().unwrap();
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > Duration::from_secs(90) {
                let _ = child.kill();
                panic!("switchboard run did not stop on SIGTERM:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let log = self.log();
        assert!(
            status.success(),
            "switchboard run exited with {status}:\n{log}"
        );
        log
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether the config serves HTTP (the server is on unless `enabled = false`).
fn config_has_listener(config: &Path) -> bool {
    let text = std::fs::read_to_string(config).unwrap_or_default();
    !text.contains("enabled = false") || text.contains("_http\"")
}
