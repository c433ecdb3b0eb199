//! `switchboard aws setup | status | teardown --instance-id ID`: Connect data streaming
//! in one command, with a price on it. Flags are parsed and turned into a request here;
//! the plan, the AWS calls and the estimate live in `switchboard_io::aws::setup`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use switchboard_io::aws::setup::apply;
use switchboard_io::aws::setup::clients::Clients;
use switchboard_io::aws::setup::config_file;
use switchboard_io::aws::setup::cost::{self, StreamMode, Traffic};
use switchboard_io::aws::setup::plan::{ContactEvents, FirehoseTarget, Plan, Request, Target};
use switchboard_io::aws::setup::prices::Prices;
use switchboard_io::aws::setup::resources::connect;
use switchboard_io::aws::setup::{status, teardown};
use switchboard_io::aws::AwsConfig;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Create or reuse the streams, queue and rule, associate them with the instance,
    /// print the plan and its monthly cost, write a switchboard.toml.
    Setup(Box<SetupArgs>),
    /// Show what the instance streams where, whether data flows, and what it costs.
    Status(StatusArgs),
    /// Disassociate and delete what setup made (found by its tags); keep the rest.
    Teardown(TeardownArgs),
}

/// Which instance, and where.
#[derive(clap::Args)]
struct Where {
    /// The Connect instance id (the last part of its ARN).
    #[arg(long, value_name = "ID")]
    instance_id: String,
    /// AWS region (default: the SDK's chain, e.g. AWS_REGION).
    #[arg(long)]
    region: Option<String>,
    /// Named profile from ~/.aws/config.
    #[arg(long)]
    profile: Option<String>,
    /// Endpoint URL for every service but Connect (a local test server).
    #[arg(long, hide = true, env = "SWITCHBOARD_AWS_ENDPOINT_URL")]
    endpoint_url: Option<String>,
    /// Endpoint URL for Connect (a local fake in tests).
    #[arg(long, hide = true, env = "SWITCHBOARD_CONNECT_ENDPOINT_URL")]
    connect_endpoint_url: Option<String>,
}

impl Where {
    fn aws(&self) -> AwsConfig {
        AwsConfig {
            region: self.region.clone(),
            profile: self.profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
        }
    }
}

/// The traffic the cost estimate assumes, and the price table.
#[derive(clap::Args)]
struct TrafficArgs {
    /// Agents.
    #[arg(long, default_value_t = Traffic::default().agents)]
    agents: u32,
    /// Hours a day each agent produces events.
    #[arg(long, default_value_t = Traffic::default().agent_hours_per_day)]
    agent_hours_per_day: f64,
    /// Contacts a day.
    #[arg(long, default_value_t = Traffic::default().contacts_per_day)]
    contacts_per_day: u32,
    /// Bytes of a contact record.
    #[arg(long, default_value_t = Traffic::default().ctr_bytes)]
    ctr_bytes: u64,
    /// Agent events per agent per logged-in hour.
    #[arg(long, default_value_t = Traffic::default().agent_events_per_agent_hour)]
    agent_events_per_hour: f64,
    /// Bytes of an agent event.
    #[arg(long, default_value_t = Traffic::default().agent_event_bytes)]
    agent_event_bytes: u64,
    /// Contact events per contact that pass the rule's filter.
    #[arg(long, default_value_t = Traffic::default().contact_events_per_contact)]
    contact_events_per_contact: f64,
    /// A price table to use instead of the built-in one (same layout as
    /// crates/switchboard-io/src/aws/setup/prices.toml).
    #[arg(long, value_name = "FILE")]
    prices: Option<PathBuf>,
}

impl TrafficArgs {
    fn traffic(&self) -> Traffic {
        Traffic {
            agents: self.agents,
            agent_hours_per_day: self.agent_hours_per_day,
            contacts_per_day: self.contacts_per_day,
            ctr_bytes: self.ctr_bytes,
            agent_events_per_agent_hour: self.agent_events_per_hour,
            agent_event_bytes: self.agent_event_bytes,
            contact_events_per_contact: self.contact_events_per_contact,
        }
    }

    fn prices(&self) -> anyhow::Result<Prices> {
        Ok(match &self.prices {
            Some(path) => Prices::read(path)?,
            None => Prices::built_in(),
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Carrier {
    Kinesis,
    Firehose,
    None,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum EventsTo {
    Sqs,
    None,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    Provisioned,
    OnDemand,
}

#[derive(clap::Args)]
struct SetupArgs {
    #[command(flatten)]
    target: Where,
    #[command(flatten)]
    traffic: TrafficArgs,
    /// Print the plan and the estimate; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Where contact records go.
    #[arg(long, value_enum, default_value = "kinesis")]
    contact_records: Carrier,
    /// Where agent events go (Connect streams them to a Kinesis stream only).
    #[arg(long, value_enum, default_value = "kinesis")]
    agent_events: Carrier,
    /// Where contact events go (an EventBridge rule to an SQS queue).
    #[arg(long, value_enum, default_value = "sqs")]
    contact_events: EventsTo,
    /// Kinesis capacity mode of the streams setup creates.
    #[arg(long, value_enum, default_value = "provisioned")]
    mode: Mode,
    /// Shards of each provisioned stream setup creates.
    #[arg(long, default_value_t = 1)]
    shards: u32,
    /// Prefix of every name setup gives (default: switchboard-<first 8 characters of the
    /// instance id>).
    #[arg(long)]
    name_prefix: Option<String>,
    /// Kinesis stream for contact records (created if missing, reused if it exists).
    #[arg(long)]
    contact_records_stream: Option<String>,
    /// Kinesis stream for agent events (created if missing, reused if it exists).
    #[arg(long)]
    agent_events_stream: Option<String>,
    /// Firehose delivery stream for contact records.
    #[arg(long)]
    delivery_stream: Option<String>,
    /// S3 bucket Firehose writes to (default: <prefix>-ctr-<account>-<region>).
    #[arg(long)]
    bucket: Option<String>,
    /// Key prefix of the contact-record objects.
    #[arg(long, default_value = "connect/contact-records/")]
    s3_prefix: String,
    /// Firehose buffer size hint, MiB (1 to 128).
    #[arg(long, default_value_t = 5)]
    buffer_mb: u32,
    /// Firehose buffer interval hint, seconds (0 to 900).
    #[arg(long, default_value_t = 300)]
    buffer_secs: u32,
    /// SQS queue for contact events.
    #[arg(long)]
    queue: Option<String>,
    /// EventBridge rule for contact events.
    #[arg(long)]
    rule: Option<String>,
    /// Contact event types the rule leaves out (comma-separated; empty for none).
    #[arg(long, value_delimiter = ',', default_value = "CONTACT_DATA_UPDATED")]
    exclude_event_types: Vec<String>,
    /// Where to write the config for what was set up (an existing file is kept and the
    /// new one written beside it with `.new` appended).
    #[arg(long, value_name = "FILE", default_value = "switchboard.toml")]
    config_out: PathBuf,
}

#[derive(clap::Args)]
struct StatusArgs {
    #[command(flatten)]
    target: Where,
    #[command(flatten)]
    traffic: TrafficArgs,
}

#[derive(clap::Args)]
struct TeardownArgs {
    #[command(flatten)]
    target: Where,
    /// Do not ask for confirmation.
    #[arg(long)]
    yes: bool,
    /// Print what would be removed; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Delete the contact records in the bucket setup made, with the bucket (otherwise a
    /// bucket holding objects is kept).
    #[arg(long)]
    delete_data: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        match args.command {
            Command::Setup(a) => setup(*a).await,
            Command::Status(a) => status_cmd(a).await,
            Command::Teardown(a) => teardown_cmd(a).await,
        }
    })
}

fn prefix(a: &SetupArgs) -> String {
    a.name_prefix.clone().unwrap_or_else(|| {
        let short: String = a.target.instance_id.chars().take(8).collect();
        format!("switchboard-{}", short.to_lowercase())
    })
}

fn request(a: &SetupArgs, account: &str, region: &str) -> Request {
    let p = prefix(a);
    let mode = match a.mode {
        Mode::Provisioned => StreamMode::Provisioned { shards: a.shards },
        Mode::OnDemand => StreamMode::OnDemand,
    };
    let firehose = || {
        Target::Firehose(FirehoseTarget {
            name: a
                .delivery_stream
                .clone()
                .unwrap_or_else(|| format!("{p}-contact-records")),
            bucket: a
                .bucket
                .clone()
                .unwrap_or_else(|| format!("{p}-ctr-{account}-{region}")),
            prefix: a.s3_prefix.clone(),
            error_prefix: format!(
                "{}errors/!{{firehose:error-output-type}}/",
                a.s3_prefix.trim_end_matches("contact-records/")
            ),
            buffer_mb: a.buffer_mb,
            buffer_secs: a.buffer_secs,
            role: format!("{p}-firehose"),
        })
    };
    let kinesis = |given: &Option<String>, suffix: &str| Target::Kinesis {
        stream: given.clone().unwrap_or_else(|| format!("{p}-{suffix}")),
        mode,
    };
    Request {
        instance_id: a.target.instance_id.clone(),
        contact_records: match a.contact_records {
            Carrier::Kinesis => Some(kinesis(&a.contact_records_stream, "contact-records")),
            Carrier::Firehose => Some(firehose()),
            Carrier::None => None,
        },
        agent_events: match a.agent_events {
            Carrier::Kinesis => Some(kinesis(&a.agent_events_stream, "agent-events")),
            Carrier::Firehose => Some(firehose()),
            Carrier::None => None,
        },
        contact_events: match a.contact_events {
            EventsTo::Sqs => Some(ContactEvents {
                rule: a
                    .rule
                    .clone()
                    .unwrap_or_else(|| format!("{p}-contact-events")),
                queue: a
                    .queue
                    .clone()
                    .unwrap_or_else(|| format!("{p}-contact-events")),
                exclude: a
                    .exclude_event_types
                    .iter()
                    .filter(|s| !s.is_empty())
                    .cloned()
                    .collect(),
            }),
            EventsTo::None => None,
        },
    }
}

async fn setup(a: SetupArgs) -> anyhow::Result<ExitCode> {
    let prices = a.traffic.prices()?;
    let traffic = a.traffic.traffic();
    // Refuse what Connect would refuse before calling anything.
    request(&a, "ACCOUNT", "REGION").check()?;
    let clients = Clients::new(&a.target.aws(), a.target.connect_endpoint_url.as_deref()).await;
    let instance_arn = connect::instance_arn(&clients.connect, &a.target.instance_id).await?;
    // arn:aws:connect:REGION:ACCOUNT:instance/ID
    let account = instance_arn
        .split(':')
        .nth(4)
        .unwrap_or("account")
        .to_owned();
    let req = request(&a, &account, &clients.region);
    let (observed, instance_arn) = apply::observe(&clients, &req).await?;
    let plan = Plan::make(&req, &observed);
    print!("{plan}");
    println!();
    print!(
        "{}",
        cost::estimate(&plan.footprint(&observed), &traffic, &prices)
    );
    if a.dry_run {
        println!("\nDry run: nothing was changed.");
        plan.check()?;
        return Ok(ExitCode::SUCCESS);
    }
    let written = apply::apply(&clients, &plan, &instance_arn, &prefix(&a)).await?;
    let text = config_file::render(&written);
    let path = write_config(&a.config_out, &text)?;
    println!("\nDone. Wrote {}.", path.display());
    let kept = apply::kept_by_teardown(&plan);
    if !kept.is_empty() {
        println!("Not made by switchboard, so teardown keeps them:");
        for r in kept {
            println!("  {r}");
        }
    }
    println!(
        "Next: switchboard validate --config {0}; switchboard run --config {0}; \
         switchboard aws status --instance-id {1}",
        path.display(),
        a.target.instance_id
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes the config; an existing file is kept and the new one goes beside it.
fn write_config(path: &Path, text: &str) -> anyhow::Result<PathBuf> {
    let target = if path.exists() {
        let mut p = path.as_os_str().to_owned();
        p.push(".new");
        let p = PathBuf::from(p);
        println!(
            "{} exists: keeping it, writing {} beside it",
            path.display(),
            p.display()
        );
        p
    } else {
        path.to_owned()
    };
    std::fs::write(&target, text).with_context(|| format!("cannot write {}", target.display()))?;
    Ok(target)
}

async fn status_cmd(a: StatusArgs) -> anyhow::Result<ExitCode> {
    let prices = a.traffic.prices()?;
    let clients = Clients::new(&a.target.aws(), a.target.connect_endpoint_url.as_deref()).await;
    let report = status::report(
        &clients,
        &a.target.instance_id,
        &a.traffic.traffic(),
        &prices,
    )
    .await?;
    print!("{report}");
    Ok(ExitCode::SUCCESS)
}

async fn teardown_cmd(a: TeardownArgs) -> anyhow::Result<ExitCode> {
    let clients = Clients::new(&a.target.aws(), a.target.connect_endpoint_url.as_deref()).await;
    let plan = teardown::find(&clients, &a.target.instance_id).await?;
    print!("{plan}");
    if plan.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    if a.dry_run {
        println!("Dry run: nothing was changed.");
        return Ok(ExitCode::SUCCESS);
    }
    if !a.yes && !confirm("Remove these? Type yes to go on: ")? {
        println!("Nothing was changed.");
        return Ok(ExitCode::FAILURE);
    }
    let kept = teardown::carry_out(&clients, &plan, a.delete_data).await?;
    for k in kept {
        println!("  kept {k}");
    }
    println!("Done: teardown is complete (running it again finds nothing to remove).");
    Ok(ExitCode::SUCCESS)
}

/// Asks on the terminal; no answer (end of input) is a no.
fn confirm(question: &str) -> anyhow::Result<bool> {
    print!("{question}");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "yes" | "y"))
}
