//! The other end of the stream, for benches and tests against local servers: create a
//! stream, put Connect records into it the way Connect does (partition key: the agent
//! ARN for agent events, the contact id for contact records and events), delete it.

use std::time::Duration;

use aws_sdk_kinesis::config::Credentials;
use aws_sdk_kinesis::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, StreamStatus};
use aws_sdk_kinesis::Client;
use switchboard_model::Record;
use tokio::time::Instant;

use super::api::ApiError;

/// The partition key Connect gives a record.
pub fn partition_key(record: &Record) -> &str {
    match record {
        Record::AgentEvent(e) => &e.agent_arn,
        Record::ContactRecord(r) => &r.contact_id,
        Record::ContactEvent(e) => &e.detail.contact_id,
    }
}

/// SDK configuration for a local server (kinesalite, dynalite, moto): the endpoint,
/// us-east-1 and dummy credentials.
pub async fn local_sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("local", "local", None, None, "local"))
        .load()
        .await
}

/// Kinesis and DynamoDB clients for local servers (see [`local_sdk_config`]).
pub async fn local_clients(
    kinesis_endpoint: &str,
    dynamodb_endpoint: &str,
) -> (super::KinesisClient, super::DynamoClient) {
    (
        super::KinesisClient::new(&local_sdk_config(kinesis_endpoint).await),
        super::DynamoClient::new(&local_sdk_config(dynamodb_endpoint).await),
    )
}

fn api_err<
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
>(
    e: aws_sdk_kinesis::error::SdkError<E, R>,
) -> ApiError {
    ApiError::Other(format!(
        "{}: {}",
        e.code().unwrap_or("error"),
        DisplayErrorContext(&e)
    ))
}

/// One stream, written to.
#[derive(Debug, Clone)]
pub struct Producer {
    client: Client,
    stream: String,
}

impl Producer {
    pub fn new(client: Client, stream: impl Into<String>) -> Self {
        Self {
            client,
            stream: stream.into(),
        }
    }

    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// Creates the stream with `shards` shards and waits until it is ACTIVE.
    pub async fn create(&self, shards: i32) -> Result<(), ApiError> {
        self.client
            .create_stream()
            .stream_name(&self.stream)
            .shard_count(shards)
            .send()
            .await
            .map_err(api_err)?;
        self.wait_active(Duration::from_secs(60)).await
    }

    /// Waits until the stream is ACTIVE (after a creation, split or merge).
    pub async fn wait_active(&self, limit: Duration) -> Result<(), ApiError> {
        let started = Instant::now();
        loop {
            let out = self
                .client
                .describe_stream_summary()
                .stream_name(&self.stream)
                .send()
                .await
                .map_err(api_err)?;
            let active = out
                .stream_description_summary()
                .is_some_and(|s| *s.stream_status() == StreamStatus::Active);
            if active {
                return Ok(());
            }
            if started.elapsed() > limit {
                return Err(ApiError::Other(format!(
                    "stream {} not ACTIVE after {} s",
                    self.stream,
                    limit.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Puts `(partition key, data)` records in order, 500 per `PutRecords`; entries the
    /// stream refuses (throttled) are put again.
    pub async fn put(&self, records: &[(String, Vec<u8>)]) -> Result<(), ApiError> {
        for chunk in records.chunks(500) {
            let mut todo: Vec<&(String, Vec<u8>)> = chunk.iter().collect();
            let mut attempts = 0u32;
            while !todo.is_empty() {
                let entries = todo
                    .iter()
                    .map(|(key, data)| {
                        PutRecordsRequestEntry::builder()
                            .partition_key(key)
                            .data(Blob::new(data.clone()))
                            .build()
                            .map_err(|e| ApiError::Other(e.to_string()))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let out = self
                    .client
                    .put_records()
                    .stream_name(&self.stream)
                    .set_records(Some(entries))
                    .send()
                    .await
                    .map_err(api_err)?;
                // Failed entries go again (order within a key is kept only if the
                // caller's records of one key are not split across a failure; Connect's
                // own producer has the same caveat).
                todo = todo
                    .into_iter()
                    .zip(out.records())
                    .filter(|(_, r)| r.error_code().is_some())
                    .map(|(entry, _)| entry)
                    .collect();
                attempts += 1;
                if !todo.is_empty() {
                    if attempts > 20 {
                        return Err(ApiError::Throttled(format!(
                            "{} records still refused after 20 attempts",
                            todo.len()
                        )));
                    }
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(attempts))).await;
                }
            }
        }
        Ok(())
    }

    /// Deletes the stream (best effort).
    pub async fn delete(&self) {
        let _ = self
            .client
            .delete_stream()
            .stream_name(&self.stream)
            .send()
            .await;
    }
}

/// A local server started from an npm package (kinesalite, dynalite) on 127.0.0.1 and a
/// free port; stopped when dropped, and exits by itself when this process ends (it
/// watches its parent), so one kept in a `static` does not outlive the tests.
#[derive(Debug)]
pub struct LocalServer {
    pub url: String,
    child: std::process::Child,
}

impl LocalServer {
    /// Starts `<node_modules>/<module>` with `options` (a JSON object passed to the
    /// package's factory, e.g. `{"shardLimit": 1000}` for kinesalite) and waits until it
    /// listens.
    pub fn start(
        node_modules: &std::path::Path,
        module: &str,
        options: &str,
    ) -> std::io::Result<Self> {
        use std::io::{Error, ErrorKind};
        let dir = node_modules.join(module);
        if !dir.join("package.json").exists() {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "{module} is not installed in {} (source scripts/servers.sh && install_servers)",
                    node_modules.display()
                ),
            ));
        }
        let dir = dir.canonicalize()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let script = "const [m, options, port, parent] = process.argv.slice(1);\
            require(m)(JSON.parse(options)).listen(+port, '127.0.0.1');\
            setInterval(() => { try { process.kill(+parent, 0) } catch (e) { process.exit(0) } }, 500);";
        let mut child = std::process::Command::new("node")
            .args(["-e", script])
            .arg(&dir)
            .arg(options)
            .arg(port.to_string())
            .arg(std::process::id().to_string())
            .stdout(std::process::Stdio::null())
            .spawn()?;
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(30) || child.try_wait()?.is_some() {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::new(
                    ErrorKind::TimedOut,
                    format!("{module} did not start listening on 127.0.0.1:{port}"),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Self {
            url: format!("http://127.0.0.1:{port}"),
            child,
        })
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
