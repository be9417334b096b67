/**
 * Cycle reports for the service, health, metrics and notification tests.
 *
 * @module
 */

import type { ActionRecord, BrainReport, CycleReport } from "../../engine/report.ts";

/** An action record with sensible defaults (a confirmed host block on fortinet). */
export function action(overrides: Partial<ActionRecord> = {}): ActionRecord {
  return {
    brain: "brain-a.example",
    kind: "host",
    entityId: 42,
    entityName: "pc-42",
    client: "fortinet",
    operation: "block",
    elements: ["10.1.2.3"],
    outcome: "ok",
    reasons: ["tag vectra_host_block"],
    message: "Blocked host 42, pc-42, 10.1.2.3 with client fortinet",
    category: "Info",
    ...overrides,
  };
}

/** A brain report that ended `ok`, two hosts blocked. */
export function brainReport(overrides: Partial<BrainReport> = {}): BrainReport {
  return {
    brain: "brain-a.example",
    result: "ok",
    skippedKinds: [],
    blockedCounts: { host: 2, account: 0, detection: 1 },
    refusedCounts: { host: 0, account: 0, detection: 0 },
    limitsTripped: [],
    startedAt: new Date(Date.UTC(2026, 10, 28, 4, 0, 0)),
    durationMs: 1500,
    ...overrides,
  };
}

/** A cycle report built from brains and actions. */
export function cycleReport(overrides: Partial<CycleReport> = {}): CycleReport {
  return {
    brains: [brainReport()],
    actions: [],
    messages: [],
    acted: true,
    exitCode: 0,
    startedAt: new Date(Date.UTC(2026, 10, 28, 4, 0, 0)),
    durationMs: 1500,
    ...overrides,
  };
}
