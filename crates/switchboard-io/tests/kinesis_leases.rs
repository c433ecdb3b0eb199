//! The lease table against dynalite (a strict DynamoDB): created in the KCL's shape,
//! refused when it belongs to another stream, and written only by conditional updates
//! that let exactly one of two racing workers win.

mod kinesis_support;

use aws_sdk_dynamodb::types::AttributeValue;
use kinesis_support::{dynamo_client, servers, unique};
use switchboard_io::leases::{Checkpoint, HeldLease, Lease, LeaseError, LeaseTable, Renewal};
use switchboard_model::SequenceNumber;

const STREAM: &str = "arn:aws:kinesis:us-east-1:000000000000:stream/agents";

async fn table() -> (aws_sdk_dynamodb::Client, LeaseTable) {
    let client = dynamo_client(&servers()).await;
    let name = unique("leases");
    let table = LeaseTable::open(client.clone(), &name, STREAM)
        .await
        .unwrap();
    (client, table)
}

fn seq(s: &str) -> Checkpoint {
    Checkpoint::Sequence(SequenceNumber::new(s).unwrap())
}

#[tokio::test]
async fn creates_a_kcl_shaped_table_and_items() {
    let (client, table) = table().await;
    let described = client
        .describe_table()
        .table_name(table.name())
        .send()
        .await
        .unwrap();
    let key = described.table().unwrap().key_schema();
    assert_eq!(key.len(), 1);
    assert_eq!(key[0].attribute_name(), "leaseKey");

    let mut lease = Lease::new(
        "shardId-000000000002",
        Checkpoint::TrimHorizon,
        vec!["shardId-000000000000".into()],
    );
    assert!(table.create_lease(&lease).await.unwrap());
    lease.checkpoint = Checkpoint::Latest;
    assert!(
        !table.create_lease(&lease).await.unwrap(),
        "never overwritten"
    );

    let item = client
        .get_item()
        .table_name(table.name())
        .key("leaseKey", AttributeValue::S("shardId-000000000002".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item["checkpoint"], AttributeValue::S("TRIM_HORIZON".into()));
    assert_eq!(item["leaseCounter"], AttributeValue::N("0".into()));
    assert_eq!(
        item["checkpointSubSequenceNumber"],
        AttributeValue::N("0".into())
    );
    assert_eq!(
        item["ownerSwitchesSinceCheckpoint"],
        AttributeValue::N("0".into())
    );
    assert_eq!(
        item["parentShardId"],
        AttributeValue::Ss(vec!["shardId-000000000000".into()])
    );
    assert_eq!(item["switchboardStream"], AttributeValue::S(STREAM.into()));
    assert!(!item.contains_key("leaseOwner"));

    // Opening again (another worker) finds the same table and lease.
    let again = LeaseTable::open(client, table.name(), STREAM)
        .await
        .unwrap();
    assert_eq!(again.list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn refuses_a_table_of_another_stream() {
    let (client, table) = table().await;
    table
        .create_lease(&Lease::new(
            "shardId-000000000000",
            Checkpoint::TrimHorizon,
            vec![],
        ))
        .await
        .unwrap();
    let other = "arn:aws:kinesis:us-east-1:000000000000:stream/contact-records";
    let err = LeaseTable::open(client.clone(), table.name(), other)
        .await
        .unwrap_err();
    match &err {
        LeaseError::OtherStream {
            found, expected, ..
        } => {
            assert_eq!(found, STREAM);
            assert_eq!(expected, other);
        }
        e => panic!("{e}"),
    }
    assert!(err.to_string().contains("application name"), "{err}");

    // A table that is not a lease table at all.
    let name = unique("not-leases");
    client
        .create_table()
        .table_name(&name)
        .key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let err = LeaseTable::open(client, &name, STREAM).await.unwrap_err();
    assert!(matches!(err, LeaseError::NotALeaseTable { .. }), "{err}");
}

#[tokio::test]
async fn of_two_workers_taking_the_same_lease_exactly_one_wins() {
    let (_, table) = table().await;
    let lease = Lease::new("shardId-000000000000", Checkpoint::TrimHorizon, vec![]);
    table.create_lease(&lease).await.unwrap();
    let seen = table.get(&lease.key).await.unwrap().unwrap();
    let (a, b) = tokio::join!(table.take(&seen, "a"), table.take(&seen, "b"));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.is_some() != b.is_some(), "exactly one wins: {a:?} {b:?}");
    let winner = a.or(b).unwrap();
    assert_eq!(winner.counter, seen.counter + 1);
    let stored = table.get(&lease.key).await.unwrap().unwrap();
    assert_eq!(stored, winner);
    // The loser's renewal, checkpoint and release all fail.
    let loser = if winner.owner.as_deref() == Some("a") {
        "b"
    } else {
        "a"
    };
    assert!(table.renew(&winner, loser).await.unwrap().is_none());
    assert!(table
        .checkpoint(&winner, loser, &seq("5"), &[])
        .await
        .unwrap()
        .is_none());
    assert!(table.release(&winner, loser).await.unwrap().is_none());
    // A stale counter fails even for the owner.
    let owner = winner.owner.clone().unwrap();
    assert!(table.renew(&seen, &owner).await.unwrap().is_none());
    assert!(table.renew(&winner, &owner).await.unwrap().is_some());
}

#[tokio::test]
async fn checkpoints_move_forward_as_big_integers_and_renewals_keep_up() {
    let (_, table) = table().await;
    let lease = Lease::new("shardId-000000000000", Checkpoint::TrimHorizon, vec![]);
    table.create_lease(&lease).await.unwrap();
    let taken = table.take(&lease, "a").await.unwrap().unwrap();
    let held = HeldLease::new(table.clone(), "a", taken);
    // Longer than any machine integer; 10 digits > 9 digits.
    let big = "49590338271490256608559692538361571095921575989136588898";
    assert_eq!(
        held.checkpoint(&seq("999999999"), &[]).await.unwrap(),
        Renewal::Renewed
    );
    assert_eq!(held.renew().await.unwrap(), Renewal::Renewed);
    assert_eq!(
        held.checkpoint(&seq("1000000000"), &[]).await.unwrap(),
        Renewal::Renewed
    );
    // Backwards is a no-op (a late acknowledgement of an earlier delivery).
    assert_eq!(
        held.checkpoint(&seq("999999999"), &[]).await.unwrap(),
        Renewal::Renewed
    );
    assert_eq!(
        table.get(&lease.key).await.unwrap().unwrap().checkpoint,
        seq("1000000000")
    );
    assert_eq!(
        held.checkpoint(&seq(big), &[]).await.unwrap(),
        Renewal::Renewed
    );
    let ended = held
        .checkpoint(&Checkpoint::ShardEnd, &["shardId-000000000003".into()])
        .await
        .unwrap();
    assert_eq!(ended, Renewal::Renewed);
    let stored = table.get(&lease.key).await.unwrap().unwrap();
    assert!(stored.is_finished());
    assert_eq!(stored.children, vec!["shardId-000000000003".to_string()]);
    assert_eq!(stored.owner_switches, 0);
}

#[tokio::test]
async fn a_steal_is_a_handoff_the_old_owner_completes() {
    let (_, table) = table().await;
    let lease = Lease::new("shardId-000000000000", Checkpoint::TrimHorizon, vec![]);
    table.create_lease(&lease).await.unwrap();
    let taken = table.take(&lease, "old").await.unwrap().unwrap();
    let old = HeldLease::new(table.clone(), "old", taken.clone());
    old.checkpoint(&seq("100"), &[]).await.unwrap();

    // The new owner steals with what it scanned (the counter after the checkpoint).
    let scanned = table.get(&lease.key).await.unwrap().unwrap();
    let stolen = table.steal(&scanned, "new").await.unwrap().unwrap();
    assert_eq!(stolen.owner.as_deref(), Some("new"));
    assert_eq!(stolen.checkpoint_owner.as_deref(), Some("old"));
    assert_eq!(stolen.owner_switches, 1);
    // Nobody steals a lease in handoff.
    assert!(table.steal(&stolen, "third").await.unwrap().is_none());
    let new = HeldLease::new(table.clone(), "new", stolen);

    // The new owner renews while it waits; the old one learns of the handoff.
    assert_eq!(new.renew().await.unwrap(), Renewal::Renewed);
    assert_eq!(old.renew().await.unwrap(), Renewal::HandOff);
    // The old owner may no longer checkpoint normally...
    assert_eq!(
        old.checkpoint(&seq("150"), &[]).await.unwrap(),
        Renewal::HandOff
    );
    // ...but finishes the handoff with its last stored record.
    assert!(old.finish_handoff(Some(&seq("180"))).await.unwrap());
    assert!(
        !old.finish_handoff(Some(&seq("190"))).await.unwrap(),
        "only once"
    );

    // The new owner's next renewal adopts the bumped counter and sees the handoff done.
    assert_eq!(new.renew().await.unwrap(), Renewal::Renewed);
    let after = new.snapshot().await;
    assert_eq!(after.checkpoint_owner, None);
    assert_eq!(after.checkpoint, seq("180"));
    assert_eq!(after.owner_switches, 0);
    assert_eq!(
        new.checkpoint(&seq("200"), &[]).await.unwrap(),
        Renewal::Renewed
    );
    assert_eq!(old.renew().await.unwrap(), Renewal::Lost);
}

#[tokio::test]
async fn a_handoff_the_old_owner_never_finishes_is_abandoned_by_the_new_one() {
    let (_, table) = table().await;
    let lease = Lease::new("shardId-000000000000", Checkpoint::TrimHorizon, vec![]);
    table.create_lease(&lease).await.unwrap();
    let taken = table.take(&lease, "dead").await.unwrap().unwrap();
    let stolen = table.steal(&taken, "new").await.unwrap().unwrap();
    let new = HeldLease::new(table.clone(), "new", stolen);
    assert!(new.abandon_handoff().await.unwrap());
    assert_eq!(new.snapshot().await.checkpoint_owner, None);
    assert_eq!(
        new.checkpoint(&seq("7"), &[]).await.unwrap(),
        Renewal::Renewed
    );
    // The dead owner's late handoff write fails.
    let ghost = HeldLease::new(table.clone(), "dead", taken);
    assert!(!ghost.finish_handoff(Some(&seq("3"))).await.unwrap());
    assert_eq!(
        table.get(&lease.key).await.unwrap().unwrap().checkpoint,
        seq("7")
    );
}

#[tokio::test]
async fn a_released_lease_is_free_and_keeps_its_checkpoint() {
    let (_, table) = table().await;
    let lease = Lease::new("shardId-000000000000", Checkpoint::TrimHorizon, vec![]);
    table.create_lease(&lease).await.unwrap();
    let taken = table.take(&lease, "a").await.unwrap().unwrap();
    let held = HeldLease::new(table.clone(), "a", taken);
    held.checkpoint(&seq("42"), &[]).await.unwrap();
    assert!(held.release().await.unwrap());
    let free = table.get(&lease.key).await.unwrap().unwrap();
    assert_eq!(free.owner, None);
    assert_eq!(free.checkpoint, seq("42"));
    let retaken = table.take(&free, "b").await.unwrap().unwrap();
    assert_eq!(retaken.owner.as_deref(), Some("b"));
    assert_eq!(retaken.owner_switches, 0, "no owner to switch from");
}
