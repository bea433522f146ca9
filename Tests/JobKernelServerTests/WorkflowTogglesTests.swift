import JobKernelCore
import Testing
@testable import JobKernelServer

/// `settings.get` and `settings.set` take only the toggles `[workflow]` declares; any other key
/// is -32602 naming `key`, with the closest declared toggle and the declared list
/// (protocol/protocol.md, Settings).
@Suite struct WorkflowTogglesTests {
    let toggles = WorkflowToggles(declared: ["publishing", "auto_publish", "scanning"])

    @Test(arguments: ["workflow.publishing", "workflow.auto_publish", "workflow.scanning"])
    func aDeclaredToggleIsAccepted(key: String) {
        #expect(toggles.declares(key))
        #expect(toggles.refusal(of: key) == nil)
    }

    /// key → the suggestion the refusal makes (nil: none).
    @Test(arguments: [
        ("workflow.publsihing", "publishing"),      // two letters swapped
        ("workflow.publishin", "publishing"),       // one left out
        ("workflow.Publishing", "publishing"),      // case
        ("workflow.autopublish", "auto_publish"),
        ("workflow.scaning", "scanning"),
        ("workflow.publish", "publishing"),         // three left out of ten
        ("workflow.publication", nil),              // too far from every name
        ("workflow.brand_new", nil),
        ("workflow.x", nil),
    ] as [(String, String?)])
    func anUndeclaredToggleIsRefusedWithTheClosestName(key: String, suggestion: String?) throws {
        let error = try #require(toggles.refusal(of: key))
        #expect(error.code == -32602)
        #expect(error.data?["field"] == "key")
        #expect(error.message.contains("\"\(key)\""))
        if let suggestion {
            #expect(error.message.contains("did you mean workflow.\(suggestion)?"))
        } else {
            #expect(!error.message.contains("did you mean"))
        }
        #expect(error.message.contains("declares workflow.auto_publish, workflow.publishing, workflow.scanning"))
    }

    @Test(arguments: ["publishing", "workflow.", "workflow.a b", "workflow.é", "paused", "types.slow.concurrency",
                      "workflow." + String(repeating: "a", count: 65)])
    func aKeyOfAnotherShapeIsRefusedAndSaysWhatKeysAre(key: String) throws {
        let error = try #require(toggles.refusal(of: key))
        #expect(error.code == -32602)
        #expect(error.data?["field"] == "key")
        #expect(error.message.contains("keys are workflow.<name>"))
    }

    @Test func withNoToggleDeclaredTheRefusalSaysSo() throws {
        let error = try #require(WorkflowToggles(declared: []).refusal(of: "workflow.publishing"))
        #expect(error.message.contains("declares no toggles"))
        #expect(!error.message.contains("did you mean"))
    }

    @Test(arguments: [
        ("", "", 0), ("abc", "abc", 0), ("abc", "", 3), ("", "ab", 2), ("kitten", "sitting", 3),
        ("publsihing", "publishing", 1), ("ab", "ba", 1), ("abc", "ca", 3),
    ] as [(String, String, Int)])
    func editDistanceCountsASwapOnce(a: String, b: String, expected: Int) {
        #expect(WorkflowToggles.distance(a, b) == expected)
        #expect(WorkflowToggles.distance(b, a) == expected)
    }

    @Test func tiesGoToTheFirstNameInOrder() {
        let t = WorkflowToggles(declared: ["abcd", "abce"])
        #expect(t.closest(to: "abcf") == "abcd")
    }
}
