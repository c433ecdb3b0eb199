//! The `switchboard.toml` setup writes for what it made: one source per stream, in the
//! same layout as `examples/*.toml` (`switchboard validate` checks it in a test).

use std::fmt::Write;

/// What the written config reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Written {
    /// The Connect instance.
    pub instance_id: String,
    /// Region of every stream.
    pub region: String,
    /// Endpoint URL for every AWS service (local test servers only).
    pub endpoint_url: Option<String>,
    /// Prefix of the lease tables' names (the `application` of each Kinesis source).
    pub application_prefix: String,
    /// Kinesis stream carrying contact records.
    pub contact_records_stream: Option<String>,
    /// S3 location (`s3://bucket/prefix`) Firehose writes contact records to.
    pub contact_records_s3: Option<String>,
    /// Kinesis stream carrying agent events.
    pub agent_events_stream: Option<String>,
    /// The SQS queue the contact-event rule targets.
    pub contact_events_queue_url: Option<String>,
    /// Event types the rule leaves out (repeated in the source's filter).
    pub contact_events_exclude: Vec<String>,
}

fn quoted(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// The config file's text.
pub fn render(w: &Written) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# switchboard run --config switchboard.toml\n#\n# Written by `switchboard aws setup \
         --instance-id {}`: one source per stream setup made\n# or reused. Edit freely; \
         `switchboard validate` checks it.\n",
        w.instance_id
    );
    out.push_str(
        "[store]\n# The embedded store: one SQLite file, created if missing.\nurl = \
         \"sqlite:switchboard.db\"\n\n[server]\nlisten = \"127.0.0.1:8080\"\n\n[dead_letter]\n\
         path = \"dead-letters.ndjson\"\n\n",
    );
    let _ = writeln!(out, "[aws]\nregion = {}", quoted(&w.region));
    if let Some(url) = &w.endpoint_url {
        let _ = writeln!(out, "endpoint_url = {}", quoted(url));
    }
    if let Some(stream) = &w.agent_events_stream {
        let _ = writeln!(
            out,
            "\n# Agent events (Connect data streaming: AGENT_EVENTS).\n[[sources]]\ntype = \
             \"kinesis\"\nstream = {}\n# Names the DynamoDB lease table `run` creates.\n\
             application = {}",
            quoted(stream),
            quoted(&format!("{}-agent-events", w.application_prefix))
        );
    }
    if let Some(stream) = &w.contact_records_stream {
        let _ = writeln!(
            out,
            "\n# Contact records (Connect data streaming: CONTACT_TRACE_RECORDS).\n[[sources]]\n\
             type = \"kinesis\"\nstream = {}\napplication = {}",
            quoted(stream),
            quoted(&format!("{}-contact-records", w.application_prefix))
        );
    }
    if let Some(s3) = &w.contact_records_s3 {
        let _ = writeln!(
            out,
            "\n# Contact records go through Firehose to {s3} (newline-delimited JSON, one\n\
             # object per buffer). switchboard reads them as files: copy them down (for\n\
             # example `aws s3 sync {s3} exports/`) and add\n#   [[sources]]\n#   type = \
             \"files\"\n#   paths = [\"exports\"]"
        );
    }
    if let Some(url) = &w.contact_events_queue_url {
        let _ = writeln!(
            out,
            "\n# Contact events: the EventBridge rule setup made sends them to this queue.\n\
             [[sources]]\ntype = \"sqs\"\nqueue_url = {}\nwait_time_secs = 20",
            quoted(url)
        );
        if !w.contact_events_exclude.is_empty() {
            let list: Vec<String> = w.contact_events_exclude.iter().map(|s| quoted(s)).collect();
            let _ = writeln!(out, "event_types = {{ exclude = [{}] }}", list.join(", "));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_source_as_toml() {
        let text = render(&Written {
            instance_id: "i-1".into(),
            region: "us-east-1".into(),
            endpoint_url: None,
            application_prefix: "switchboard-i-1".into(),
            contact_records_stream: Some("ctr".into()),
            contact_records_s3: None,
            agent_events_stream: Some("agents".into()),
            contact_events_queue_url: Some("https://sqs/q".into()),
            contact_events_exclude: vec!["CONTACT_DATA_UPDATED".into()],
        });
        let value: toml::Table = toml::from_str(&text).unwrap();
        let sources = value["sources"].as_array().unwrap();
        assert_eq!(sources.len(), 3);
        assert_eq!(sources[0]["stream"].as_str(), Some("agents"));
        assert_eq!(sources[2]["type"].as_str(), Some("sqs"));
    }
}
