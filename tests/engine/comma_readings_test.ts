import assert from "node:assert/strict";
import { COMMA_READINGS, type CommaReading } from "../../demo/brain.ts";
import { generateSeed, type SeedData } from "../../demo/seed.ts";
import { type Plan, plan } from "../../engine/plan.ts";
import { select } from "../../engine/select.ts";
import { startEngine, testClientAs } from "./_engine_harness.ts";
import { testConfig } from "./_policy.ts";

const HIGH = { threat: 80, op: "and", certainty: 80 } as const;

/** A 300-host brain with every criterion populated, and blocks that no longer apply. */
function brainData(): SeedData {
  const data = generateSeed({
    hosts: 300,
    accounts: 120,
    detections: 900,
    groupMembers: 10,
    taggedFraction: 0.05,
    scoredFraction: 0.06,
    blockedFraction: 0.06,
    taggedDetectionFraction: 0.03,
  }, 7);
  // Detections already blocked (some of high-score hosts, some no longer matching) and an
  // interrupted block, so that every tag of the detection query has entities behind it.
  const detections = data.detections.map((d, i) => {
    if (i % 40 === 3) {
      return { ...d, tags: [...d.tags, "VAR Detection Blocked", `VAR ID:Test Client:d-${d.id}`] };
    }
    if (i % 97 === 5) return { ...d, tags: [...d.tags, "VAR Pending:Test Client:block"] };
    return d;
  });
  const hosts = data.hosts.map((h) =>
    h.id % 61 === 0 ? { ...h, tags: [...h.tags, "VAR Pending:Test Client:block"] } : h
  );
  return { ...data, hosts, detections };
}

const CONFIG = testConfig({
  host: { threatCertainty: HIGH, urgency: null },
  account: { threatCertainty: HIGH, urgency: null },
  detection: { hostThreatCertainty: HIGH },
  limits: { maxBlocksPerCycle: 10_000, maxBlockedTotal: 10_000, maxUnblocksPerCycle: 10_000 },
});

/** Every decision of a plan, one line each, sorted: kind, id, operation, clients. */
function decisions(p: Plan): string[] {
  return [p.host, p.account, p.detection].flatMap((k) => [
    `${k.kind} status ${k.status}`,
    ...k.entries.map((e) =>
      `${e.kind} ${e.entity.id} ${e.operation} ${
        e.steps.map((s) => `${s.tagName}:${s.mode}:${s.elements.join("+")}`).join(",")
      }`
    ),
  ]).sort();
}

async function decide(version: "2.5" | "3.4", reading: CommaReading): Promise<string[]> {
  await using h = await startEngine(brainData(), version, reading);
  const snapshot = await select(h.api, CONFIG, { clientTags: ["Test Client"] });
  const first = decisions(plan(snapshot, CONFIG, { clients: [testClientAs()] }));
  // A second read, with whatever the first one learned of the brain, decides the same.
  const again = await select(h.api, CONFIG, { clientTags: ["Test Client"] });
  assert.deepEqual(decisions(plan(again, CONFIG, { clients: [testClientAs()] })), first);
  return first;
}

for (const version of ["2.5", "3.4"] as const) {
  Deno.test(`select() and plan() decide the same whichever way a ${version} brain reads a comma`, async () => {
    const reference = await decide(version, "anyof");
    for (const kind of ["host", "account", "detection"]) {
      for (const operation of ["block", "unblock"]) {
        assert.ok(
          reference.some((line) => line.startsWith(`${kind} `) && line.includes(` ${operation} `)),
          `the data must make var ${operation} some ${kind}`,
        );
      }
    }
    for (const reading of COMMA_READINGS.filter((r) => r !== "anyof")) {
      assert.deepEqual(await decide(version, reading), reference, `comma read ${reading}`);
    }
  });
}
