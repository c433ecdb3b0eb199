//! Helpers of the `run` tests: starting and stopping the binary, the test servers.

#![allow(dead_code)]

pub mod lambda_api;
pub mod prom;
pub mod receiver;
pub mod run;
pub mod servers;

use std::sync::atomic::{AtomicU32, Ordering};

/// A name no other test (or earlier run against the same servers) uses.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Standard base64.
pub fn base64(bytes: &[u8]) -> String {
    switchboard_model::envelope::encode_base64(bytes)
}
