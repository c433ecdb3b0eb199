//! The FAKE Connect API of `support/connect_fake` checked against the Connect service
//! model botocore ships: boto3 (a client we did not write, retries off) drives every
//! operation the fake serves through success, paging and error paths, and every request
//! the fake accepted and every answer it gave must validate against the model's input,
//! output and error shapes (`connect_fake/model.rs`); the fake's routes must be the
//! model's HTTP bindings. Needs Python with boto3 (`SWITCHBOARD_TEST_PYTHON`).

mod support;

use serde_json::{json, Value};
use support::connect_fake::model::Model;
use support::connect_fake::{Agent, AgentContact, ConnectFake, Op, Queue, RoutingProfile};

/// Seeds one instance with 5 agents, 2 queues, 2 routing profiles and one contact's
/// attributes.
fn seed(fake: &ConnectFake) {
    fake.with(|s| {
        let i = s.add_instance("inst-1");
        i.queues.push(Queue {
            id: "q-sales".into(),
            name: "Sales".into(),
            queue_type: "STANDARD".into(),
        });
        i.queues.push(Queue {
            id: "q-agent-u-1".into(),
            name: String::new(),
            queue_type: "AGENT".into(),
        });
        i.routing_profiles.push(RoutingProfile {
            id: "rp-sales".into(),
            name: "Sales profile".into(),
            queues: vec!["q-sales".into()],
        });
        i.routing_profiles.push(RoutingProfile {
            id: "rp-other".into(),
            name: "Other".into(),
            queues: vec![],
        });
        for n in 1..=5 {
            let rp = if n <= 3 { "rp-sales" } else { "rp-other" };
            let mut agent = Agent::new(&format!("u-{n}"), &format!("agent{n}"), rp, "Available");
            if n == 2 {
                agent.status = "Offline".into();
                agent.next_status = Some("Available".into());
                agent.hierarchy_group = Some("g-1".into());
            }
            if n == 1 {
                agent.contacts.push(AgentContact {
                    contact_id: "c-1".into(),
                    channel: "VOICE".into(),
                    initiation: "INBOUND".into(),
                    state: "CONNECTED".into(),
                    since: 1_767_225_700.0,
                    queue: Some("q-sales".into()),
                });
            }
            i.agents.push(agent);
        }
        i.contact_attributes.insert(
            "c-1".into(),
            [("tier".to_string(), "gold".to_string())].into(),
        );
    });
}

const SCRIPT: &str = r#"
import sys, json, boto3
from botocore.config import Config
c = boto3.client('connect', endpoint_url=sys.argv[1], region_name='us-east-1',
                 aws_access_key_id='testing', aws_secret_access_key='testing',
                 config=Config(retries={'total_max_attempts': 1}))
out = {}
def code(f):
    try:
        f()
        return None
    except c.exceptions.ClientError as e:
        return [e.response['Error']['Code'], e.response['ResponseMetadata']['HTTPStatusCode']]
I = 'inst-1'
out['throttled_users'] = code(lambda: c.list_users(InstanceId=I))
out['throttled_attributes'] = code(lambda: c.get_contact_attributes(InstanceId=I, InitialContactId='c-1'))
out['instance'] = c.describe_instance(InstanceId=I)['Instance']['InstanceStatus']
out['missing_instance'] = code(lambda: c.describe_instance(InstanceId='nope'))
pages, token = [], None
while True:
    kw = {'NextToken': token} if token else {}
    r = c.get_current_user_data(InstanceId=I, Filters={'Agents': ['u-1', 'u-2', 'u-3', 'u-9']}, MaxResults=2, **kw)
    pages.append([(d['User']['Id'], d['Status']['StatusName']) for d in r['UserDataList']])
    token = r.get('NextToken')
    if not token:
        break
out['by_agents'] = pages
r = c.get_current_user_data(InstanceId=I, Filters={'Queues': ['q-sales'], 'ContactFilter': {'ContactStates': ['CONNECTED']}})
out['by_queue_connected'] = [d['User']['Id'] for d in r['UserDataList']]
r = c.get_current_user_data(InstanceId=I, Filters={'RoutingProfiles': ['rp-other']})
out['by_profile'] = [d['User']['Id'] for d in r['UserDataList']]
r = c.get_current_user_data(InstanceId=I, Filters={'UserHierarchyGroups': ['g-1']})
out['by_group'] = [d['User']['Id'] for d in r['UserDataList']]
out['two_filters'] = code(lambda: c.get_current_user_data(InstanceId=I, Filters={'Agents': ['u-1'], 'Queues': ['q-sales']}))
out['attributes'] = c.get_contact_attributes(InstanceId=I, InitialContactId='c-1')['Attributes']
out['missing_contact'] = code(lambda: c.get_contact_attributes(InstanceId=I, InitialContactId='c-9'))
def all_pages(op, key, **kw):
    p = c.get_paginator(op)
    return [x for page in p.paginate(InstanceId=I, PaginationConfig={'PageSize': 2}, **kw) for x in page[key]]
out['users'] = [u['Username'] for u in all_pages('list_users', 'UserSummaryList')]
out['queues'] = [q.get('Name') for q in all_pages('list_queues', 'QueueSummaryList', QueueTypes=['STANDARD', 'AGENT'])]
out['standard_queues'] = [q['Name'] for q in all_pages('list_queues', 'QueueSummaryList', QueueTypes=['STANDARD'])]
out['profiles'] = [p['Name'] for p in all_pages('list_routing_profiles', 'RoutingProfileSummaryList')]
stream = 'arn:aws:kinesis:us-east-1:123456789012:stream/ctr'
a = c.associate_instance_storage_config(InstanceId=I, ResourceType='CONTACT_TRACE_RECORDS',
        StorageConfig={'StorageType': 'KINESIS_STREAM', 'KinesisStreamConfig': {'StreamArn': stream}}, ClientToken='t-1')['AssociationId']
again = c.associate_instance_storage_config(InstanceId=I, ResourceType='CONTACT_TRACE_RECORDS',
        StorageConfig={'StorageType': 'KINESIS_STREAM', 'KinesisStreamConfig': {'StreamArn': stream}}, ClientToken='t-1')['AssociationId']
out['idempotent'] = a == again
out['second_ctr'] = code(lambda: c.associate_instance_storage_config(InstanceId=I, ResourceType='CONTACT_TRACE_RECORDS',
        StorageConfig={'StorageType': 'KINESIS_STREAM', 'KinesisStreamConfig': {'StreamArn': stream + '2'}}))
out['agent_events_firehose'] = code(lambda: c.associate_instance_storage_config(InstanceId=I, ResourceType='AGENT_EVENTS',
        StorageConfig={'StorageType': 'KINESIS_FIREHOSE', 'KinesisFirehoseConfig': {'FirehoseArn': 'arn:aws:firehose:us-east-1:123456789012:deliverystream/x'}}))
ae = c.associate_instance_storage_config(InstanceId=I, ResourceType='AGENT_EVENTS',
        StorageConfig={'StorageType': 'KINESIS_STREAM', 'KinesisStreamConfig': {'StreamArn': stream + '-agents'}})['AssociationId']
out['listed'] = [s['KinesisStreamConfig']['StreamArn'] for s in c.list_instance_storage_configs(InstanceId=I, ResourceType='CONTACT_TRACE_RECORDS', MaxResults=10)['StorageConfigs']]
c.update_instance_storage_config(InstanceId=I, AssociationId=a, ResourceType='CONTACT_TRACE_RECORDS',
        StorageConfig={'StorageType': 'KINESIS_FIREHOSE', 'KinesisFirehoseConfig': {'FirehoseArn': 'arn:aws:firehose:us-east-1:123456789012:deliverystream/ctr'}})
out['described'] = c.describe_instance_storage_config(InstanceId=I, AssociationId=a, ResourceType='CONTACT_TRACE_RECORDS')['StorageConfig']
c.disassociate_instance_storage_config(InstanceId=I, AssociationId=a, ResourceType='CONTACT_TRACE_RECORDS')
out['gone'] = code(lambda: c.describe_instance_storage_config(InstanceId=I, AssociationId=a, ResourceType='CONTACT_TRACE_RECORDS'))
out['wrong_type'] = code(lambda: c.describe_instance_storage_config(InstanceId=I, AssociationId=ae, ResourceType='CONTACT_TRACE_RECORDS'))
out['agent_events_left'] = len(c.list_instance_storage_configs(InstanceId=I, ResourceType='AGENT_EVENTS')['StorageConfigs'])
print(json.dumps(out))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_and_answer_of_the_fake_validates_against_the_connect_model() {
    let Some(model) = Model::load() else { return };
    for op in Op::ALL {
        let (method, uri) = model.http(op.name());
        assert_eq!(
            (method.as_str(), uri.as_str()),
            op.http(),
            "{}: the fake's route differs from the model",
            op.name()
        );
    }
    let fake = ConnectFake::start().await;
    seed(&fake);
    fake.with(|s| {
        s.throttle(Op::ListUsers, 1);
        s.throttle(Op::GetContactAttributes, 1);
    });
    let url = fake.url();
    let python = support::python();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .args(["-c", SCRIPT, &url])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "boto3 script failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(out["throttled_users"], json!(["ThrottlingException", 429]));
    assert_eq!(
        out["throttled_attributes"],
        json!(["TooManyRequestsException", 429])
    );
    assert_eq!(out["instance"], "ACTIVE");
    assert_eq!(
        out["missing_instance"],
        json!(["ResourceNotFoundException", 404])
    );
    assert_eq!(
        out["by_agents"],
        json!([
            [["u-1", "Available"], ["u-2", "Offline"]],
            [["u-3", "Available"]]
        ])
    );
    assert_eq!(out["by_queue_connected"], json!(["u-1"]));
    assert_eq!(out["by_profile"], json!(["u-4", "u-5"]));
    assert_eq!(out["by_group"], json!(["u-2"]));
    assert_eq!(out["two_filters"], json!(["InvalidRequestException", 400]));
    assert_eq!(out["attributes"], json!({"tier": "gold"}));
    assert_eq!(
        out["missing_contact"],
        json!(["ResourceNotFoundException", 404])
    );
    assert_eq!(
        out["users"],
        json!(["agent1", "agent2", "agent3", "agent4", "agent5"])
    );
    assert_eq!(out["queues"], json!(["Sales", null]));
    assert_eq!(out["standard_queues"], json!(["Sales"]));
    assert_eq!(out["profiles"], json!(["Sales profile", "Other"]));
    assert_eq!(out["idempotent"], true);
    assert_eq!(out["second_ctr"], json!(["ResourceConflictException", 409]));
    assert_eq!(
        out["agent_events_firehose"],
        json!(["InvalidRequestException", 400])
    );
    assert_eq!(
        out["listed"],
        json!(["arn:aws:kinesis:us-east-1:123456789012:stream/ctr"])
    );
    assert_eq!(out["described"]["StorageType"], "KINESIS_FIREHOSE");
    assert_eq!(out["gone"], json!(["ResourceNotFoundException", 404]));
    assert_eq!(out["wrong_type"], json!(["ResourceNotFoundException", 404]));
    assert_eq!(out["agent_events_left"], 1);
    assert_eq!(fake.storage("inst-1", "AGENT_EVENTS").len(), 1);

    let seen = fake.seen();
    for op in Op::ALL {
        assert!(
            seen.iter().any(|s| s.op == op && s.status == 200),
            "{} was never answered with success",
            op.name()
        );
    }
    let problems: Vec<String> = seen
        .iter()
        .flat_map(|s| {
            let mut p = model.check_request(s);
            p.extend(model.check_response(s));
            p
        })
        .collect();
    assert!(
        problems.is_empty(),
        "the fake disagrees with the model:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_validator_finds_what_breaks_the_model() {
    let Some(model) = Model::load() else { return };
    let mut problems = Vec::new();
    let bad = json!({
        "UserDataList": [{"User": {"Id": "u-1"}, "Contacts": [{"Channel": "FAX"}],
                          "MaxSlotsByChannel": {"VOICE": -1}, "Extra": 1}],
        "ApproximateTotalCount": "3"
    });
    model.check("GetCurrentUserDataResponse", &bad, "out", &mut problems);
    let text = problems.join("\n");
    for expected in [
        "\"FAX\" is not one of the enum",
        "-1 is outside",
        "unknown member Extra",
        "expected an integer",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let mut problems = Vec::new();
    model.check(
        "AssociateInstanceStorageConfigRequest",
        &json!({"InstanceId": "i", "StorageConfig": {"KinesisStreamConfig": {}}}),
        "in",
        &mut problems,
    );
    let text = problems.join("\n");
    for expected in [
        "required member \"ResourceType\"",
        "required member \"StorageType\"",
        "required member \"StreamArn\"",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}
