#!/usr/bin/env python3
"""Post-process one uploaded file (one item of an upload_postprocess job), docs/promises.md §5.1.

stdin: {"job": {...}, "item": {"index": i, "value": "<file name>"}}; the job's payload names the
upload directory. Reports progress per phase, logs, and prints a result. A file that is not a
JPEG fails without retry ({"error": {..., "retryable": false}}): re-uploading it and calling
`retry` re-runs only that item.
"""
import hashlib
import json
import os
import sys
import time

msg = json.load(sys.stdin)
job, item = msg["job"], msg["item"]
name = item["value"]
path = os.path.join(job["payload"]["dir"], name)


def emit(obj):
    print(json.dumps(obj), flush=True)


emit({"progress": {"phase": "read", "message": name}})
with open(path, "rb") as f:
    data = f.read()
time.sleep(0.05)
if not data.startswith(b"\xff\xd8"):
    emit({"log": f"{name}: not a JPEG ({len(data)} bytes)"})
    emit({"error": {"message": f"{name} is not a JPEG", "retryable": False}})
    sys.exit(1)
emit({"progress": {"phase": "thumbnail", "message": name}})
time.sleep(0.05)
emit({"progress": {"phase": "preview", "message": name}})
time.sleep(0.05)
emit({"log": f"{name}: derivatives written"})
emit({"result": {"file": name, "bytes": len(data), "sha1": hashlib.sha1(data).hexdigest()[:12],
                 "thumbnail": name + ".thumb.jpg", "preview": name + ".preview.jpg"}})
