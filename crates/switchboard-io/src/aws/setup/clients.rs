//! One client per service setup talks to, from the same [`AwsConfig`]; Connect may have
//! its own endpoint (tests run a Connect fake beside moto).

use crate::aws::AwsConfig;

/// The AWS clients of setup, status and teardown.
#[derive(Debug, Clone)]
pub struct Clients {
    pub kinesis: aws_sdk_kinesis::Client,
    pub firehose: aws_sdk_firehose::Client,
    pub s3: aws_sdk_s3::Client,
    pub iam: aws_sdk_iam::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub connect: aws_sdk_connect::Client,
    /// The region in use (the written config repeats it).
    pub region: String,
    /// The endpoint of every service but Connect, when set (local servers).
    pub endpoint_url: Option<String>,
}

impl Clients {
    /// Clients for `aws`; Connect at `connect_endpoint` when given.
    pub async fn new(aws: &AwsConfig, connect_endpoint: Option<&str>) -> Clients {
        let sdk = aws.load().await;
        let s3 = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(aws.endpoint_url.is_some())
            .build();
        let mut connect = aws_sdk_connect::config::Builder::from(&sdk);
        if let Some(url) = connect_endpoint {
            connect = connect.endpoint_url(url);
        }
        Clients {
            kinesis: aws_sdk_kinesis::Client::new(&sdk),
            firehose: aws_sdk_firehose::Client::new(&sdk),
            s3: aws_sdk_s3::Client::from_conf(s3),
            iam: aws_sdk_iam::Client::new(&sdk),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            events: aws_sdk_eventbridge::Client::new(&sdk),
            connect: aws_sdk_connect::Client::from_conf(connect.build()),
            region: sdk
                .region()
                .map_or_else(|| "us-east-1".to_owned(), ToString::to_string),
            endpoint_url: aws.endpoint_url.clone(),
        }
    }
}
