"""Rebuilds, from a trace of iotrace.c, the files a disk could hold after a power cut.

The model (SQLite's crash-test VFS makes the same choice): at a cut at time T, a file holds every
write that had returned before the start of its last sync that completed before T. Every later
write that had begun before T (returned or still in flight) may be on the disk whole, not at all,
or torn: any subset of its 512-byte sectors. A truncation after that sync may or may not have
happened. Writes land in the order they returned, so where two kept writes overlap the later wins.
Space a kept sector adds beyond the end of a file reads as zeros up to it.

A file that was never synced is empty in the base image. The -shm file is never rebuilt: it does
not survive a cut (the kernel keeps its WAL index in memory and has none; plain SQLite rebuilds
it from the WAL).
"""

from __future__ import annotations

import bisect
import mmap
import random
import struct

OP_WRITE, OP_SYNC, OP_TRUNCATE, OP_OPEN, OP_UNLINK, OP_RANGE_SYNC = 1, 2, 3, 4, 5, 6
SUFFIXES = ("", "-wal", "-journal", "-shm")
SECTOR = 512
HEADER = struct.Struct("<BBHIQQqQ")
O_TRUNC = 0o1000


class Op:
    __slots__ = ("kind", "file", "t0", "t1", "offset", "length", "data_at")

    def __init__(self, kind, file, t0, t1, offset, length, data_at):
        self.kind, self.file, self.t0, self.t1 = kind, file, t0, t1
        self.offset, self.length, self.data_at = offset, length, data_at


class Trace:
    """The ops of one trace, by file, in the order they returned."""

    def __init__(self, path: str):
        self.f = open(path, "rb")
        size = self.f.seek(0, 2)
        self.buf = mmap.mmap(self.f.fileno(), size, access=mmap.ACCESS_READ) if size else b""
        ops = []
        at = 0
        while at < size:
            kind, file, _, _, t0, t1, offset, length = HEADER.unpack_from(self.buf, at)
            at += HEADER.size
            ops.append(Op(kind, file, t0, t1, offset, length, at))
            at += length if kind == OP_WRITE else 0
        if at != size:
            raise ValueError(f"{path}: a truncated trace")
        ops.sort(key=lambda op: op.t1)
        self.ops = ops
        self.by_file = {f: [op for op in ops if op.file == f] for f in range(len(SUFFIXES))}
        # Per file: (t1, t0) of each sync, in the order they completed.
        self.syncs = {f: [(op.t1, op.t0) for op in fops if op.kind == OP_SYNC] for f, fops in self.by_file.items()}

    def data(self, op) -> memoryview:
        return memoryview(self.buf)[op.data_at : op.data_at + op.length]

    def durable_before(self, file: int, t: int) -> int:
        """The start of the latest sync of `file` that completed before `t` (0 if none): every
        write that returned before it is on the disk after a cut at `t`."""
        syncs = self.syncs[file]
        i = bisect.bisect_left(syncs, (t, -1))
        return max((t0 for _, t0 in syncs[:i]), default=0)

    def close(self):
        if isinstance(self.buf, mmap.mmap):
            self.buf.close()
        self.f.close()


class FileImage:
    """One file's bytes as the disk holds them, plus whether it exists."""

    def __init__(self):
        self.data = bytearray()
        self.exists = False

    def copy(self):
        c = FileImage()
        c.data = bytearray(self.data)
        c.exists = self.exists
        return c

    def write(self, offset, data):
        end = offset + len(data)
        if end > len(self.data):
            self.data.extend(bytes(end - len(self.data)))
        self.data[offset:end] = data
        self.exists = True

    def truncate(self, size):
        if size < len(self.data):
            del self.data[size:]
        else:
            self.data.extend(bytes(size - len(self.data)))

    def apply(self, trace, op):
        if op.kind == OP_WRITE:
            self.write(op.offset, trace.data(op))
        elif op.kind == OP_TRUNCATE:
            self.truncate(op.offset)
        elif op.kind == OP_OPEN:
            self.exists = True
            if op.offset & O_TRUNC:
                self.truncate(0)
        elif op.kind == OP_UNLINK:
            self.exists = False
            self.data = bytearray()


class CutBuilder:
    """Builds cut images at increasing times, keeping each file's durable part as it goes."""

    def __init__(self, trace: Trace, lying: dict | None = None):
        """`lying`: {file index: time}, files whose syncs after that time are ignored, as on a
        drive that acknowledges flushes it never makes; only for showing that the checks catch
        what such a drive does."""
        self.trace = trace
        self.lying = lying or {}
        self.base = {f: FileImage() for f in trace.by_file}
        self.applied = {f: 0 for f in trace.by_file}  # ops of the file already in base
        self.last_t = 0

    def build(self, t: int, rng: random.Random, keep: float, tear: float):
        """The files after a cut at `t` (not before an earlier call's t). Each write not yet
        durable is kept with probability `keep`, and a kept write is torn with probability
        `tear` (each of its sectors then kept with probability 1/2). Returns ({suffix: bytes or
        None}, figures)."""
        assert t >= self.last_t, "cuts must come in time order"
        self.last_t = t
        files = {}
        figures = {"durable_ops": 0, "pending_ops": 0, "pending_db_writes": 0, "kept": 0, "torn": 0, "dropped": 0}
        for f, ops in self.trace.by_file.items():
            horizon = self.trace.durable_before(f, min(t, self.lying.get(f, t)))
            base = self.base[f]
            i = self.applied[f]
            while i < len(ops) and ops[i].t1 < horizon:
                base.apply(self.trace, ops[i])
                i += 1
            self.applied[f] = i
            figures["durable_ops"] += i
            image = base.copy()
            for op in ops[i:]:
                if op.t0 >= t:
                    continue  # not begun at the cut (ops are in t1 order, not t0)
                if op.kind in (OP_OPEN, OP_UNLINK):
                    # Creating and removing a file are taken as done once returned: cuts fall in
                    # the load, long after start-up created the files.
                    if op.t1 < t:
                        image.apply(self.trace, op)
                    continue
                if op.kind not in (OP_WRITE, OP_TRUNCATE):
                    continue
                figures["pending_ops"] += 1
                figures["pending_db_writes"] += f == 0 and op.kind == OP_WRITE
                if rng.random() >= keep:
                    figures["dropped"] += 1
                    continue
                if op.kind == OP_TRUNCATE:
                    image.apply(self.trace, op)
                    figures["kept"] += 1
                    continue
                if rng.random() >= tear:
                    image.apply(self.trace, op)
                    figures["kept"] += 1
                    continue
                figures["torn"] += 1
                data = self.trace.data(op)
                start = op.offset
                end = op.offset + op.length
                s = start - start % SECTOR
                while s < end:
                    a, b = max(s, start), min(s + SECTOR, end)
                    if rng.random() < 0.5:
                        image.write(a, data[a - start : b - start])
                    s += SECTOR
            files[SUFFIXES[f]] = bytes(image.data) if image.exists else None
        return files, figures
