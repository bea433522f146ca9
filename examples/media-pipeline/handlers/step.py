#!/usr/bin/env python3
"""One stage of the media pipeline, as an exec handler (docs/promises.md §5.1).

stdin: {"job": {...}, "item": null}. stdout: JSON lines {"progress": ...}, {"log": ...},
{"result": ...}. A chained job's payload is {"from": <parent id>, "payload": <parent payload>,
"result": <parent result>}, so each stage reads what the previous one produced from `result`.
"""
import json
import os
import sys
import time

stage = sys.argv[1]
job = json.load(sys.stdin)["job"]
payload = job["payload"]


def emit(obj):
    print(json.dumps(obj), flush=True)


def origin(p):
    """Walk the chain back to the payload the first job was enqueued with."""
    while isinstance(p, dict) and "from" in p and "payload" in p:
        p = p["payload"]
    return p


emit({"log": f"{stage} starting (job {os.environ['JOBKERNEL_JOB_ID']}, attempt {os.environ['JOBKERNEL_ATTEMPT']}, manual={job['manual']})"})
prev = payload.get("result") if "from" in payload else None
src = origin(payload)

if stage == "scan":
    files = [f"{src['library']}/{name}" for name in src.get("files", [])]
    for i, _ in enumerate(files, 1):
        emit({"progress": {"current": i, "total": len(files), "phase": "scan"}})
        time.sleep(0.05)
    result = {"files": files}
elif stage == "discover":
    assets = [{"file": f, "poster": f + ".poster.jpg", "nfo": f + ".nfo"} for f in prev["files"]]
    result = {"assets": assets}
elif stage == "enrich":
    result = {"movies": [{"file": a["file"], "title": os.path.basename(a["file"]).rsplit(".", 1)[0], "rating": 7.9}
                         for a in prev["assets"]]}
elif stage == "publish":
    movies = (prev or src).get("movies", [])
    result = {"published": [m["title"] for m in movies], "to": "/library"}
else:
    emit({"error": {"message": f"unknown stage {stage}", "retryable": False}})
    sys.exit(1)

time.sleep(0.1)
emit({"log": f"{stage} done"})
emit({"result": result})
