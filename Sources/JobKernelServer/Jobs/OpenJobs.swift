import JobKernelCore

/// The running jobs, by id: the kernel's working set. Every other job lives only in the store.
///
/// Each job sits in a box of its own, so the table holds 8-byte references: growing it moves
/// references, not job values (a job is some 450 bytes), and changing a job writes its box in
/// place without touching the table.
struct OpenJobs {
    private final class Box {
        var job: Job { didSet { bytes = nil } }
        /// The job object's bytes, written at most once per change of the job.
        var bytes: JSON?
        /// The one unit of a job without items, as last written: its outcome needs no read.
        var unit: WorkUnit?
        init(_ job: Job) { self.job = job }
    }

    private var boxes: [Int64: Box] = [:]

    /// The running job `id`; setting nil forgets it.
    subscript(id: Int64) -> Job? {
        get { boxes[id]?.job }
        set {
            if let newValue {
                if let box = boxes[id] { box.job = newValue } else { boxes[id] = Box(newValue) }
            } else {
                boxes[id] = nil
            }
        }
    }

    /// The unit of the running job `id` without items; setting it on a job not kept does nothing.
    func unit(of id: Int64) -> WorkUnit? { boxes[id]?.unit }

    func setUnit(_ unit: WorkUnit) {
        boxes[unit.jobID]?.unit = unit
    }

    /// The job object of `job` as bytes, written once per change and then shared by every
    /// answer, lease and event that carries it. Nil when `job` is not the running job as kept.
    func serialized(_ job: Job) -> JSON? {
        guard let box = boxes[job.id], box.job == job else { return nil }
        if let bytes = box.bytes { return bytes }
        let bytes = JSON.serialized(SerializedJSON(bytes: job.serializedJSON()))
        box.bytes = bytes
        return bytes
    }
}
