"""Checks protocol/openrpc.json against the OpenRPC meta-schema and against the repository's
protocol guide, protocol/protocol.md: the methods and their parameters (the `### name `{params}``
headings under "Methods"), the error codes and reasons (the table under "JSON-RPC conventions"),
the event kinds (the table under "Events and resuming") and the full job object shown under
"Methods". The guide and the document describe one protocol; these tests keep them in step.

Run: python3 -m pytest Tests/protocol
"""
import importlib.util
import json
import re
from pathlib import Path

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = ROOT / "protocol"
DOC_PATH = PROTOCOL / "openrpc.json"
META_PATH = PROTOCOL / "openrpc-meta-schema.json"
GUIDE = (PROTOCOL / "protocol.md").read_text(encoding="utf-8")


def section(title_prefix):
    """Text of the guide's section whose heading starts with title_prefix, up to the next heading of
    that level or above (a `#` line inside a fenced code block is a shell comment, not a heading)."""
    lines = GUIDE.splitlines(keepends=True)
    fenced, start, level = False, None, 0
    for i, line in enumerate(lines):
        if line.startswith("```"):
            fenced = not fenced
            continue
        m = None if fenced else re.match(r"^(#+) (.*)$", line)
        if not m:
            continue
        if start is None and m.group(2).startswith(title_prefix):
            start, level = i + 1, len(m.group(1))
        elif start is not None and len(m.group(1)) <= level:
            return "".join(lines[start:i])
    assert start is not None, f"protocol/protocol.md has no section {title_prefix!r}"
    return "".join(lines[start:])


def table_rows(text):
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("|") and not re.match(r"^\|[\s|:-]+\|$", line):
            rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows[1:]  # without the header


def split_top(s):
    """Split s on commas not inside (), {} or []."""
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return [p.strip() for p in parts]


def parse_params(braced):
    """'{id, since?, limit?=200}' -> {name: (required, default-or-None)}."""
    inner = braced.strip()
    assert inner.startswith("{") and inner.endswith("}"), braced
    out = {}
    for tok in split_top(inner[1:-1]):
        m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)(\?)?(?:=([^\s(]+))?", tok)
        assert m, tok
        name, opt, default = m.groups()
        out[name] = (opt is None, json.loads(default) if default else None)
    return out


def guide_method_params():
    """{method: {param: (required, default)}} from the guide's method headings, e.g.
    `### subscribe `{ids?, types?, kinds?, since?}` / unsubscribe `{subscription}``."""
    out = {}
    for heading in re.findall(r"^### (.*)$", section("Methods"), re.M):
        for name, braced in re.findall(r"([a-z][a-z._]*) `(\{[^`]*\})`", heading):
            assert name not in out, f"protocol/protocol.md documents {name} twice"
            out[name] = parse_params(braced)
    return out


def guide_errors():
    """{code: [data.reason, ...]} from the error table under "JSON-RPC conventions"."""
    out = {}
    for row in table_rows(section("JSON-RPC conventions")):
        if re.match(r"^-\d+$", row[0]):
            out[int(row[0])] = re.findall(r"`([a-z_]+)`", row[2])
    return out


def guide_kinds():
    return {re.match(r"`([a-z.]+)`", r[0]).group(1) for r in table_rows(section("Events and resuming"))
            if r[0].startswith("`")}


def guide_job_example():
    m = re.search(r"a full job object is:\s*```json\n(.*?)```", section("Methods"), re.S)
    assert m, "protocol/protocol.md shows no full job object under Methods"
    return json.loads(m.group(1))


@pytest.fixture(scope="module")
def doc():
    return json.loads(DOC_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def meta():
    return json.loads(META_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def methods(doc):
    return {m["name"]: m for m in doc["methods"]}


@pytest.fixture(scope="module")
def validator_for(doc):
    """validator_for('#/components/schemas/Job') -> a Draft 7 validator resolving the document's $refs."""
    uri = "urn:jobkernel:openrpc"
    registry = Registry().with_resource(uri, Resource.from_contents(doc, default_specification=DRAFT7))

    def make(pointer_or_schema):
        if isinstance(pointer_or_schema, str):
            schema = {"$ref": uri + pointer_or_schema}
        else:  # an inline schema: point its document-relative $refs into the registered document
            schema = json.loads(json.dumps(pointer_or_schema).replace('"$ref": "#/', f'"$ref": "{uri}#/'))
        return jsonschema.Draft7Validator(schema, registry=registry,
                                          format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    return make


def resolve_pointer(doc, ref):
    assert ref.startswith("#/"), ref
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def walk_refs(node, path="#"):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield path, node["$ref"]
        for k, v in node.items():
            yield from walk_refs(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk_refs(v, f"{path}/{i}")


# ---------------------------------------------------------------------------------------------

def test_meta_schema_is_valid_draft7(meta):
    jsonschema.Draft7Validator.check_schema(meta)


def test_document_validates_against_meta_schema(doc, meta):
    errors = sorted(jsonschema.Draft7Validator(meta).iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message[:300]}" for e in errors)


def test_meta_schema_rejects_broken_documents(meta):
    v = jsonschema.Draft7Validator(meta)
    assert not v.is_valid({"openrpc": "1.2.6", "info": {"title": "t"}, "methods": []})  # no version
    assert not v.is_valid({"openrpc": "1.2.6", "info": {"title": "t", "version": "1"},
                           "methods": [{"name": "m", "params": []}]})  # no result
    assert not v.is_valid({"openrpc": "1.2.6", "info": {"title": "t", "version": "1"},
                           "methods": [{"name": "m", "params": [{"name": "p"}], "result": {"name": "r", "schema": {}}}]})
    assert not v.is_valid({"openrpc": "1.2.6", "info": {"title": "t", "version": "1"}, "methods": [],
                           "components": {"errors": {"E": {"code": "x", "message": "m"}}}})
    assert not v.is_valid({"openrpc": "1.2.6", "info": {"title": "t", "version": "1"}, "methods": [],
                           "components": {"schemas": {"S": {"type": 5}}}})
    assert v.is_valid({"openrpc": "1.2.6", "info": {"title": "t", "version": "1"}, "methods": [], "x-any": 1})


def test_info(doc):
    assert re.match(r"^1\.2\.\d+$", doc["openrpc"])
    assert doc["info"]["title"] == "jobkernel"
    assert doc["info"]["version"] == "1"


def test_every_documented_method_present_and_no_other(methods):
    expected = set(guide_method_params())
    assert len(expected) >= 26, sorted(expected)  # the headings parsed: initialize … rpc.discover
    assert set(methods) == expected, (set(methods) ^ expected)


def test_method_names_unique(doc):
    names = [m["name"] for m in doc["methods"]]
    assert len(names) == len(set(names))


def test_params_match_the_guide(methods):
    """Each method's parameters, which are required, and their defaults, as its heading shows them."""
    for name, params in guide_method_params().items():
        got = {p["name"]: p for p in methods[name]["params"]}
        assert set(got) == set(params), (name, set(got) ^ set(params))
        for pname, (required, default) in params.items():
            p = got[pname]
            assert p.get("required", False) == required, (name, pname)
            if default is not None:
                assert p["schema"].get("default") == default, (name, pname, default)


def test_methods_are_by_name_with_described_params(methods):
    for m in methods.values():
        assert m.get("paramStructure") == "by-name", m["name"]
        assert m.get("description") and m.get("summary"), m["name"]
        assert "errors" in m, m["name"]
        for p in m["params"]:
            assert p.get("description"), (m["name"], p["name"])
            assert "required" in p, (m["name"], p["name"])


def test_every_ref_resolves(doc):
    refs = list(walk_refs(doc))
    assert refs
    for where, ref in refs:
        if ref.startswith("http://json-schema.org/"):
            continue
        try:
            resolve_pointer(doc, ref)
        except (KeyError, IndexError, ValueError, AssertionError) as e:
            pytest.fail(f"{where}: $ref {ref} does not resolve ({e!r})")


def test_every_schema_compiles_with_refs(doc, validator_for):
    for name in doc["components"]["schemas"]:
        validator_for(f"#/components/schemas/{name}").is_valid(None)  # forces $ref resolution
    for m in doc["methods"]:
        for p in m["params"]:
            validator_for(p["schema"] if "$ref" not in p["schema"] else p["schema"]["$ref"]).is_valid(None)
        validator_for(m["result"]["schema"]).is_valid(None)


def test_every_documented_error_code_in_components(doc):
    comp = doc["components"]["errors"]
    by_code = {}
    for e in comp.values():
        by_code.setdefault(e["code"], e)
    reasons = set(doc["components"]["schemas"]["ErrorData"]["properties"]["reason"]["enum"])
    documented = guide_errors()
    assert set(documented) >= {-32700, -32600, -32601, -32602, -32603, -32001, -32006, -32800}, documented
    for code, guide_reasons in documented.items():
        assert code in by_code, f"error {code} missing from components.errors"
        assert by_code[code]["data"]["reason"] in guide_reasons, code
        for r in guide_reasons:
            assert r in reasons, f"data.reason {r} missing from ErrorData"


def test_method_errors_are_documented_codes(doc):
    codes = set(guide_errors())
    for m in doc["methods"]:
        for e in m["errors"]:
            e = resolve_pointer(doc, e["$ref"]) if "$ref" in e else e
            assert e["code"] in codes, (m["name"], e["code"])


def test_job_schema_has_every_documented_field(doc, validator_for):
    job_schema = doc["components"]["schemas"]["Job"]
    example = guide_job_example()
    # `waiting` is only in get's and list's answers (protocol.md item 42): documented, not required.
    assert set(job_schema["required"]) | {"waiting"} == set(example), set(job_schema["required"]) ^ set(example)
    assert set(job_schema["properties"]) == set(example)
    # The guide's full job object is a valid Job.
    errors = list(validator_for("#/components/schemas/Job").iter_errors(example))
    assert not errors, [e.message for e in errors]


def test_event_kinds_and_notifications(doc, validator_for):
    schemas = doc["components"]["schemas"]
    assert set(schemas["EventKind"]["enum"]) == guide_kinds()
    notes = {n["name"]: n for n in doc["components"]["x-notifications"]}
    assert set(notes) == {"event", "subscription.dropped"}
    assert [p["name"] for p in notes["event"]["params"]] == ["subscription", "seq", "ts", "kind", "job_id", "data"]
    assert [p["name"] for p in notes["subscription.dropped"]["params"]] == ["subscription", "last_seq"]
    ev = validator_for("#/components/schemas/Event")
    assert ev.is_valid({"subscription": "s1", "seq": 7, "ts": "2026-11-23T09:31:50.123Z", "kind": "job.log",
                        "job_id": "17", "data": {"seq": 3, "level": "info", "message": "hi"}})
    assert ev.is_valid({"subscription": "s1", "seq": 8, "ts": "2026-11-23T09:31:50.123Z",
                        "kind": "settings.changed", "job_id": None,
                        "data": {"key": "workflow.publishing", "value": False}})
    assert not ev.is_valid({"subscription": "s1", "seq": 8, "ts": "2026-11-23T09:31:50.123Z",
                            "kind": "job.nope", "job_id": None, "data": {}})


def test_examples_match_schemas(doc, validator_for, methods):
    for m in methods.values():
        for ex in m.get("examples", []):
            params = {p["name"]: p for p in m["params"]}
            for pv in ex["params"]:
                errs = list(validator_for(params[pv["name"]]["schema"]).iter_errors(pv["value"]))
                assert not errs, (m["name"], pv["name"], [e.message for e in errs])
            errs = list(validator_for(m["result"]["schema"]).iter_errors(ex["result"]["value"]))
            assert not errs, (m["name"], [e.message for e in errs])


def test_result_shapes(validator_for, methods):
    stats = {"jobs": {s: 0 for s in ["scheduled", "pending", "running", "success", "partial_success", "failed",
                                      "cancelled", "skipped"]},
             "lanes": {"normal": {"busy": 0, "total": 3}, "priority": {"busy": 0, "total": 4}},
             "pools": {"internal": {"busy": 0, "total": 4}, "sync_api": {"busy": 0, "total": 2}},
             "leases": 0, "broker": {"kind": "embedded"}, "seq": 0, "uptime_s": 1.5, "connections": 1,
             "types": {"thumbnail": {"pending": 2, "scheduled": 0, "running": 1, "paused": 0, "success_1m": 5,
                                     "failed_1m": 0, "oldest_pending_s": 1.25}}}
    assert validator_for(methods["stats"]["result"]["schema"]).is_valid(stats)
    assert not validator_for(methods["stats"]["result"]["schema"]).is_valid({k: v for k, v in stats.items() if k != "types"})
    away = {"kind": "nats", "connected": False, "since": "2026-11-23T09:31:50.123Z", "disconnects": 1, "unconfirmed_units": 0}
    assert validator_for(methods["stats"]["result"]["schema"]).is_valid({**stats, "broker": away})
    assert not validator_for(methods["stats"]["result"]["schema"]).is_valid({**stats, "broker": {**away, "since": "now"}})
    assert validator_for(methods["schedules"]["result"]["schema"]).is_valid(
        [{"name": "nightly", "type": "t", "every": None, "cron": "30 3 * * *", "timezone": "Europe/Berlin",
          "next_run_at": "2026-11-24T02:30:00.000Z", "last_job_id": "12"}])
    assert validator_for(methods["settings.get"]["result"]["schema"]).is_valid({"paused.*": False, "paused.thumb": True})
    assert not validator_for(methods["settings.get"]["result"]["schema"]).is_valid({"paused.": True})
    item = {"index": 1, "value": "b", "status": "failed", "attempt": 1, "result": None,
            "error": {"message": "bad item b"}, "started_at": "2026-11-23T09:31:50.123Z",
            "finished_at": "2026-11-23T09:31:50.200Z"}
    assert validator_for(methods["items"]["result"]["schema"]).is_valid({"items": [item], "next": None})
    assert not validator_for(methods["items"]["result"]["schema"]).is_valid({"items": [{"index": 1}], "next": None})
    assert validator_for(methods["remove"]["result"]["schema"]).is_valid({"removed": 3})
    assert validator_for(methods["clean"]["result"]["schema"]).is_valid({"removed": 0})
    assert validator_for(methods["schedules"]["result"]["schema"]).is_valid(
        [{"name": "trash_maintenance", "type": "trash_maintenance", "every": "1h",
          "next_run_at": "2026-11-23T10:00:00.000Z", "last_job_id": None}])
    assert validator_for(methods["settings.get"]["result"]["schema"]).is_valid({"workflow.publishing": True})
    assert not validator_for(methods["settings.get"]["result"]["schema"]).is_valid({"publishing": True})
    assert validator_for(methods["unsubscribe"]["result"]["schema"]).is_valid(True)
    assert validator_for(methods["fetch"]["result"]["schema"]).is_valid({"leases": []})


def test_generator_in_sync():
    module_spec = importlib.util.spec_from_file_location("gen_openrpc", PROTOCOL / "gen_openrpc.py")
    gen = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(gen)
    assert gen.render() == DOC_PATH.read_text(encoding="utf-8"), \
        "protocol/openrpc.json is stale: run python3 protocol/gen_openrpc.py"


def test_protocol_md_examples_match_schemas(validator_for):
    """The JSON blocks of protocol.md that show a job, stats or an error response follow the document."""
    checked = 0
    for block in re.findall(r"```json\n(.*?)```", GUIDE, re.S):
        value = json.loads(block)
        if "dispatch_mode" in value:
            pointer = "#/components/schemas/Job"
        elif "lanes" in value:
            pointer = "#/components/schemas/Stats"
        elif "error" in value:
            value, pointer = value["error"]["data"], "#/components/schemas/ErrorData"
        else:
            continue
        errs = list(validator_for(pointer).iter_errors(value))
        assert not errs, (pointer, [e.message for e in errs])
        checked += 1
    assert checked >= 3
