//! The lease table: created on first use (on demand billing, hash key `leaseKey`), checked
//! to belong to our stream, and written only with conditional updates.
//!
//! Every write that changes a lease is conditioned on the `leaseCounter` the writer last
//! saw (and, where it matters, on `leaseOwner` / `checkpointOwner`) and bumps the counter,
//! exactly as the KCL's `DynamoDBLeaseRefresher` does. A write whose condition fails
//! returns `Ok(None)`: someone else changed the lease, and the caller re-reads it to learn
//! what happened. Writes return the item as stored (`ALL_NEW`), so the caller's copy of
//! the counter is always the table's.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValue,
    ScalarAttributeType, TableStatus,
};
use aws_sdk_dynamodb::Client;
use tracing::{debug, info};

use super::item::{self, n, s, Item};
use super::{Checkpoint, Lease, LeaseError};

/// How long a new table may take to become ACTIVE.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(120);

/// A lease table bound to one stream.
#[derive(Debug, Clone)]
pub struct LeaseTable {
    client: Client,
    name: String,
    /// The stream's ARN, written into every lease we create and checked in every lease we
    /// read.
    stream: String,
}

impl LeaseTable {
    /// Opens the table `name` for `stream` (an ARN): creates it if it does not exist,
    /// waits until it is ACTIVE, and refuses it if it is not a lease table or if its
    /// leases name another stream.
    pub async fn open(
        client: Client,
        name: impl Into<String>,
        stream: impl Into<String>,
    ) -> Result<Self, LeaseError> {
        let table = LeaseTable {
            client,
            name: name.into(),
            stream: stream.into(),
        };
        table.ensure_exists().await?;
        table.list().await?;
        Ok(table)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The stream ARN this table belongs to.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    fn dynamo_err<E>(&self, operation: &'static str) -> impl Fn(SdkError<E>) -> LeaseError + '_
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        move |e| LeaseError::Dynamo {
            table: self.name.clone(),
            operation,
            message: DisplayErrorContext(&e).to_string(),
        }
    }

    async fn ensure_exists(&self) -> Result<(), LeaseError> {
        let started = tokio::time::Instant::now();
        let mut created = false;
        loop {
            let described = self
                .client
                .describe_table()
                .table_name(&self.name)
                .send()
                .await;
            let table = match described {
                Ok(out) => out.table,
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|se| se.is_resource_not_found_exception()) =>
                {
                    if !created {
                        self.create().await?;
                        created = true;
                    }
                    None
                }
                Err(e) => return Err(self.dynamo_err("DescribeTable")(e)),
            };
            if let Some(table) = table {
                self.check_key_schema(table.key_schema())?;
                if table.table_status() == Some(&TableStatus::Active) {
                    return Ok(());
                }
            }
            if started.elapsed() > ACTIVE_TIMEOUT {
                return Err(LeaseError::NotActive {
                    table: self.name.clone(),
                    seconds: ACTIVE_TIMEOUT.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn check_key_schema(&self, schema: &[KeySchemaElement]) -> Result<(), LeaseError> {
        let ok = schema.len() == 1
            && schema[0].attribute_name() == item::LEASE_KEY
            && schema[0].key_type() == &KeyType::Hash;
        if ok {
            Ok(())
        } else {
            Err(LeaseError::NotALeaseTable {
                table: self.name.clone(),
                reason: format!("its key is not the hash key {}", item::LEASE_KEY),
            })
        }
    }

    async fn create(&self) -> Result<(), LeaseError> {
        let build_err = |e: aws_sdk_dynamodb::error::BuildError| LeaseError::Dynamo {
            table: self.name.clone(),
            operation: "CreateTable",
            message: e.to_string(),
        };
        let key = KeySchemaElement::builder()
            .attribute_name(item::LEASE_KEY)
            .key_type(KeyType::Hash)
            .build()
            .map_err(build_err)?;
        let attr = AttributeDefinition::builder()
            .attribute_name(item::LEASE_KEY)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(build_err)?;
        let result = self
            .client
            .create_table()
            .table_name(&self.name)
            .key_schema(key)
            .attribute_definitions(attr)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match result {
            Ok(_) => {
                info!(table = %self.name, stream = %self.stream, "created the lease table");
                Ok(())
            }
            // Another worker created it first.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_in_use_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(self.dynamo_err("CreateTable")(e)),
        }
    }

    fn parse(&self, item: &Item) -> Result<Lease, LeaseError> {
        let lease = item::from_item(item).map_err(|(key, reason)| LeaseError::BadItem {
            table: self.name.clone(),
            key,
            reason,
        })?;
        match &lease.stream {
            Some(found) if *found != self.stream => Err(LeaseError::OtherStream {
                table: self.name.clone(),
                found: found.clone(),
                expected: self.stream.clone(),
            }),
            _ => Ok(lease),
        }
    }

    /// Every lease (a consistent scan), checked to belong to our stream.
    pub async fn list(&self) -> Result<Vec<Lease>, LeaseError> {
        let mut leases = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.name)
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(self.dynamo_err("Scan"))?;
            for item in out.items() {
                leases.push(self.parse(item)?);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        leases.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(leases)
    }

    /// One lease (consistent read).
    pub async fn get(&self, key: &str) -> Result<Option<Lease>, LeaseError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .key(item::LEASE_KEY, s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(self.dynamo_err("GetItem"))?;
        out.item.as_ref().map(|i| self.parse(i)).transpose()
    }

    /// Creates `lease` unless a lease with its key exists. Returns whether it was created.
    pub async fn create_lease(&self, lease: &Lease) -> Result<bool, LeaseError> {
        let mut lease = lease.clone();
        lease.stream = Some(self.stream.clone());
        let result = self
            .client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(item::to_item(&lease)))
            .condition_expression("attribute_not_exists(#k)")
            .expression_attribute_names("#k", item::LEASE_KEY)
            .send()
            .await;
        match result {
            Ok(_) => {
                debug!(table = %self.name, lease = %lease.key, checkpoint = %lease.checkpoint, "created lease");
                Ok(true)
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(self.dynamo_err("PutItem")(e)),
        }
    }

    /// Takes a free or expired lease: owner = `me`, as last seen (`lease.counter`).
    pub async fn take(&self, lease: &Lease, me: &str) -> Result<Option<Lease>, LeaseError> {
        let switched = lease.owner.as_deref().is_some_and(|o| o != me);
        Update::new(lease)
            .expect_counter()
            .set(item::LEASE_OWNER, s(me))
            .set(
                item::OWNER_SWITCHES,
                n(lease.owner_switches + u64::from(switched)),
            )
            .remove(item::CHECKPOINT_OWNER)
            .run(self, "take")
            .await
    }

    /// Steals a live lease from its owner for balance, as a graceful handoff: `me` becomes
    /// the owner and the old owner the `checkpointOwner`, who still has to checkpoint.
    pub async fn steal(&self, lease: &Lease, me: &str) -> Result<Option<Lease>, LeaseError> {
        let Some(old) = &lease.owner else {
            return self.take(lease, me).await;
        };
        Update::new(lease)
            .expect_counter()
            .expect_eq(item::LEASE_OWNER, s(old))
            .expect_absent(item::CHECKPOINT_OWNER)
            .set(item::LEASE_OWNER, s(me))
            .set(item::CHECKPOINT_OWNER, s(old))
            .set(item::OWNER_SWITCHES, n(lease.owner_switches + 1))
            .run(self, "steal")
            .await
    }

    /// Renews a lease we hold.
    pub async fn renew(&self, lease: &Lease, me: &str) -> Result<Option<Lease>, LeaseError> {
        Update::new(lease)
            .expect_counter()
            .expect_eq(item::LEASE_OWNER, s(me))
            .run(self, "renew")
            .await
    }

    /// Checkpoints a lease we hold (not while a handoff to us is still pending).
    /// `children` are written with a SHARD_END checkpoint.
    pub async fn checkpoint(
        &self,
        lease: &Lease,
        me: &str,
        checkpoint: &Checkpoint,
        children: &[String],
    ) -> Result<Option<Lease>, LeaseError> {
        let mut update = Update::new(lease)
            .expect_counter()
            .expect_eq(item::LEASE_OWNER, s(me))
            .expect_absent(item::CHECKPOINT_OWNER)
            .set(item::CHECKPOINT, s(checkpoint.as_str()))
            .set(item::CHECKPOINT_SUB, n(0))
            .set(item::OWNER_SWITCHES, n(0));
        if !children.is_empty() {
            update = update.set(item::CHILD_SHARD_IDS, AttributeValue::Ss(children.to_vec()));
        }
        update.run(self, "checkpoint").await
    }

    /// The old owner's side of a handoff: checkpoints (if `checkpoint` is given) and clears
    /// `checkpointOwner`, so the new owner may start. Conditioned on `checkpointOwner`
    /// being `me` only: the new owner renews meanwhile, so the counter moves.
    pub async fn finish_handoff(
        &self,
        key: &str,
        me: &str,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<bool, LeaseError> {
        let mut names = HashMap::new();
        names.insert("#co".to_string(), item::CHECKPOINT_OWNER.to_string());
        names.insert("#c".to_string(), item::LEASE_COUNTER.to_string());
        let mut values = HashMap::new();
        values.insert(":me".to_string(), s(me));
        values.insert(":one".to_string(), n(1));
        let mut set = "#c = #c + :one".to_string();
        if let Some(cp) = checkpoint {
            names.insert("#cp".into(), item::CHECKPOINT.into());
            names.insert("#sub".into(), item::CHECKPOINT_SUB.into());
            names.insert("#sw".into(), item::OWNER_SWITCHES.into());
            values.insert(":cp".into(), s(cp.as_str()));
            values.insert(":zero".into(), n(0));
            set.push_str(", #cp = :cp, #sub = :zero, #sw = :zero");
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .key(item::LEASE_KEY, s(key))
            .update_expression(format!("SET {set} REMOVE #co"))
            .condition_expression("#co = :me")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(self.dynamo_err("UpdateItem (finish handoff)")(e)),
        }
    }

    /// The new owner's side of a handoff the old owner never finished (it died): clears
    /// `checkpointOwner` so we may start from the last checkpoint.
    pub async fn abandon_handoff(
        &self,
        lease: &Lease,
        me: &str,
    ) -> Result<Option<Lease>, LeaseError> {
        Update::new(lease)
            .expect_counter()
            .expect_eq(item::LEASE_OWNER, s(me))
            .remove(item::CHECKPOINT_OWNER)
            .run(self, "abandon handoff")
            .await
    }

    /// Gives a lease we hold back (graceful shutdown), so another worker takes it at once.
    pub async fn release(&self, lease: &Lease, me: &str) -> Result<Option<Lease>, LeaseError> {
        Update::new(lease)
            .expect_counter()
            .expect_eq(item::LEASE_OWNER, s(me))
            .remove(item::LEASE_OWNER)
            .remove(item::CHECKPOINT_OWNER)
            .run(self, "release")
            .await
    }
}

/// One conditional `UpdateItem` that bumps the counter.
struct Update<'a> {
    lease: &'a Lease,
    sets: Vec<String>,
    removes: Vec<String>,
    conditions: Vec<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl<'a> Update<'a> {
    fn new(lease: &'a Lease) -> Self {
        let update = Update {
            lease,
            sets: Vec::new(),
            removes: Vec::new(),
            conditions: Vec::new(),
            names: HashMap::new(),
            values: HashMap::new(),
        };
        update.set(item::LEASE_COUNTER, n(lease.counter + 1))
    }

    fn name(&mut self, attr: &str) -> String {
        let placeholder = format!("#a{}", self.names.len());
        self.names.insert(placeholder.clone(), attr.to_string());
        placeholder
    }

    fn value(&mut self, v: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), v);
        placeholder
    }

    fn set(mut self, attr: &str, v: AttributeValue) -> Self {
        let (name, value) = (self.name(attr), self.value(v));
        self.sets.push(format!("{name} = {value}"));
        self
    }

    fn remove(mut self, attr: &str) -> Self {
        let name = self.name(attr);
        self.removes.push(name);
        self
    }

    fn expect_counter(self) -> Self {
        let counter = n(self.lease.counter);
        self.expect_eq(item::LEASE_COUNTER, counter)
    }

    fn expect_eq(mut self, attr: &str, v: AttributeValue) -> Self {
        let (name, value) = (self.name(attr), self.value(v));
        self.conditions.push(format!("{name} = {value}"));
        self
    }

    fn expect_absent(mut self, attr: &str) -> Self {
        let name = self.name(attr);
        self.conditions
            .push(format!("attribute_not_exists({name})"));
        self
    }

    async fn run(
        self,
        table: &LeaseTable,
        what: &'static str,
    ) -> Result<Option<Lease>, LeaseError> {
        let mut expression = format!("SET {}", self.sets.join(", "));
        if !self.removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", self.removes.join(", ")));
        }
        let result = table
            .client
            .update_item()
            .table_name(&table.name)
            .key(item::LEASE_KEY, s(&self.lease.key))
            .update_expression(expression)
            .condition_expression(self.conditions.join(" AND "))
            .set_expression_attribute_names(Some(self.names))
            .set_expression_attribute_values(Some(self.values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => match out.attributes {
                Some(attrs) if !attrs.is_empty() => table.parse(&attrs).map(Some),
                // A server that does not return the item: read it back.
                _ => table.get(&self.lease.key).await,
            },
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                debug!(table = %table.name, lease = %self.lease.key, what, "conditional write lost");
                Ok(None)
            }
            Err(e) => {
                let code = e.code().unwrap_or("").to_string();
                Err(LeaseError::Dynamo {
                    table: table.name.clone(),
                    operation: what,
                    message: format!("{code} {}", DisplayErrorContext(&e)),
                })
            }
        }
    }
}
