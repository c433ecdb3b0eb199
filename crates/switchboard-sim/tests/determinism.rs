//! Same config and seed, same bytes; another seed, other bytes; and the output does not
//! depend on how it is pulled (all at once, or in live-style batches).

mod common;

use common::{config, run};
use switchboard_model::Timestamp;
use switchboard_sim::Simulator;

fn bytes(seed: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for d in run(config(25, 2, seed)) {
        out.extend_from_slice(&d.at.to_le_bytes());
        out.extend_from_slice(&d.json);
        out.push(b'\n');
    }
    out
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = bytes(42);
    assert!(
        a.len() > 100_000,
        "suspiciously little output: {} bytes",
        a.len()
    );
    assert_eq!(a, bytes(42));
    assert_ne!(a, bytes(43));
}

#[test]
fn batches_give_the_same_output_as_the_iterator() {
    let c = config(25, 2, 7);
    let all: Vec<_> = Simulator::new(c.clone()).unwrap().collect();
    let mut sim = Simulator::new(c).unwrap();
    let mut batched = Vec::new();
    let mut until = sim.config().start.millis();
    while !sim.is_finished() {
        until += 37_000;
        let batch = sim.next_batch(Timestamp::from_millis(until));
        assert!(batch.iter().all(|e| e.at.millis() <= until));
        assert!(sim.now().millis() <= until);
        batched.extend(batch);
    }
    assert_eq!(all.len(), batched.len());
    assert!(
        all == batched,
        "batched output differs from iterated output"
    );
    assert!(
        all.windows(2).all(|w| w[0].at <= w[1].at),
        "not in delivery order"
    );
}
