//! The JSON splitter: never panics, and the values it yields are in order and in bounds.
#![no_main]

use std::ops::ControlFlow;

use libfuzzer_sys::fuzz_target;
use switchboard_model::decode::split::split_json;

fuzz_target!(|data: &[u8]| {
    let mut last_end = 0u64;
    let _ = split_json(data, 1 << 16, |item| {
        if let Ok(span) = item {
            assert!(span.offset >= last_end);
            let end = span.offset + span.bytes.len() as u64;
            assert!(end <= data.len() as u64);
            assert_eq!(&data[span.offset as usize..end as usize], span.bytes);
            last_end = end;
        }
        ControlFlow::Continue(())
    });
});
