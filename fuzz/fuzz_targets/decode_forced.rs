//! Every forced envelope format on arbitrary bytes: must never panic.
#![no_main]

use std::ops::ControlFlow;

use libfuzzer_sys::fuzz_target;
use switchboard_model::decode::{Decoder, Format};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let (format, _, _) = Format::ALL[usize::from(selector) % Format::ALL.len()];
    Decoder::new(format).decode_slice(None, rest, &mut |_| ControlFlow::Continue(()));
});
