//! Auto-detecting decoder on arbitrary bytes: must never panic; every record it yields
//! must re-encode and decode to itself.
#![no_main]

use std::ops::ControlFlow;

use libfuzzer_sys::fuzz_target;
use switchboard_model::Decoder;

fuzz_target!(|data: &[u8]| {
    let mut records = Vec::new();
    Decoder::default().decode_slice(None, data, &mut |r| {
        if let Ok(d) = r {
            // The engine's view never panics; a record the full model reads round-trips.
            let _ = d.view();
            if let Ok(record) = d.record() {
                records.push(record);
            }
        }
        ControlFlow::Continue(())
    });
    for record in records {
        let bytes = serde_json_bytes(&record);
        let mut again = Vec::new();
        Decoder::default().decode_slice(None, &bytes, &mut |r| {
            let d = r.expect("a re-encoded record decodes");
            again.push(d.record().expect("a re-encoded record parses"));
            ControlFlow::Continue(())
        });
        assert_eq!(again, vec![record]);
    }
});

fn serde_json_bytes(record: &switchboard_model::Record) -> Vec<u8> {
    serde_json::to_vec(record).expect("records serialize")
}
