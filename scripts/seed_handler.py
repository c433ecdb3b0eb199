"""The seed-style Lambda handler switchboard replaces, for `switchboard bench replay`.

What the hand-written handlers do with each Kinesis record: base64-decode `data`,
`json.loads` it, and walk the fields with `if` chains (both agent snapshots' status and
contacts; a contact record's queue, agent and durations; a contact event's type, queue
and agent). It keeps per-agent status and per-contact state in dicts, as they do, and
stores nothing.

Usage: python3 seed_handler.py STREAM FILE
  STREAM: agent_event | contact_record | contact_event
  FILE:   one base64 payload per line (what Kinesis hands a Lambda)
Prints: records=N seconds=S cpu=C (wall-clock and CPU seconds of the loop only: reading
the file and starting Python are not timed).
"""

import base64
import json
import sys
import time


def agent_event(rec, agents):
    arn = rec.get("AgentARN")
    kind = rec.get("EventType")
    if kind == "HEART_BEAT":
        return
    prev = rec.get("PreviousAgentSnapshot") or {}
    cur = rec.get("CurrentAgentSnapshot") or {}
    prev_status = (prev.get("AgentStatus") or {}).get("Name")
    cur_status = (cur.get("AgentStatus") or {}).get("Name")
    state = agents.setdefault(arn, {"status": None, "contacts": {}})
    if prev_status != cur_status:
        state["status"] = cur_status
    before = {c.get("ContactId"): c.get("State") for c in (prev.get("Contacts") or [])}
    for c in cur.get("Contacts") or []:
        cid = c.get("ContactId")
        new = c.get("State")
        old = before.get(cid)
        if old != new:
            if new == "CONNECTING":
                state["contacts"][cid] = "offered"
            elif new == "CONNECTED" and old == "CONNECTED_ONHOLD":
                state["contacts"][cid] = "hold_ended"
            elif new == "CONNECTED":
                state["contacts"][cid] = "connected"
            elif new == "CONNECTED_ONHOLD":
                state["contacts"][cid] = "on_hold"
            elif new == "ENDED":
                state["contacts"][cid] = "acw"
            elif new in ("MISSED", "REJECTED", "ERROR"):
                state["contacts"][cid] = "missed"
    current = {c.get("ContactId") for c in (cur.get("Contacts") or [])}
    for cid in before:
        if cid not in current:
            state["contacts"].pop(cid, None)


def contact_record(rec, contacts):
    cid = rec.get("ContactId")
    queue = rec.get("Queue") or {}
    agent = rec.get("Agent") or {}
    contacts[cid] = (
        rec.get("LastUpdateTimestamp"),
        queue.get("Name"),
        queue.get("Duration"),
        agent.get("ARN"),
        agent.get("AgentInteractionDuration"),
        agent.get("CustomerHoldDuration"),
        agent.get("AfterContactWorkDuration"),
    )


def contact_event(rec, contacts):
    detail = rec.get("detail") or rec
    cid = detail.get("contactId")
    kind = detail.get("eventType")
    queue = (detail.get("queueInfo") or {}).get("queueArn")
    agent = (detail.get("agentInfo") or {}).get("agentArn")
    if kind == "QUEUED":
        contacts[cid] = ("queued", queue)
    elif kind == "CONNECTED_TO_AGENT":
        contacts[cid] = ("connected", agent)
    elif kind in ("DISCONNECTED", "COMPLETED"):
        contacts[cid] = ("ended", None)
    else:
        contacts.setdefault(cid, (kind.lower() if kind else None, None))


def main():
    stream, path = sys.argv[1], sys.argv[2]
    handler = {
        "agent_event": agent_event,
        "contact_record": contact_record,
        "contact_event": contact_event,
    }[stream]
    with open(path, "rb") as f:
        payloads = f.read().split(b"\n")
    payloads = [p for p in payloads if p]
    state = {}
    started, cpu = time.perf_counter(), time.process_time()
    for data in payloads:
        handler(json.loads(base64.b64decode(data)), state)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    print(f"records={len(payloads)} seconds={seconds:.6f} cpu={cpu:.6f}")


if __name__ == "__main__":
    main()
