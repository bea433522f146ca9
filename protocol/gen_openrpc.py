#!/usr/bin/env python3
"""Generates protocol/openrpc.json, the OpenRPC document that `rpc.discover` returns.

openrpc.json is the artifact; this script is its source. Edit here, then run
    python3 protocol/gen_openrpc.py
and commit both. Tests/protocol/test_openrpc.py checks that they agree.
"""
import json
import os
import sys

REF = lambda kind, name: {"$ref": f"#/components/{kind}/{name}"}
S = lambda name: REF("schemas", name)
E = lambda name: REF("errors", name)

JOB_STATUSES = ["scheduled", "pending", "running", "success", "partial_success", "failed", "cancelled", "skipped"]
ITEM_STATUSES = ["pending", "running", "success", "failed", "cancelled"]
EVENT_KINDS = ["job.created", "job.status", "job.progress", "job.log", "item.status", "settings.changed"]
LOG_LEVELS = ["debug", "info", "warn", "error"]


def one_or_many(schema, what):
    return {
        "description": f"One {what} or a non-empty array of them (values within one filter combine with OR).",
        "oneOf": [schema, {"type": "array", "minItems": 1, "items": schema}],
    }


MAX_DURATION_S = 253402300799  # seconds from the Unix epoch to the end of year 9999
INT64_MAX = 2**63 - 1
MAX_COUNT = 2**53  # the largest integer a JSON number carries exactly everywhere


def bounded_string(max_bytes, min_length=0, **extra):
    """A string of at most max_bytes UTF-8 bytes (x-maxBytes; maxLength bounds the characters as well)."""
    schema = {"type": "string", "maxLength": max_bytes, "x-maxBytes": max_bytes, **extra}
    if min_length:
        schema["minLength"] = min_length
    return schema


NAME = bounded_string(1024, 1)


def param(name, schema, description, required=False):
    return {"name": name, "description": description, "required": required, "schema": schema}


def result(name, schema, description):
    return {"name": name, "description": description, "schema": schema}


# ---------------------------------------------------------------------------------------------
# Shared schemas
# ---------------------------------------------------------------------------------------------
time_ = {"type": "string", "format": "date-time", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$",
         "description": "RFC 3339 UTC time with milliseconds and a Z, e.g. 2026-11-23T09:31:50.123Z."}
nullable_time = {"oneOf": [S("Time"), {"type": "null"}]}

schemas = {
    "Time": time_,
    "JobId": {
        "type": "string", "pattern": "^[0-9]+$",
        "description": "A job id: decimal digits, in creation order. Clients treat it as opaque. The kernel always "
                       "answers with strings."},
    "JobIdParam": {
        "description": "A job id given as a parameter: a string of 1 to 18 decimal digits. A non-negative integer "
                       "up to 10^18 - 1 is accepted as well and read as its decimal string (convenience for shell "
                       "users); the kernel always answers with strings.",
        "oneOf": [{"type": "string", "pattern": "^[0-9]{1,18}$"},
                  {"type": "integer", "minimum": 0, "maximum": 10**18 - 1}]},
    "TimeParam": {
        "type": "string", "format": "date-time",
        "description": "An RFC 3339 time given as a parameter: T (or t) between date and time, Z (or z) or a "
                       "+hh:mm/-hh:mm offset, an optional fraction (milliseconds are kept). The date and time must "
                       "exist (no February 30, month 13, hour 24 or second 60) and the instant must lie in years "
                       "0001 to 9999 UTC."},
    "JobStatus": {"type": "string", "enum": JOB_STATUSES,
                  "description": "scheduled (waits for run_at or a retry backoff), pending (ready), running; terminal: "
                                 "success, partial_success, failed, cancelled, skipped."},
    "ItemStatus": {"type": "string", "enum": ITEM_STATUSES},
    "DispatchMode": {"type": "string", "enum": ["internal", "sync_api", "async_api"]},
    "Lane": {"type": "string", "enum": ["normal", "priority"],
             "description": "priority when the job's priority >= pipeline.priority_threshold."},
    "Priority": {"type": "integer", "minimum": -2147483648, "maximum": 2147483647,
                 "description": "Higher runs first. Default: the type's priority, else 50."},
    "EventKind": {"type": "string", "enum": EVENT_KINDS},
    "LogLevel": {"type": "string", "enum": LOG_LEVELS},
    "Progress": {
        "type": "object",
        "description": "A job's progress. total defaults to the number of items and current to the items done. "
                       "percent = round(100 * current / total, 1) when total > 0, else null.",
        "required": ["current", "total", "percent", "phase", "message"],
        "properties": {
            "current": {"type": "number", "minimum": 0},
            "total": {"type": ["number", "null"], "minimum": 0},
            "percent": {"type": ["number", "null"], "minimum": 0, "maximum": 100},
            "phase": {"type": ["string", "null"]},
            "message": {"type": ["string", "null"]},
        },
    },
    "Items": {
        "type": "object",
        "description": "Counts of a job's items by status (every key always present). null on a job without items.",
        "required": ["total"] + ITEM_STATUSES,
        "properties": {k: {"type": "integer", "minimum": 0} for k in ["total"] + ITEM_STATUSES},
    },
    "Children": {
        "type": "object",
        "description": "Counts of the job's direct children: total, plus one key per job status whose count is "
                       "above zero (a job without children: {\"total\": 0}).",
        "required": ["total"],
        "properties": {k: {"type": "integer", "minimum": 0} for k in ["total"] + JOB_STATUSES},
        "additionalProperties": False,
    },
    "Error": {
        "type": "object",
        "description": "A job's or an item's error: {message, code?, data?}. A cancelled job's error is "
                       "{\"message\": <the cancel reason, or \"cancelled\">}. A lease that expired with no "
                       "attempts left: {\"message\": \"lease expired\"}. A skipped job: {\"message\": "
                       "\"workflow toggle <name> is off\"}.",
        "required": ["message"],
        "properties": {
            "message": {"type": "string"},
            "code": {"description": "A code the worker chose (any JSON value; usually a string or integer)."},
            "data": {"description": "Any further detail the worker gave."},
        },
    },
    "ErrorInput": {
        "description": "An error as a worker reports it: an object {message, ...} (message required; code, data "
                       "and retryable are read, other keys kept in data) or a string taken as the message.",
        "oneOf": [
            {"type": "string"},
            {"type": "object", "required": ["message"], "properties": {
                "message": {"type": "string"}, "code": {}, "data": {}, "retryable": {"type": "boolean"}}},
        ],
    },
    "Job": {
        "type": "object",
        "description": "The job object (docs/promises.md §5). Clients ignore fields they do not know.",
        "required": ["id", "type", "dispatch_mode", "status", "priority", "lane", "payload", "created_by",
                     "idempotency_key", "parent_id", "manual", "attempt", "max_attempts", "run_at",
                     "cancel_requested", "progress", "items", "children", "result", "error", "created_at",
                     "started_at", "finished_at", "last_activity_at", "updated_at"],
        "properties": {
            "id": S("JobId"),
            "type": {"type": "string"},
            "dispatch_mode": S("DispatchMode"),
            "status": S("JobStatus"),
            "priority": S("Priority"),
            "lane": S("Lane"),
            "payload": {"description": "The job's input (any JSON value; {} by default)."},
            "created_by": {"type": "string", "description": "Who enqueued it: the enqueue parameter, else the "
                                                            "initialize client name, else \"anonymous\"; "
                                                            "\"schedule\" for scheduled jobs."},
            "idempotency_key": {"type": ["string", "null"]},
            "parent_id": {"oneOf": [S("JobId"), {"type": "null"}]},
            "manual": {"type": "boolean"},
            "attempt": {"type": "integer", "minimum": 0,
                        "description": "0 until the job first runs; then the attempt of its latest run."},
            "max_attempts": {"type": "integer", "minimum": 1},
            "run_at": {"oneOf": [S("Time"), {"type": "null"}],
                       "description": "When a scheduled job becomes pending (run_at/delay_s, or a retry backoff)."},
            "cancel_requested": {"type": "boolean"},
            "progress": S("Progress"),
            "items": {"oneOf": [S("Items"), {"type": "null"}]},
            "children": S("Children"),
            "result": {"description": "The result of a job without items (the unit's result), else null."},
            "error": {"oneOf": [S("Error"), {"type": "null"}]},
            "created_at": S("Time"),
            "started_at": {"oneOf": [S("Time"), {"type": "null"}],
                           "description": "When the latest run began (cleared by retry)."},
            "finished_at": {"oneOf": [S("Time"), {"type": "null"}],
                            "description": "When the job became terminal (cleared by retry)."},
            "last_activity_at": {"oneOf": [S("Time"), {"type": "null"}],
                                 "description": "Last status change, progress, log line or heartbeat; null until "
                                                "the job first runs."},
            "updated_at": S("Time"),
        },
    },
    "Item": {
        "type": "object",
        "description": "One item of an itemized job as handed to a worker.",
        "required": ["index", "value"],
        "properties": {"index": {"type": "integer", "minimum": 0}, "value": {"description": "The item as enqueued."}},
    },
    "LogLine": {
        "type": "object",
        "required": ["seq", "ts", "level", "message"],
        "properties": {
            "seq": {"type": "integer", "minimum": 1, "description": "The line's number within the job's log (1, 2, …)."},
            "ts": S("Time"),
            "level": S("LogLevel"),
            "message": {"type": "string"},
        },
    },
    "LeaseId": {"type": "string", "minLength": 1, "maxLength": 1024, "x-maxBytes": 1024,
                "description": "An opaque lease token (at most 1024 bytes)."},
    "Lease": {
        "type": "object",
        "description": "A unit handed to an external worker (also the body of a NATS unit message).",
        "required": ["lease", "job", "item", "attempt", "expires_at"],
        "properties": {
            "lease": S("LeaseId"),
            "job": S("Job"),
            "item": {"oneOf": [S("Item"), {"type": "null"}], "description": "null for a job without items."},
            "attempt": {"type": "integer", "minimum": 1, "description": "The attempt of this unit run."},
            "expires_at": S("Time"),
        },
    },
    "Settings": {
        "type": "object",
        "description": "Settings by key. Keys are workflow.<name>; values are booleans.",
        "propertyNames": S("SettingKey"),
        "additionalProperties": {"type": "boolean"},
    },
    "SettingKey": {"type": "string", "pattern": r"^workflow\.[A-Za-z0-9_-]{1,64}$"},
    "Schedule": {
        "type": "object",
        "required": ["name", "type", "every", "next_run_at", "last_job_id"],
        "properties": {
            "name": {"type": "string"},
            "type": {"type": "string"},
            "every": {"type": ["string", "number"], "description": "As configured (\"1h\" or 3600)."},
            "next_run_at": S("Time"),
            "last_job_id": {"oneOf": [S("JobId"), {"type": "null"}],
                            "description": "The job enqueued for the latest slot, null if none yet."},
        },
    },
    "BusyTotal": {
        "type": "object", "required": ["busy", "total"],
        "properties": {"busy": {"type": "integer", "minimum": 0}, "total": {"type": "integer", "minimum": 0}},
    },
    "Stats": {
        "type": "object",
        "required": ["jobs", "lanes", "pools", "leases", "broker", "seq", "uptime_s", "connections"],
        "properties": {
            "jobs": {"type": "object", "description": "Stored jobs by status; every status always present.",
                     "required": JOB_STATUSES,
                     "properties": {k: {"type": "integer", "minimum": 0} for k in JOB_STATUSES},
                     "additionalProperties": False},
            "lanes": {"type": "object", "required": ["normal", "priority"],
                      "description": "busy: units of that lane running in the local pools. total: slots that lane "
                                     "may use (priority: max_parallel_jobs; normal: max_parallel_jobs - "
                                     "priority_lane_slots).",
                      "properties": {"normal": S("BusyTotal"), "priority": S("BusyTotal")}},
            "pools": {"type": "object", "required": ["internal", "sync_api"],
                      "description": "Worker processes per local pool: busy (handling a unit) and total "
                                     "(configured size).",
                      "properties": {"internal": S("BusyTotal"), "sync_api": S("BusyTotal")}},
            "leases": {"type": "integer", "minimum": 0, "description": "Live embedded-broker leases."},
            "broker": {
                "type": "object", "required": ["kind"], "additionalProperties": False,
                "description": "The async_api broker; with [broker] kind = \"nats\" also whether the NATS server is "
                               "reachable (protocol/nats.md, When the server is away).",
                "properties": {
                    "kind": {"enum": ["embedded", "nats"]},
                    "connected": {"type": "boolean",
                                  "description": "nats only: false from the moment the kernel notices a lost connection "
                                                 "(at most about 6 s after the server stops answering) until it has "
                                                 "reconnected."},
                    "since": {"allOf": [S("Time")],
                              "description": "nats only: when connected last changed, or when the kernel connected."},
                    "disconnects": {"type": "integer", "minimum": 0,
                                    "description": "nats only: connections lost since the kernel started."},
                    "unconfirmed_units": {"type": "integer", "minimum": 0,
                                          "description": "nats only: leased units whose publish the server did not "
                                                         "confirm; they go out again under the same lease "
                                                         "(Nats-Msg-Id) once it answers."},
                },
            },
            "seq": {"type": "integer", "minimum": 0, "description": "The latest event seq."},
            "uptime_s": {"type": "number", "minimum": 0},
            "connections": {"type": "integer", "minimum": 0,
                            "description": "Open client connections (stdio and socket), not counting pool workers."},
        },
    },
    "Event": {
        "type": "object",
        "description": "Params of the notification `event`, sent by the kernel to a subscriber.",
        "required": ["subscription", "seq", "ts", "kind", "job_id", "data"],
        "properties": {
            "subscription": S("SubscriptionId"),
            "seq": {"type": "integer", "minimum": 1, "description": "Global, gap-free event sequence number."},
            "ts": S("Time"),
            "kind": S("EventKind"),
            "job_id": {"oneOf": [S("JobId"), {"type": "null"}], "description": "null for settings.changed."},
            "data": {"description": "Depends on kind.", "oneOf": [
                S("EventJobCreated"), S("EventJobStatus"), S("EventJobProgress"),
                S("EventJobLog"), S("EventItemStatus"), S("EventSettingsChanged")]},
        },
    },
    "EventJobCreated": {"title": "job.created", "type": "object", "required": ["job"],
                        "properties": {"job": S("Job")}, "additionalProperties": False},
    "EventJobStatus": {"title": "job.status", "type": "object", "required": ["from", "to", "job"],
                       "properties": {"from": S("JobStatus"), "to": S("JobStatus"), "job": S("Job")},
                       "additionalProperties": False},
    "EventJobProgress": {"title": "job.progress", "type": "object", "required": ["progress"],
                         "properties": {"progress": S("Progress"),
                                        "item": {"type": "integer", "minimum": 0,
                                                 "description": "The item index the report named, if any."}},
                         "additionalProperties": False},
    "EventJobLog": {"title": "job.log", "type": "object", "required": ["seq", "level", "message"],
                    "properties": {"seq": {"type": "integer", "minimum": 1, "description": "Seq within the job's log."},
                                   "level": S("LogLevel"), "message": {"type": "string"}},
                    "additionalProperties": False},
    "EventItemStatus": {"title": "item.status", "type": "object", "required": ["index", "from", "to"],
                        "properties": {"index": {"type": "integer", "minimum": 0}, "from": S("ItemStatus"),
                                       "to": S("ItemStatus"), "error": S("Error")},
                        "additionalProperties": False},
    "EventSettingsChanged": {"title": "settings.changed", "type": "object", "required": ["key", "value"],
                             "properties": {"key": S("SettingKey"), "value": {"type": "boolean"}},
                             "additionalProperties": False},
    "SubscriptionId": {"type": "string", "minLength": 1,
                       "description": "An opaque subscription id, valid on the connection that subscribed."},
    "SubscriptionDropped": {
        "type": "object",
        "description": "Params of the notification `subscription.dropped`.",
        "required": ["subscription", "last_seq"],
        "properties": {
            "subscription": S("SubscriptionId"),
            "last_seq": {"type": "integer", "minimum": 0,
                         "description": "Seq of the last event queued for this subscription (its subscribe seq if "
                                        "none was); resubscribe with since: last_seq to miss nothing."},
        },
    },
    "ErrorData": {
        "type": "object",
        "description": "The data member of every error the kernel sends.",
        "required": ["reason"],
        "properties": {
            "reason": {"type": "string", "enum": [
                "parse_error", "invalid_request", "too_large", "too_deep", "method_not_found", "invalid_params",
                "internal", "not_found", "unknown_type", "idempotency_conflict", "invalid_state", "lease_expired",
                "cursor_expired", "unavailable", "cancelled"]},
            "field": {"type": "string", "description": "The offending parameter (dotted path for nested ones)."},
            "limit": {"type": "integer", "description": "The limit exceeded (too_large)."},
            "job_id": S("JobId"),
            "status": S("JobStatus"),
            "oldest_seq": {"type": "integer", "minimum": 0},
            "message": {"type": "string", "description": "Human-readable detail."},
        },
    },
}

# ---------------------------------------------------------------------------------------------
# Errors (docs/promises.md §4)
# ---------------------------------------------------------------------------------------------
def err(code, message, reason, **extra):
    return {"code": code, "message": message, "data": {"reason": reason, **extra}}


errors = {
    "ParseError": err(-32700, "Parse error", "parse_error"),
    "InvalidRequest": err(-32600, "Invalid request: wrong shape, over limits.max_message_bytes (reason too_large) "
                                  "or nested deeper than 64 (reason too_deep)", "invalid_request"),
    "MethodNotFound": err(-32601, "Method not found", "method_not_found"),
    "InvalidParams": err(-32602, "Invalid params; a parameter over a limit has reason too_large with field and "
                                 "limit", "invalid_params", field="limit"),
    "InternalError": err(-32603, "Internal error", "internal"),
    "JobNotFound": err(-32001, "Job not found", "not_found", job_id="17"),
    "UnknownType": err(-32002, "Unknown job type", "unknown_type", field="type"),
    "IdempotencyConflict": err(-32003, "Idempotency key reused with different parameters", "idempotency_conflict",
                               job_id="17"),
    "InvalidState": err(-32004, "Not allowed in the job's current status", "invalid_state", job_id="17",
                        status="success"),
    "LeaseExpired": err(-32005, "Lease unknown or expired", "lease_expired"),
    "CursorExpired": err(-32006, "since is older than the retained event log", "cursor_expired", oldest_seq=1200),
    "Unavailable": err(-32007, "Kernel shutting down or over a limit", "unavailable"),
    "RequestCancelled": err(-32800, "Request cancelled (worker protocol: a worker answers run with this after "
                                    "the kernel's cancel notification)", "cancelled"),
}
COMMON = [E("InvalidParams"), E("Unavailable"), E("InternalError")]

# ---------------------------------------------------------------------------------------------
# Methods (docs/promises.md §6 and 5.4)
# ---------------------------------------------------------------------------------------------
id_param = param("id", S("JobIdParam"), "The job's id.", required=True)
job_result = result("job", S("Job"), "The job as it is after the call.")
true_result = result("ok", {"const": True}, "Always true.")
empty_note = " Takes no parameters (params omitted or {})."

methods = [
    {
        "name": "initialize",
        "summary": "Introduce the client (optional).",
        "description": "Optional. May be called at any time on a connection; the latest client.name becomes the "
                       "connection's default created_by for enqueue. Answers the server's name, version and the "
                       "protocol version \"1\".",
        "params": [param("client", {"type": "object", "required": ["name"], "additionalProperties": False,
                                    "properties": {"name": NAME,
                                                   "version": bounded_string(1024)}},
                         "The client's name and version.")],
        "result": result("initializeResult", {
            "type": "object", "required": ["server", "protocol"],
            "properties": {"server": {"type": "object", "required": ["name", "version"],
                                      "properties": {"name": {"const": "jobkernel"}, "version": {"type": "string"}}},
                           "protocol": {"const": "1"}}}, "Server identity and protocol version."),
        "errors": COMMON,
    },
    {
        "name": "enqueue",
        "summary": "Create a job.",
        "description": "Answers only after the job is committed. Without items, payload is the unit's input; items "
                       "(a non-empty array) makes an itemized job, one unit per item. run_at or delay_s (not both) "
                       "make it scheduled. idempotency_key is unique per created_by: the same key with the same "
                       "parameters (type, payload, items, priority, max_attempts, timeout_s, parent_id, manual; "
                       "run_at and delay_s are not compared) returns the first job with duplicate: true; with other "
                       "parameters -32003 (data.job_id names the first job). Unknown type: -32002, nothing stored. "
                       "Unknown parent_id: -32001 with field parent_id. On a worker's channel parent_id defaults to "
                       "the job in hand. Over max_items / max_payload_bytes: -32602 reason too_large with field "
                       "and limit.",
        "params": [
            param("type", NAME, "A configured job type, or the built-in command.", True),
            {**param("payload", {}, "The job's input, any JSON value, at most limits.max_payload_bytes (1 MiB by "
                                    "default) as compact JSON. The built-in type command takes an object "
                                    "{argv: [string, ...] (non-empty), cwd?: string, env?: {string: string}}; "
                                    "anything else is -32602 naming payload.argv, payload.cwd or payload.env."),
             "schema": {"default": {}, "x-maxBytes": 1048576}},
            param("items", {"type": "array", "minItems": 1, "maxItems": 100000,
                            "description": "At most limits.max_items (100000 by default)."},
                  "Makes an itemized job; each element is one item's value."),
            param("priority", S("Priority"), "Default: the type's priority, else 50."),
            param("idempotency_key", bounded_string(1024, 1),
                  "Deduplicates enqueues per created_by. 1 to 1024 bytes."),
            param("created_by", NAME,
                  "Default: the initialize client name, else \"anonymous\". 1 to 1024 bytes."),
            param("run_at", S("TimeParam"), "Run no earlier than this time (stored in UTC)."),
            param("delay_s", {"type": "number", "minimum": 0, "maximum": MAX_DURATION_S},
                  "Run no earlier than this many seconds from now; now + delay_s must not pass "
                  "9999-12-31T23:59:59.999Z."),
            param("max_attempts", {"type": "integer", "minimum": 1, "maximum": 1000000},
                  "Attempts per unit. Default: the type's max_attempts, else pipeline.max_attempts_default."),
            param("timeout_s", {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_DURATION_S},
                  "Per-unit run time limit; overrides the type's timeout."),
            param("parent_id", S("JobIdParam"), "Ties the job to a parent (groups, cancel cascade)."),
            param("manual", {"type": "boolean", "default": False},
                  "A manual job chains regardless of workflow toggles and is never skipped by requires."),
        ],
        "result": result("enqueueResult", {"type": "object", "required": ["job", "duplicate"],
                                           "properties": {"job": S("Job"), "duplicate": {"type": "boolean"}}},
                         "The job and whether it was an idempotent duplicate."),
        "errors": [E("UnknownType"), E("IdempotencyConflict"), E("JobNotFound")] + COMMON,
    },
    {
        "name": "get",
        "summary": "One job.",
        "description": "The job object, with children counts by status.",
        "params": [id_param],
        "result": job_result,
        "errors": [E("JobNotFound")] + COMMON,
    },
    {
        "name": "list",
        "summary": "Jobs, newest first, filtered and paged.",
        "description": "Filters combine with AND; an array within one filter is OR. parent_id: null lists jobs "
                       "without a parent. next_cursor is an opaque string to pass as cursor for the next page, null "
                       "on the last page. A cursor the kernel did not issue is -32602 (field cursor).",
        "params": [
            param("status", one_or_many(S("JobStatus"), "status"), "Filter by status."),
            param("type", one_or_many({"type": "string"}, "type"), "Filter by type."),
            param("dispatch_mode", one_or_many(S("DispatchMode"), "dispatch mode"), "Filter by dispatch mode."),
            param("parent_id", {"oneOf": [{"type": "null"}, one_or_many(S("JobIdParam"), "job id")]},
                  "Filter by parent; null: jobs without a parent."),
            param("created_by", one_or_many({"type": "string"}, "creator"), "Filter by created_by."),
            param("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                  "Page size, 1..1000; other values are -32602."),
            param("cursor", {"type": "string", "pattern": "^[0-9]{1,18}$"}, "next_cursor of the previous page."),
        ],
        "result": result("listResult", {"type": "object", "required": ["jobs", "next_cursor"],
                                        "properties": {"jobs": {"type": "array", "items": S("Job")},
                                                       "next_cursor": {"type": ["string", "null"]}}},
                         "A page of jobs, newest first."),
        "errors": COMMON,
    },
    {
        "name": "cancel",
        "summary": "Cancel a job and its non-terminal descendants.",
        "description": "scheduled/pending: cancelled at once. running: cancel_requested becomes true, the workers "
                       "are told, and the job becomes cancelled when its units stop; units leased to external "
                       "workers end at once (their extend/ack/nack then answer -32005). A terminal job is returned "
                       "unchanged. The cancelled job's error becomes {message: reason, or \"cancelled\"}; "
                       "descendants get the same error. Unfinished items become cancelled.",
        "params": [id_param, param("reason", {"type": "string"}, "Recorded as the job's error.message.")],
        "result": job_result,
        "errors": [E("JobNotFound")] + COMMON,
    },
    {
        "name": "retry",
        "summary": "Run a failed, cancelled or partially successful job again.",
        "description": "failed, cancelled, partial_success → pending, re-running only the units that did not "
                       "succeed, with fresh attempts (their next run is attempt 1). error, result (for a job "
                       "without items), started_at and finished_at are cleared and cancel_requested is false. "
                       "Other statuses: -32004 with data.status. Descendants are not retried.",
        "params": [id_param],
        "result": job_result,
        "errors": [E("JobNotFound"), E("InvalidState")] + COMMON,
    },
    {
        "name": "progress",
        "summary": "Report a running job's progress.",
        "description": "Fields given replace the job's; fields omitted keep their value. item names the item the "
                       "report concerns (carried in the job.progress event). Reports of one job may be coalesced "
                       "within 50 ms (last value wins) before they become events. Job not running: -32004. Does "
                       "not extend a lease.",
        "params": [
            id_param,
            param("current", {"type": "number", "minimum": 0, "maximum": MAX_COUNT}, "Work done."),
            param("total", {"type": ["number", "null"], "minimum": 0, "maximum": MAX_COUNT}, "Work in all."),
            param("phase", {"type": ["string", "null"]}, "Name of the current phase."),
            param("message", {"type": ["string", "null"]}, "A short human message."),
            param("item", {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                  "Item index this report concerns; an index the job does not have is -32602."),
        ],
        "result": result("progress", S("Progress"), "The job's progress after the report."),
        "errors": [E("JobNotFound"), E("InvalidState")] + COMMON,
    },
    {
        "name": "log",
        "summary": "Append a line to a running job's log.",
        "description": "Job not running: -32004. The job's log keeps at most limits.max_log_bytes (oldest lines "
                       "dropped first); one message over that limit is -32602 too_large (field message).",
        "params": [id_param, param("message", {"type": "string", "x-maxBytes": 1048576},
                                   "The line; at most limits.max_log_bytes (1 MiB by default).", True),
                   param("level", {"allOf": [S("LogLevel")], "default": "info"}, "debug, info, warn or error.")],
        "result": result("logResult", {"type": "object", "required": ["seq"],
                                       "properties": {"seq": {"type": "integer", "minimum": 1}}},
                         "The line's number within the job's log."),
        "errors": [E("JobNotFound"), E("InvalidState")] + COMMON,
    },
    {
        "name": "logs",
        "summary": "Read a job's log, in pages.",
        "description": "Lines with seq > since, oldest first, at most limit. next is the since for the following "
                       "page, null when no line is left (to follow, poll with since = the last seq you saw, or "
                       "subscribe to job.log). Lines dropped by max_log_bytes are simply absent. Any status. The kernel "
                       "marks where a run after the first begins with an info line of its own, \"── attempt N ──\" "
                       "(\"── item I, attempt N ──\" for an item), and \"── retried ──\" where retry starts again.",
        "params": [id_param,
                   param("since", {"type": "integer", "minimum": 0, "maximum": INT64_MAX, "default": 0},
                         "A line seq; 0 = from the start."),
                   param("limit", {"type": "integer", "minimum": 1, "maximum": 10000, "default": 200},
                         "Lines per page, 1..10000.")],
        "result": result("logsResult", {"type": "object", "required": ["lines", "next"],
                                        "properties": {"lines": {"type": "array", "items": S("LogLine")},
                                                       "next": {"type": ["integer", "null"], "minimum": 0}}},
                         "A page of log lines."),
        "errors": [E("JobNotFound")] + COMMON,
    },
    {
        "name": "subscribe",
        "summary": "Receive event notifications.",
        "description": "Filters combine with AND, values within one with OR; no filter means everything. The "
                       "response comes before the first event. seq is the kernel's latest seq at the moment of "
                       "subscribing; live events follow it in seq order, without duplicates. With since: N the "
                       "kernel first replays every matching event after N up to seq, then continues live with no "
                       "gap. since above the latest seq: -32602; since older than the retained log (events are "
                       "kept at least limits.event_retention, 24h): -32006 with data.oldest_seq (since = "
                       "oldest_seq - 1 is the oldest accepted). jobs (present only when ids is given) holds a "
                       "snapshot of each job of ids, in that order, as of seq; an id naming no job is -32001. "
                       "Subscriptions belong to the connection and end with it.",
        "params": [
            param("ids", one_or_many(S("JobIdParam"), "job id"), "Only events of these jobs."),
            param("types", one_or_many({"type": "string"}, "job type"), "Only events of jobs of these types."),
            param("kinds", one_or_many(S("EventKind"), "event kind"), "Only these kinds of event."),
            param("since", {"type": "integer", "minimum": 0, "maximum": INT64_MAX},
                  "Replay matching events with seq > since first; above the latest seq: -32602."),
        ],
        "result": result("subscribeResult", {"type": "object", "required": ["subscription", "seq"],
                                             "properties": {"subscription": S("SubscriptionId"),
                                                            "seq": {"type": "integer", "minimum": 0},
                                                            "jobs": {"type": "array", "items": S("Job")}}},
                         "The subscription id, the kernel's seq, and snapshots of ids."),
        "errors": [E("JobNotFound"), E("CursorExpired")] + COMMON,
    },
    {
        "name": "unsubscribe",
        "summary": "End a subscription.",
        "description": "Idempotent on the connection: any id this connection received from subscribe (live, "
                       "dropped or already ended) answers true; any other string is -32602 (field subscription).",
        "params": [param("subscription", S("SubscriptionId"), "From subscribe.", True)],
        "result": true_result,
        "errors": COMMON,
    },
    {
        "name": "fetch",
        "summary": "Lease async_api units (embedded broker).",
        "description": "Leases up to max units of the given async_api types, in scheduling order (priority lane "
                       "first, higher priority first, then older first), each unit's attempt counted. Answers as "
                       "soon as at least one unit is available, or with leases: [] after wait_s; the connection "
                       "keeps serving other calls meanwhile. A lease lasts lease_s unless extended; one that expires "
                       "or whose connection closes puts the unit back (attempt counted; with no attempts left the "
                       "unit fails with the error \"lease expired\"). A type that is not configured: -32002; a type "
                       "whose mode is not async_api: -32602 (field types).",
        "params": [
            param("types", one_or_many({"type": "string"}, "job type"), "async_api job types to take units of.", True),
            param("max", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 1}, "Units at most."),
            param("wait_s", {"type": "number", "minimum": 0, "maximum": 600, "default": 0},
                  "Long-poll up to this many seconds for work."),
            param("lease_s", {"type": "number", "minimum": 1, "maximum": 86400, "default": 30},
                  "Lease duration in seconds."),
        ],
        "result": result("fetchResult", {"type": "object", "required": ["leases"],
                                         "properties": {"leases": {"type": "array", "items": S("Lease")}}},
                         "The units leased, possibly none."),
        "errors": [E("UnknownType")] + COMMON,
    },
    {
        "name": "ack",
        "summary": "Report a leased unit's success.",
        "description": "Committed when answered. Lease unknown, expired, already settled, or its job cancelled: "
                       "-32005 (stop working on it).",
        "params": [param("lease", S("LeaseId"), "From fetch.", True),
                   param("result", {"default": None}, "The unit's result (any JSON value).")],
        "result": true_result,
        "errors": [E("LeaseExpired")] + COMMON,
    },
    {
        "name": "nack",
        "summary": "Report a leased unit's failure.",
        "description": "The unit fails; with retryable true and attempts left it is retried after backoff, "
                       "otherwise it is failed. Lease unknown, expired or cancelled: -32005.",
        "params": [param("lease", S("LeaseId"), "From fetch.", True),
                   param("error", S("ErrorInput"), "{message, ...} or a string taken as the message.", True),
                   param("retryable", {"type": "boolean", "default": True}, "false: fail without retry.")],
        "result": true_result,
        "errors": [E("LeaseExpired")] + COMMON,
    },
    {
        "name": "extend",
        "summary": "Extend a lease.",
        "description": "The lease now expires lease_s seconds from now (default: the lease_s it was fetched with). "
                       "progress and log calls do not extend a lease. Lease unknown, expired or cancelled: -32005.",
        "params": [param("lease", S("LeaseId"), "From fetch.", True),
                   param("lease_s", {"type": "number", "minimum": 1, "maximum": 86400},
                         "New duration from now, seconds.")],
        "result": result("extendResult", {"type": "object", "required": ["lease", "expires_at"],
                                          "properties": {"lease": S("LeaseId"), "expires_at": S("Time")}},
                         "The lease and its new expiry."),
        "errors": [E("LeaseExpired")] + COMMON,
    },
    {
        "name": "settings.get",
        "summary": "Read settings (workflow toggles).",
        "description": "Without key: every known setting (configured under [workflow] or ever set), keys sorted. "
                       "With key: just that one; a workflow toggle never configured nor set is false. A key outside "
                       "workflow.<name>: -32602 (field key).",
        "params": [param("key", S("SettingKey"), "workflow.<name>.")],
        "result": result("settings", S("Settings"), "{key: value, ...}."),
        "errors": COMMON,
    },
    {
        "name": "settings.set",
        "summary": "Change a setting.",
        "description": "Committed when answered; the value persists across restarts and takes precedence over the "
                       "config file's [workflow] (which only supplies defaults). A settings.changed event is "
                       "emitted when the value actually changes. Value not a boolean: -32602 (field value).",
        "params": [param("key", S("SettingKey"), "workflow.<name>.", True),
                   param("value", {"type": "boolean"}, "The new value.", True)],
        "result": result("settings", S("Settings"), "{key: value} as stored."),
        "errors": COMMON,
    },
    {
        "name": "schedules",
        "summary": "The configured schedules.",
        "description": "In config order. every as configured; next_run_at is the start of the next slot not yet "
                       "enqueued (slots aligned to the Unix epoch)." + empty_note,
        "params": [],
        "result": result("schedules", {"type": "array", "items": S("Schedule")}, "One entry per [[schedules]]."),
        "errors": COMMON,
    },
    {
        "name": "stats",
        "summary": "Kernel counters.",
        "description": "Jobs by status, lanes and pools busy/total, live leases, latest event seq, uptime and "
                       "client connections." + empty_note,
        "params": [],
        "result": result("stats", S("Stats"), "Counters."),
        "errors": COMMON,
    },
    {
        "name": "shutdown",
        "summary": "Shut the kernel down gracefully.",
        "description": "Answers true, then shuts down gracefully: stops accepting work, answers new requests with "
                       "-32007, SIGTERMs running units (cancel_grace, then SIGKILL) and records them as interrupted "
                       "(requeued at next start without counting an attempt), commits, removes the socket file and "
                       "exits 0." + empty_note,
        "params": [],
        "result": true_result,
        "errors": COMMON,
    },
    {
        "name": "rpc.discover",
        "summary": "This OpenRPC document.",
        "description": "Returns protocol/openrpc.json." + empty_note,
        "params": [],
        "result": result("openrpcDocument", {"type": "object", "required": ["openrpc", "info", "methods"]},
                         "The OpenRPC document."),
        "errors": COMMON,
    },
]
for m in methods:
    m["paramStructure"] = "by-name"

examples = {
    "enqueue": [{"name": "enqueue a command", "params": [
        {"name": "type", "value": "command"},
        {"name": "payload", "value": {"argv": ["echo", "hi"]}}],
        "result": {"name": "enqueueResult", "value": {"job": {
            "id": "1", "type": "command", "dispatch_mode": "internal", "status": "pending", "priority": 50,
            "lane": "normal", "payload": {"argv": ["echo", "hi"]}, "created_by": "anonymous",
            "idempotency_key": None, "parent_id": None, "manual": False, "attempt": 0, "max_attempts": 3,
            "run_at": None, "cancel_requested": False,
            "progress": {"current": 0, "total": None, "percent": None, "phase": None, "message": None},
            "items": None, "children": {"total": 0}, "result": None, "error": None,
            "created_at": "2026-11-23T09:31:50.123Z", "started_at": None, "finished_at": None,
            "last_activity_at": None, "updated_at": "2026-11-23T09:31:50.123Z"}, "duplicate": False}}}],
}
for m in methods:
    if m["name"] in examples:
        m["examples"] = examples[m["name"]]

notifications = [
    {
        "name": "event",
        "summary": "Sent by the kernel to a subscriber (a JSON-RPC notification: no id, never answered).",
        "description": "One per matching event, in seq order, never before the subscribe response.",
        "params": [{"name": k, "required": True, "schema": {"$ref": f"#/components/schemas/Event/properties/{k}"}}
                   for k in ["subscription", "seq", "ts", "kind", "job_id", "data"]],
        "x-params-schema": S("Event"),
    },
    {
        "name": "subscription.dropped",
        "summary": "Sent by the kernel when a subscriber fell behind (notification).",
        "description": "The connection's outbound buffer passed limits.max_outbound_bytes: this subscription gets no "
                       "further events. Resubscribe with since: last_seq to miss nothing.",
        "params": [{"name": "subscription", "required": True, "schema": S("SubscriptionId")},
                   {"name": "last_seq", "required": True,
                    "schema": {"$ref": "#/components/schemas/SubscriptionDropped/properties/last_seq"}}],
        "x-params-schema": S("SubscriptionDropped"),
    },
]

worker_protocol = {
    "description": "The worker protocol (docs/promises.md §5.2): JSON-RPC over a persistent worker's stdin/stdout (NDJSON). "
                   "The worker's channel is also a client connection: it may call progress, log, enqueue (parent "
                   "defaults to the job in hand) and settings.get.",
    "kernel_to_worker": [
        {"name": "run", "summary": "Request: handle one unit. One run at a time per process.",
         "params": [{"name": "job", "required": True, "schema": S("Job")},
                    {"name": "item", "required": True, "schema": {"oneOf": [S("Item"), {"type": "null"}]}},
                    {"name": "items", "required": True,
                     "schema": {"oneOf": [{"type": "array", "items": S("Item")}, {"type": "null"}]}}],
         "result": {"name": "runResult", "schema": {"oneOf": [
             {"type": "object", "required": ["result"], "properties": {"result": {}}},
             {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": {
                 "type": "object", "required": ["index", "status"],
                 "properties": {"index": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1,
                                          "description": "An item of this run."},
                                "status": {"enum": ["success", "failed"]},
                                "result": {}, "error": S("ErrorInput")}}}}}]}},
         "errors": [E("RequestCancelled")],
         "description": "A JSON-RPC error fails the unit, retryably unless error.data.retryable is false. A result "
                        "that does not fit runResult (an index not of this run, a status other than success or "
                        "failed, an error that is not an ErrorInput) fails every unit of the run, retryably, with "
                        "an error naming the offending field, and the kernel logs it."},
        {"name": "cancel", "summary": "Notification: stop the run in hand; answer it with -32800.",
         "params": [{"name": "job_id", "required": True, "schema": S("JobId")}]},
    ],
    "worker_to_kernel": [
        {"name": "heartbeat", "summary": "Notification: liveness, at least every pipeline.heartbeat while busy. "
                                         "Any message counts as a heartbeat.",
         "params": [{"name": "job_id", "required": True, "schema": S("JobIdParam")}]},
    ],
}

# ---------------------------------------------------------------------------------------------
# Operations (docs/promises.md §8.5-8.7, 13): items, remove, clean, pause/resume, enqueue's after, stats.types,
# cron schedules. Kept together so that the section reads as one change.
# ---------------------------------------------------------------------------------------------
TERMINAL_STATUSES = ["success", "partial_success", "failed", "cancelled", "skipped"]
schemas["SettingKey"] = {
    "type": "string", "pattern": r"^(workflow\.[A-Za-z0-9_-]{1,64}|paused\.(\*|[A-Za-z0-9_-]{1,64}))$",
    "description": "workflow.<name> (a workflow toggle), or paused.<type> / paused.* (docs/promises.md §8.7, set by pause and "
                   "resume).",
}
schemas["Settings"]["description"] = ("Settings by key: workflow.<name> toggles, and paused.<type> / paused.* once "
                                      "pause or resume has been called. Values are booleans.")
schemas["TerminalStatus"] = {"type": "string", "enum": TERMINAL_STATUSES}
schemas["ItemResult"] = {
    "type": "object",
    "description": "One unit of a job as kept after it ran (docs/promises.md §13): an item, or the single unit (index 0, value "
                   "null) of a job without items.",
    "required": ["index", "value", "status", "attempt", "result", "error", "started_at", "finished_at"],
    "properties": {
        "index": {"type": "integer", "minimum": 0},
        "value": {"description": "The item as enqueued; null for a job without items."},
        "status": S("ItemStatus"),
        "attempt": {"type": "integer", "minimum": 0, "description": "The attempt of the latest run; 0 before the first."},
        "result": {"description": "What the latest successful run returned; null otherwise."},
        "error": {"oneOf": [S("Error"), {"type": "null"}]},
        "started_at": {**nullable_time, "description": "When the latest run began."},
        "finished_at": {**nullable_time, "description": "When the latest run ended."},
    },
}
schemas["TypeStats"] = {
    "type": "object",
    "required": ["pending", "scheduled", "running", "paused", "success_1m", "failed_1m", "oldest_pending_s"],
    "properties": {
        "pending": {"type": "integer", "minimum": 0},
        "scheduled": {"type": "integer", "minimum": 0},
        "running": {"type": "integer", "minimum": 0},
        "paused": {"type": "integer", "minimum": 0,
                   "description": "Ready units held back because the type (or everything) is paused."},
        "success_1m": {"type": "integer", "minimum": 0,
                       "description": "Jobs of the type that ended success in the last 60 s (as seen by this kernel)."},
        "failed_1m": {"type": "integer", "minimum": 0, "description": "Jobs of the type that ended failed in the last 60 s."},
        "oldest_pending_s": {"type": ["number", "null"], "minimum": 0,
                             "description": "Age of the oldest pending job of the type; null when none is pending."},
    },
}
schemas["Stats"]["properties"]["types"] = {
    "type": "object", "description": "Per job type: every configured type, and any type that still has open jobs.",
    "additionalProperties": S("TypeStats"),
}
schemas["Stats"]["required"].append("types")
schemas["Schedule"]["properties"]["every"] = {"type": ["string", "number", "null"],
                                              "description": "As configured (\"1h\" or 3600); null for a cron entry."}
schemas["Schedule"]["properties"]["cron"] = {"type": "string", "description": "A cron entry's five fields as configured."}
schemas["Schedule"]["properties"]["timezone"] = {"type": "string",
                                                 "description": "The IANA zone a cron entry's fields are read in."}
schemas["Schedule"]["properties"]["next_run_at"] = {
    "oneOf": [S("Time"), {"type": "null"}],
    "description": "When the next slot is enqueued (now when one is due); null for a cron entry that never fires again."}

_by_name = {m["name"]: m for m in methods}
_by_name["enqueue"]["params"].append(param(
    "after", {"oneOf": [S("JobIdParam"), {"type": "array", "minItems": 1, "items": S("JobIdParam")}]},
    "Jobs that must all end success before this one starts (docs/promises.md §8.6); until then it is scheduled. When one ends "
    "otherwise (or is cancelled), this job ends skipped with error {message: \"dependency <id> ended <status>\", "
    "data: {job_id}}. One id or an array of ids; an unknown id is -32001 with data.field after."))
_by_name["enqueue"]["params"].append(param(
    "label", bounded_string(200),
    "What the job is, for people: status, watch, the dashboard and the editor plugins show it. At most 200 bytes "
    "(-32602 with field label otherwise). Cosmetic: not part of what an idempotency_key compares (a duplicate "
    "keeps the first job's label). jobkernel run sets its command line when none is given "
    "(docs/promises.md §13)."))
_by_name["enqueue"]["description"] += " label is not compared either."
schemas["Job"]["required"].append("label")
schemas["Job"]["properties"]["label"] = {
    "type": ["string", "null"], "maxLength": 200, "x-maxBytes": 200,
    "description": "What the job is, for people (enqueue's label); null when none was given."}
schemas["Job"]["properties"]["waiting"] = {
    "oneOf": [S("Waiting"), {"type": "null"}],
    "description": "Only in get's and list's answers, computed when asked: why a pending or scheduled job has not "
                   "started; null for other statuses (docs/promises.md §13)."}
schemas["Waiting"] = {
    "type": "object", "required": ["reason"],
    "description": "Why a job waits. The first that applies: after (job_ids: the jobs it still waits for, lowest "
                   "first), delayed (until: its run_at, or the end of a retry backoff when nothing of it is ready), "
                   "paused (setting: paused.<type> or paused.*), toggle_off (toggle: a requires toggle that is off; "
                   "the job ends skipped when its turn comes unless it is turned on), pool_full (position: its "
                   "place in its type's queue, 1 = next, counting the ready units of other jobs ahead of it; for "
                   "an async_api type: no worker has fetched it yet).",
    "properties": {
        "reason": {"enum": ["after", "delayed", "paused", "toggle_off", "pool_full"]},
        "job_ids": {"type": "array", "items": S("JobId")},
        "until": S("Time"),
        "setting": {"type": "string", "pattern": "^paused\\."},
        "toggle": {"type": "string"},
        "position": {"type": ["integer", "null"], "minimum": 1},
    },
}
_by_name["get"]["description"] += " Also waiting: why a pending or scheduled job has not started (null otherwise)."
_by_name["list"]["description"] += " Each job has waiting, as get shows it."
examples["enqueue"][0]["result"]["value"]["job"]["label"] = None
_by_name["stats"]["description"] += (" types: per job type, open jobs by status, paused units, finishes in the last "
                                     "minute and the oldest pending job's age (docs/promises.md §13).")
_by_name["settings.get"]["description"] = (
    "Without key: every setting (the workflow toggles [workflow] declares, and paused.<type> / paused.* once pause "
    "or resume was called), keys sorted. With key: just that one; a pause key never set is false. A workflow "
    "toggle the config does not declare, or a key outside workflow.<name>, paused.<name> and paused.*: -32602 "
    "(field key), with the closest declared toggle (\"did you mean workflow.<name>?\") and the declared ones.")
_by_name["settings.set"]["description"] += (" A workflow toggle the config does not declare is -32602 (field key), "
                                            "as for settings.get: a typo creates nothing.")
_by_name["settings.set"]["description"] += " paused.<type> and paused.* may be set too: the same as pause and resume."

_ids = {"oneOf": [S("JobIdParam"), {"type": "array", "minItems": 1, "items": S("JobIdParam")}]}
_removed = {"type": "object", "required": ["removed"], "properties": {"removed": {"type": "integer", "minimum": 0}}}
methods += [
    {
        "name": "items",
        "summary": "Read a job's per-item results, in pages.",
        "description": "The units of the job with index > since, by index, at most limit, optionally only those in "
                       "one status. Each keeps its value, status, attempt, result, error and the times of its latest "
                       "run (docs/promises.md §13). next is the since for the following page, null when none is left. A job "
                       "without items has one unit, index 0. Any job status.",
        "params": [id_param,
                   param("status", S("ItemStatus"), "Only items in this status."),
                   param("since", {"type": "integer", "minimum": -1, "maximum": 2147483647, "default": -1},
                         "An item index; -1 = from the start."),
                   param("limit", {"type": "integer", "minimum": 1, "maximum": 10000, "default": 200},
                         "Items per page, 1..10000.")],
        "result": result("itemsResult", {"type": "object", "required": ["items", "next"],
                                         "properties": {"items": {"type": "array", "items": S("ItemResult")},
                                                        "next": {"type": ["integer", "null"], "minimum": 0}}},
                         "A page of items."),
        "errors": [E("JobNotFound")] + COMMON,
    },
    {
        "name": "remove",
        "summary": "Delete finished jobs for good.",
        "description": "Removes the terminal jobs named, with their terminal descendants, their units, items and log "
                       "lines, in one commit. Their idempotency keys are free again; their ids are never given "
                       "again. If any named job is not terminal: -32004 naming it, and nothing is removed; an unknown "
                       "id: -32001. Events already logged stay until event_retention (a replayed job.created of a "
                       "removed job carries job: null).",
        "params": [param("ids", _ids, "One job id or an array of them.", required=True)],
        "result": result("removeResult", _removed, "How many jobs were removed, descendants included."),
        "errors": [E("JobNotFound"), E("InvalidState")] + COMMON,
    },
    {
        "name": "clean",
        "summary": "Remove every finished job that matches.",
        "description": "Removes every terminal job matching all the filters given: status, type, and finished at "
                       "least older_than_s seconds ago (without it: finished before the call). The removal runs in "
                       "the background in small batches, each its own commit, so other clients are served meanwhile; "
                       "the answer comes when it is done. Freed space goes back to the file system (incremental "
                       "vacuum).",
        "params": [param("status", one_or_many(S("TerminalStatus"), "terminal status"), "Terminal statuses to remove."),
                   param("type", one_or_many({"type": "string"}, "job type"), "Job types to remove."),
                   param("older_than_s", {"type": "number", "minimum": 0, "maximum": MAX_DURATION_S},
                         "Only jobs that finished at least this many seconds ago.")],
        "result": result("cleanResult", _removed, "How many jobs were removed."),
        "errors": COMMON,
    },
    {
        "name": "pause",
        "summary": "Stop dispatching a type's units, or everyone's.",
        "description": "With type: units of that type are no longer handed to the local pools, to fetch or to NATS; "
                       "without: no type's are. Running units finish; enqueue still works. Survives restarts, reads "
                       "as the settings paused.<type> / paused.*, and each change is a settings.changed event. An "
                       "unknown type: -32002.",
        "params": [param("type", NAME, "A configured job type; omit for all types.")],
        "result": result("settings", S("Settings"), "Every setting after the change."),
        "errors": [E("UnknownType")] + COMMON,
    },
    {
        "name": "resume",
        "summary": "Undo pause.",
        "description": "With type: sets paused.<type> to false. Without: sets paused.* and every paused.<type> to "
                       "false (everything runs again). Waiting units are dispatched at once. A type paused by name "
                       "stays paused after resume of another type.",
        "params": [param("type", NAME, "A configured job type; omit for all types.")],
        "result": result("settings", S("Settings"), "Every setting after the change."),
        "errors": [E("UnknownType")] + COMMON,
    },
]
# ---------------------------------------------------------------------------------------------
# Steering many jobs at once (docs/promises.md §13): cancel, retry and remove by ids or a filter;
# parallel. Kept together so that the section reads as one change.
# ---------------------------------------------------------------------------------------------
_by_name = {m["name"]: m for m in methods}
_job_filter_params = [
    param("status", one_or_many(S("JobStatus"), "job status"),
          "Filter: jobs in these statuses (only those the method can change are ever matched)."),
    param("type", one_or_many({"type": "string"}, "job type"), "Filter: jobs of these types."),
    param("label", bounded_string(200, 1),
          "Filter: jobs whose label is exactly this."),
    param("older_than_s", {"type": "number", "minimum": 0, "maximum": MAX_DURATION_S},
          "Filter: jobs at least this many seconds old: since they finished for a finished job, since they were "
          "created for an open one."),
]
_bulk_ids = param("ids", _ids, "Several jobs: one job id or an array of them (instead of id or a filter).")
_bulk_rule = (" With ids or a filter (status, type, label, older_than_s; the parts AND, an array ORs its values) it "
              "acts on each job and answers how many it changed. Give exactly one of id, ids or a non-empty filter "
              "(else -32602): an empty filter is refused, so \"every job\" must be said, e.g. status: [\"pending\", "
              "\"running\"].")


def _count(key, what):
    return {"type": "object", "required": [key], "properties": {key: {"type": "integer", "minimum": 0,
                                                                        "description": what}}}


_single_id = {**id_param, "required": False, "description": "The job's id (the single-job form, answered with the job)."}
_by_name["cancel"]["params"] = [_single_id, _bulk_ids] + _job_filter_params + [_by_name["cancel"]["params"][1]]
_by_name["cancel"]["description"] += _bulk_rule + (
    " The bulk answer is {cancelled: n}, the named or matching jobs that had not ended and were not already "
    "cancelling; their open descendants are cancelled with them and not counted. A job that already ended is left "
    "as it is; an unknown id is -32001 and nothing is cancelled.")
_by_name["cancel"]["result"] = result("cancelResult", {"oneOf": [S("Job"), _count("cancelled", "Jobs cancelled.")]},
                                      "With id: the job after the call. With ids or a filter: {cancelled}.")
_by_name["retry"]["params"] = [_single_id, _bulk_ids] + _job_filter_params
_by_name["retry"]["description"] += _bulk_rule + (
    " The bulk answer is {retried: n}. With ids, a job not failed, cancelled or partial_success is -32004 and nothing "
    "is retried; a filter matches only jobs that can be retried (retry {status: \"failed\", type: T} retries every "
    "failed job of type T).")
_by_name["retry"]["result"] = result("retryResult", {"oneOf": [S("Job"), _count("retried", "Jobs retried.")]},
                                     "With id: the job after the call. With ids or a filter: {retried}.")
_by_name["remove"]["params"] = [{**_by_name["remove"]["params"][0], "required": False,
                                 "description": "One job id or an array of them (or give a filter)."}] + _job_filter_params
_by_name["remove"]["description"] += (
    " Instead of ids, a filter (status, type, label, older_than_s; not empty) removes every matching finished job in "
    "this one commit (clean does it in the background, in batches). Neither ids nor a filter: -32602.")
schemas["TypeStats"]["properties"]["concurrency"] = {
    "type": ["integer", "null"], "minimum": 1,
    "description": "The type's concurrency in force: set by parallel, else the config's concurrency; null when the "
                   "type has no cap of its own."}
schemas["EventSettingsChanged"]["properties"]["key"] = {
    "oneOf": [S("SettingKey"), {"type": "string", "pattern": r"^concurrency\..+$"}],
    "description": "A setting key, or concurrency.<type> (set by parallel)."}
schemas["EventSettingsChanged"]["properties"]["value"] = {
    "type": ["boolean", "integer", "null"],
    "description": "A boolean; for concurrency.<type>, the new cap, or null when it returned to the config's value."}
methods += [
    {
        "name": "restart",
        "summary": "Run finished jobs again, each as a new job linked to the old one.",
        "description": "For each job named (all must have ended, else -32004 naming the first that has not, and "
                       "nothing is restarted; an unknown id: -32001; a type no longer configured: -32002), "
                       "enqueues its spec again as a new job: type, payload, items, priority, max_attempts, "
                       "timeout, manual and label; not its idempotency key, parent or after. The new job's "
                       "restarted_from is the old id, in this answer and in get's (get adds restarted_from only "
                       "to a restarted job). The old job is left as it is.",
        "params": [param("ids", _ids, "One finished job's id or an array of them.", required=True)],
        "result": result("restartResult", {
            "type": "object", "required": ["jobs"],
            "properties": {"jobs": {"type": "array", "items": {
                "allOf": [S("Job"), {"type": "object", "required": ["restarted_from"],
                                     "properties": {"restarted_from": S("JobId")}}]}}}},
            "The new jobs, in the order of ids, each with restarted_from."),
        "errors": [E("JobNotFound"), E("UnknownType"), E("InvalidState")] + COMMON,
    },
    {
        "name": "parallel",
        "summary": "Change a type's concurrency at run time.",
        "description": "From now on at most max units of the type run at once in the local pools (a running unit "
                       "is never stopped: a lower cap applies as units end); a type with a pool of persistent "
                       "workers may grow its pool up to [pools] internal_workers. Kept across restarts as the "
                       "setting concurrency.<type> (not served by settings.get); max: null returns to the config's "
                       "concurrency. Each change is a settings.changed event {key: \"concurrency.<type>\", value}. "
                       "stats.types.<type>.concurrency shows the value in force. For async_api types it caps the "
                       "leases: a fetch never leases more units of the type than max less the units of it leased "
                       "now, a waiting fetch gets the slot an ack, nack or expiry frees or a higher cap opens, and "
                       "over NATS the kernel publishes no more than that room (the config's concurrency caps the "
                       "same way when no parallel value is set). An unknown type: -32002.",
        "params": [param("type", NAME, "A configured job type.", required=True),
                   param("max", {"type": ["integer", "null"], "minimum": 1, "maximum": 10000},
                         "The most units of the type that may run at once, 1..10000; null: the config's value.",
                         required=True)],
        "result": result("parallelResult", {
            "type": "object", "required": ["type", "concurrency"],
            "properties": {"type": {"type": "string"},
                           "concurrency": {"type": ["integer", "null"], "minimum": 1,
                                           "description": "The value in force; null: no cap of its own."}}},
            "The type and its concurrency in force."),
        "errors": [E("UnknownType")] + COMMON,
    },
]
# ---------------------------------------------------------------------------------------------
# What runs now and what ran lately: workers and stats.history (the dashboard's workers view and
# its charts). Kept together so that the section reads as one change.
# ---------------------------------------------------------------------------------------------
_job_ref = {
    "type": "object", "required": ["id", "label", "type"],
    "description": "The job of the unit: its id, label (null when it has none) and type.",
    "properties": {"id": S("JobId"), "label": {"type": ["string", "null"]}, "type": {"type": ["string", "null"]}}}
schemas["PoolWorker"] = {
    "type": "object", "required": ["pid", "state", "job", "since"],
    "description": "One worker of a local type: a persistent worker process, or a unit in flight (an exec "
                   "handler's process, a sync_api batch).",
    "properties": {
        "pid": {"type": ["integer", "null"], "minimum": 1,
                "description": "The process id (that of its jobkernel-supervise when the supervisor is installed; for "
                               "a sync_api batch, the sync_api pool's worker posting it); null while it has no "
                               "process (starting)."},
        "state": {"enum": ["starting", "idle", "busy", "stopping"],
                  "description": "starting: no process yet (a persistent worker waiting out its restart backoff, or "
                                 "an exec handler that starts once its unit's start is committed); idle: a "
                                 "persistent worker with no unit; busy: running a unit; stopping: told to stop (a "
                                 "cancel, a timeout, no heartbeat, the shutdown) and not gone yet."},
        "job": {"oneOf": [_job_ref, {"type": "null"}], "description": "null when it runs no unit."},
        "since": {"allOf": [S("Time")], "description": "When it entered state."}}}
schemas["Pool"] = {
    "type": "object", "required": ["type", "dispatch_mode", "concurrency", "persistent", "workers"],
    "properties": {
        "type": {"type": "string"},
        "dispatch_mode": {"enum": ["internal", "sync_api"]},
        "concurrency": {"type": "integer", "minimum": 1,
                        "description": "The most units of the type that may run at once: its concurrency in force "
                                       "(parallel, else the config's), its mode's pool size and max_parallel_jobs, "
                                       "whichever is lowest."},
        "persistent": {"type": "boolean",
                       "description": "true: the type's workers are persistent processes of its own (a worker "
                                      "handler), idle ones included; false: one entry per unit in flight."},
        "workers": {"type": "array", "items": S("PoolWorker"), "description": "By pid (none last), then since."}}}
schemas["HistoryCounts"] = {
    "type": "object",
    "required": ["pending", "running", "succeeded", "failed", "cancelled", "partial_success", "skipped"],
    "description": "pending and running: the type's jobs in that status when the sample was taken. The others: its "
                   "jobs that ended so in the interval the sample closes (after the previous sample, up to t).",
    "properties": {k: {"type": "integer", "minimum": 0} for k in
                   ["pending", "running", "succeeded", "failed", "cancelled", "partial_success", "skipped"]}}
methods += [
    {
        "name": "workers",
        "summary": "The local pools' workers and the leases held by external workers.",
        "description": "pools: every type the kernel runs itself (internal, sync_api), by name, with its workers: "
                       "a type with a persistent worker handler lists its processes, idle ones too; any other "
                       "lists its units in flight. leases: every lease out (fetch, async_api over NATS), soonest "
                       "to expire first, with the fetcher's initialize client.name as worker (null when it gave "
                       "none, and over NATS). Read from memory: no job is read from the store." + empty_note,
        "params": [],
        "result": result("workersResult", {
            "type": "object", "required": ["pools", "leases"],
            "properties": {
                "pools": {"type": "array", "items": S("Pool")},
                "leases": {"type": "array", "items": {
                    "type": "object", "required": ["lease", "job", "worker", "expires_at"],
                    "properties": {"lease": {"type": "string"}, "job": _job_ref,
                                   "index": {"type": "integer", "minimum": 0,
                                             "description": "The unit: an item's index, 0 for a job without items."},
                                   "worker": {"type": ["string", "null"]},
                                   "expires_at": S("Time")}}}}},
            "The pools and the leases."),
        "errors": COMMON,
    },
    {
        "name": "stats.history",
        "summary": "The kernel's recent history by type, for charts.",
        "description": "A sample every interval_s (10 s) since the kernel started, the last kept_s (1 h, 360 "
                       "samples) kept in memory only: a restarted kernel starts a new history, its first sample "
                       "taken at start. Each sample has every configured type (and any other with open jobs): "
                       "pending and running at t, and the jobs that ended in the interval up to t by how they "
                       "ended. With since, only the samples taken after it (t > since): pass the last t seen to "
                       "get the new ones. A since that is not a time: -32602 (field since).",
        "params": [param("since", S("TimeParam"), "Only samples with t after this time.")],
        "result": result("statsHistory", {
            "type": "object", "required": ["interval_s", "kept_s", "samples"],
            "properties": {
                "interval_s": {"type": "number", "exclusiveMinimum": 0, "description": "Time between two samples."},
                "kept_s": {"type": "number", "exclusiveMinimum": 0, "description": "How far back the history reaches once full."},
                "samples": {"type": "array", "description": "Oldest first.", "items": {
                    "type": "object", "required": ["t", "types"],
                    "properties": {"t": S("Time"),
                                   "types": {"type": "object", "additionalProperties": S("HistoryCounts")}}}}}},
            "The samples."),
        "errors": COMMON,
    },
]
for m in methods:
    m["paramStructure"] = "by-name"


document = {
    "openrpc": "1.2.6",
    "info": {
        "title": "jobkernel",
        "version": "1",
        "description": "A local job-dispatch kernel spoken to over JSON-RPC 2.0 on stdio or a Unix socket "
                       "(default $JOBKERNEL_HOME/kernel.sock, else ~/.local/state/jobkernel/kernel.sock), "
                       "NDJSON or Content-Length framing. Parameters are by name; unknown parameters are -32602. "
                       "info.version is the protocol version. Errors carry data.reason (see "
                       "components/schemas/ErrorData). Server-to-client notifications are described under "
                       "components/x-notifications, the worker protocol under components/x-worker-protocol. "
                       "Every parameter's schema gives its type and range; a value of another type or out of range "
                       "is -32602 with data.field naming it, and every method checks all its parameters before it "
                       "looks anything up. An explicit null counts as an absent parameter (for list's parent_id it "
                       "means: jobs without a parent). x-maxBytes bounds a value's size in bytes: a string's UTF-8 "
                       "bytes, any other value's compact JSON text. See protocol/protocol.md.",
    },
    "methods": methods,
    "components": {
        "schemas": schemas,
        "errors": errors,
        "x-notifications": notifications,
        "x-worker-protocol": worker_protocol,
    },
}


def render():
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "openrpc.json")
    if "--check" in sys.argv:
        sys.exit(0 if open(out, encoding="utf-8").read() == render() else 1)
    with open(out, "w", encoding="utf-8") as f:
        f.write(render())
