#!/usr/bin/env python3
"""A jobkernel async_api worker on another machine, over NATS JetStream (protocol/nats.md).

    pip install nats-py
    python3 worker.py --url nats://kernel-host:4222 --type resize --type thumbnail

For each configured type it keeps a durable pull consumer `worker-<type>` on the stream JOBKERNEL
(subject `jobkernel.units.<type>`), so every worker process started with the same type shares the
work. Each unit's body is the lease object `{lease, job, item, attempt, expires_at}`. The worker
runs `handle()`, publishes `{lease, status, result?, error?}` to `jobkernel.results` (JetStream,
`Nats-Msg-Id: <lease>`), and only then acks the unit: a crash in between redelivers the unit and the
kernel ignores the second result of the same lease. Progress and log lines go to
`jobkernel.progress` as `{lease, progress}` / `{lease, log, level}`.
"""
import argparse
import asyncio
import datetime
import json
import signal
import sys

import nats
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import NotFoundError

UNIT_STREAM = "JOBKERNEL"
RESULT_SUBJECT = "jobkernel.results"
PROGRESS_SUBJECT = "jobkernel.progress"


class Worker:
    def __init__(self, nc, stream, ack_wait):
        self.nc = nc
        self.js = nc.jetstream()
        self.stream = stream
        self.ack_wait = ack_wait

    async def progress(self, lease, current, total=None, phase=None, message=None):
        body = {"lease": lease, "progress": {"current": current, "total": total, "phase": phase, "message": message}}
        await self.nc.publish(PROGRESS_SUBJECT, json.dumps(body).encode())

    async def log(self, lease, message, level="info"):
        await self.nc.publish(PROGRESS_SUBJECT, json.dumps({"lease": lease, "log": message, "level": level}).encode())

    async def handle(self, unit):
        """The work itself; replace with yours. Returns the unit's result or raises."""
        item = unit.get("item")
        payload = unit["job"].get("payload")
        await self.log(unit["lease"], f"job {unit['job']['id']} attempt {unit['attempt']}")
        await self.progress(unit["lease"], 0, 1, phase="work")
        if isinstance(payload, dict) and payload.get("fail"):
            raise WorkError(str(payload["fail"]), retryable=bool(payload.get("retryable", True)))
        await asyncio.sleep(0.01)
        await self.progress(unit["lease"], 1, 1, phase="work")
        return {"echo": item["value"] if item else payload}

    async def process(self, msg):
        try:
            unit = json.loads(msg.data)
            lease = unit["lease"]
        except (ValueError, KeyError, TypeError):
            print(f"dropping a unit that is not a lease object: {msg.data[:200]!r}", file=sys.stderr)
            await msg.ack()
            return
        if expired(unit.get("expires_at")):
            # The kernel has already put this unit back under a new lease; its result would be ignored.
            await msg.ack()
            return
        keepalive = asyncio.create_task(self.keep_in_progress(msg))
        try:
            report = {"lease": lease, "status": "success", "result": await self.handle(unit)}
        except WorkError as error:
            report = {"lease": lease, "status": "failed", "error": {"message": str(error), "retryable": error.retryable}}
        except Exception as error:  # any crash of the handler fails the unit, retryably
            report = {"lease": lease, "status": "failed", "error": {"message": f"{type(error).__name__}: {error}"}}
        finally:
            keepalive.cancel()
        # Stored first (the PubAck), acked second: at least once, never lost.
        await self.js.publish(RESULT_SUBJECT, json.dumps(report).encode(), headers={"Nats-Msg-Id": lease})
        await msg.ack()

    async def keep_in_progress(self, msg):
        """Tells JetStream the unit is still being worked on, so it is not redelivered meanwhile."""
        while True:
            await asyncio.sleep(self.ack_wait / 2)
            await msg.in_progress()

    async def consume(self, job_type, concurrency, stop):
        while True:
            try:
                sub = await self.js.pull_subscribe(
                    f"jobkernel.units.{job_type}",
                    durable=f"worker-{job_type}",
                    stream=self.stream,
                    config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=self.ack_wait,
                                          max_ack_pending=max(concurrency, 1) * 16),
                )
                break
            except NotFoundError:
                # The kernel creates the stream when it starts; until then there is nothing to do.
                print(f"stream {self.stream} not found yet; waiting for the kernel", file=sys.stderr)
                try:
                    await asyncio.wait_for(stop.wait(), timeout=2)
                    return
                except asyncio.TimeoutError:
                    continue
        while not stop.is_set():
            try:
                msgs = await sub.fetch(batch=concurrency, timeout=1)
            except (NatsTimeout, asyncio.TimeoutError):
                # nats-py raises its own TimeoutError, or (2.16, from a batch fetch) asyncio's.
                continue
            await asyncio.gather(*(self.process(msg) for msg in msgs))


class WorkError(Exception):
    def __init__(self, message, retryable=True):
        super().__init__(message)
        self.retryable = retryable


def expired(expires_at):
    if not expires_at:
        return False
    when = datetime.datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    return when <= datetime.datetime.now(datetime.timezone.utc)


async def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="nats://127.0.0.1:4222")
    parser.add_argument("--type", action="append", required=True, dest="types", help="job type to work on (repeatable)")
    parser.add_argument("--stream", default=UNIT_STREAM, help="units stream name ([broker] stream, default JOBKERNEL)")
    parser.add_argument("--concurrency", type=int, default=1, help="units in hand at once, per type")
    parser.add_argument("--ack-wait", type=float, default=30.0, help="seconds before an unacked unit is redelivered")
    args = parser.parse_args()

    nc = await nats.connect(args.url, name="jobkernel-worker", max_reconnect_attempts=-1)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    worker = Worker(nc, args.stream, args.ack_wait)
    try:
        await asyncio.gather(*(worker.consume(t, args.concurrency, stop) for t in args.types))
    finally:
        await nc.drain()


if __name__ == "__main__":
    asyncio.run(main())
