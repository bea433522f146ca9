"""The client's side of scheduling and operations (protocol/protocol.md: `enqueue`'s run_at and
after, `items`, `remove`/`clean`, `pause`/`resume`): run_at as a datetime, after,
wait(raise_on_failure), items, remove, clean, pause/resume, in both the sync and the asyncio client."""

import asyncio
import datetime

import pytest

import jobkernel
from jobkernel import AsyncClient


def lease_one(client, type_="remote"):
    leases = client.fetch(type_, wait_s=5)["leases"]
    assert len(leases) == 1
    return leases[0]


def test_run_at_takes_a_datetime(client):
    # January 2 of the year after next: in the future on whatever day the test runs.
    year = datetime.datetime.now(datetime.timezone.utc).year + 2
    at = datetime.datetime(year, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.timezone.utc)
    job = client.enqueue("remote", run_at=at)
    assert job.status == "scheduled" and job.data["run_at"] == f"{year}-01-02T03:04:05.678Z"
    berlin = datetime.timezone(datetime.timedelta(hours=1))
    job = client.enqueue("remote", run_at=datetime.datetime(year, 1, 2, 4, 4, 5, tzinfo=berlin))
    assert job.status == "scheduled" and job.data["run_at"] == f"{year}-01-02T03:04:05.000Z"
    assert jobkernel.client.time_param("2030-01-02T03:04:05.000Z") == "2030-01-02T03:04:05.000Z"


def test_wait_raise_on_failure(client):
    job = client.enqueue("remote", max_attempts=1)
    client.nack(lease_one(client)["lease"], "broken", retryable=False)
    assert job.wait(5)["status"] == "failed"  # default: returns the final job
    with pytest.raises(jobkernel.JobFailed) as e:
        job.wait(5, raise_on_failure=True)
    assert e.value.status == "failed" and e.value.error["message"] == "broken" and e.value.job["id"] == job.id
    ok = client.enqueue("remote")
    client.ack(lease_one(client)["lease"], 1)
    assert ok.wait(5, raise_on_failure=True)["result"] == 1


def test_after_items_remove_clean(client):
    first = client.enqueue("remote", items=["a", "b", "c"])
    then = client.enqueue("other", after=first)
    assert then.status == "scheduled"
    for _ in range(3):
        lease = lease_one(client)
        client.ack(lease["lease"], {"v": lease["item"]["value"].upper()})
    first.wait(5, raise_on_failure=True)
    assert [i["result"] for i in first.items()] == [{"v": "A"}, {"v": "B"}, {"v": "C"}]
    assert [i["index"] for i in client.iter_items(first.id, limit=1)] == [0, 1, 2]
    assert client.items(first.id, status="failed")["items"] == []
    assert then.refresh()["status"] == "pending"
    with pytest.raises(jobkernel.InvalidState):
        client.remove(then)
    assert first.remove() == 1
    with pytest.raises(jobkernel.JobNotFound):
        client.get(first.id)
    with pytest.raises(jobkernel.JobNotFound):
        client.enqueue("remote", after=["999999"])
    client.ack(lease_one(client, "other")["lease"])
    then.wait(5)
    assert client.clean(status="success", older_than_s=3600) == 0
    assert client.clean(status=["success"]) == 1


def test_pause_resume(client):
    assert client.pause("remote")["paused.remote"] is True
    client.enqueue("remote")
    assert client.fetch("remote")["leases"] == []
    assert client.stats()["types"]["remote"]["paused"] == 1
    settings = client.resume()
    assert settings["paused.remote"] is False and settings["paused.*"] is False
    assert len(client.fetch("remote")["leases"]) == 1


def test_async_client_operations(kernel):
    async def main():
        async with await AsyncClient.connect(kernel.socket) as c:
            job = await c.enqueue("remote", items=[1, 2], run_at=datetime.datetime.now(datetime.timezone.utc))
            dep = await c.enqueue("other", after=[job.id])
            assert dep.status == "scheduled"
            leases = (await c.fetch("remote", max=2, wait_s=5))["leases"]
            await c.ack(leases[0]["lease"], "x")
            await c.nack(leases[1]["lease"], "no", retryable=False)
            with pytest.raises(jobkernel.JobFailed):
                await job.wait(5, raise_on_failure=True)
            assert [i["status"] for i in await job.items()] == ["success", "failed"]
            assert (await dep.wait(5))["status"] == "skipped"
            assert (await c.pause())["paused.*"] is True
            assert (await c.resume())["paused.*"] is False
            assert await c.remove([job.id, dep.id]) == 2
            assert await c.clean() == 0
    asyncio.run(main())
