import asyncio
import threading
import time

import pytest

import jobkernel
from jobkernel import AsyncClient, Client

from conftest import BASE_CONFIG


@pytest.fixture
def config_path(tmp_path):
    p = tmp_path / "jobkernel.toml"
    p.write_text(BASE_CONFIG)
    return str(p)


def test_spawn_stdio_content_length(kernel_bin, tmp_path, config_path):
    c = Client.spawn(kernel_bin, db=str(tmp_path / "stdio.db"), config=config_path, timeout=10, name="stdio-test")
    try:
        assert c.stats()["connections"] == 1
        job = c.enqueue("remote", {"via": "stdio"})
        assert job.data["created_by"] == "stdio-test"
        sub = c.subscribe(ids=[job.id], timeout=5)
        lease = c.fetch("remote", wait_s=2)["leases"][0]
        c.progress(job.id, current=1, total=1)
        c.ack(lease["lease"], "done")
        kinds = []
        while True:
            ev = sub.next(5)
            kinds.append(ev.kind)
            if ev.kind == "job.status" and ev.data["to"] == "success":
                break
        assert "job.progress" in kinds
        assert job.wait(5)["result"] == "done"
        with pytest.raises(jobkernel.JobNotFound):
            c.get("12345")
    finally:
        c.close()
    # closing stdin shuts the kernel down gracefully
    assert c.process.returncode == 0
    with pytest.raises(jobkernel.ConnectionLost):
        c.stats()


def test_spawn_missing_binary(tmp_path):
    with pytest.raises(jobkernel.NoKernel):
        Client.spawn(str(tmp_path / "no-such-binary"))


def test_spawned_kernel_dies_fails_pending_calls(kernel_bin, tmp_path, config_path):
    c = Client.spawn(kernel_bin, db=str(tmp_path / "die.db"), config=config_path, timeout=10)
    errors = []

    def poll():
        try:
            c.fetch("remote", wait_s=10)
        except Exception as e:
            errors.append(e)

    t = threading.Thread(target=poll)
    t.start()
    time.sleep(0.3)
    c.process.kill()
    t.join(5)
    assert not t.is_alive()
    assert isinstance(errors[0], jobkernel.ConnectionLost)
    c.close()


def run(coro, timeout=30):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_async_client_socket(kernel):
    async def main():
        async with AsyncClient(kernel.socket, timeout=10) as c:
            job = await c.enqueue("remote", {"a": 1}, priority=60)
            assert isinstance(job, jobkernel.AsyncJob) and job.status == "pending"
            assert (await c.get(job.id))["priority"] == 60
            assert [j["id"] for j in (await c.list(type="remote"))["jobs"]] == [job.id]
            waiter = asyncio.ensure_future(job.wait(10))
            res = await c.fetch("remote", wait_s=2)
            lease = res["leases"][0]
            await c.progress(job.id, current=1, total=4)
            await c.log(job.id, "async log")
            await c.extend(lease["lease"], 10)
            await c.ack(lease["lease"], {"ok": 1})
            final = await waiter
            assert final["status"] == "success" and final["result"] == {"ok": 1}
            assert (await c.logs(job.id))["lines"][0]["message"] == "async log"
            assert (await c.settings_set("workflow.auto_publish", True)) == {"workflow.auto_publish": True}
            assert (await c.settings_get("workflow.auto_publish")) == {"workflow.auto_publish": True}
            assert (await c.schedules()) == []
            assert "jobs" in await c.stats()
            with pytest.raises(jobkernel.UnknownType):
                await c.enqueue("nope")
            with pytest.raises(jobkernel.LeaseExpired):
                await c.ack("bogus")
            with pytest.raises(jobkernel.MethodNotFound):
                await c.call("nope")
            j2 = await c.enqueue("remote")
            assert (await j2.cancel())["status"] == "cancelled"
            assert (await j2.retry())["status"] == "pending"

    run(main())


def test_async_subscribe_resume(kernel):
    n = 100

    async def main():
        c = await AsyncClient.connect(kernel.socket, timeout=10)
        sub = await c.subscribe(types=["remote"], kinds=["job.created"], timeout=10)
        producer = await AsyncClient.connect(kernel.socket, timeout=10)

        async def produce():
            ids = []
            for i in range(n):
                ids.append((await producer.enqueue("remote", {"i": i})).id)
            return ids

        ptask = asyncio.ensure_future(produce())
        events = []
        async for ev in sub:
            events.append(ev)
            if len(events) in (10, 60):
                await c.disconnect()
            if len(events) == n:
                break
        ids = await ptask
        seqs = [e.seq for e in events]
        assert seqs == sorted(set(seqs))
        assert [e.job_id for e in events] == ids
        assert sub.reconnects == 2
        await sub.close()
        await producer.close()
        await c.close()

    run(main())


def test_async_spawn_stdio(kernel_bin, tmp_path, config_path):
    async def main():
        c = await AsyncClient.spawn(kernel_bin, db=str(tmp_path / "a.db"), config=config_path, timeout=10)
        job = await c.enqueue("remote")
        assert (await c.get(job.id))["status"] == "pending"
        assert (await job.cancel())["status"] == "cancelled"
        assert (await job.wait(5))["status"] == "cancelled"
        await c.close()
        assert c.process.returncode == 0

    run(main())


def test_async_no_kernel(tmp_path):
    async def main():
        with pytest.raises(jobkernel.NoKernel):
            await AsyncClient.connect(str(tmp_path / "none.sock"))

    run(main())
