//! RFC 3339 parsing: never panics; what parses re-formats to something that parses to
//! the same instant.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_model::Timestamp;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(t) = Timestamp::parse(s) {
        assert_eq!(Timestamp::parse(&t.to_string()).unwrap(), t);
    }
});
