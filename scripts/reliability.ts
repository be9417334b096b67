/**
 * Regenerates the reliability evidence of issue 6: runs the crash-consistency, fail-closed
 * and hostile-input tests (`deno test -P`, JUnit report plus the figures the tests print as
 * `RELIABILITY {...}` lines), and prints `docs/reliability.md` on stdout. Progress goes to
 * stderr. Exits 1 when a test failed (the document then lists the failures).
 *
 * ```sh
 * deno task reliability        # deno run -P=benchmark scripts/reliability.ts > docs/reliability.md
 * ```
 *
 * Needs net, run, read and env (the `benchmark` permission set); writes nothing itself.
 *
 * @module
 */

import { XMLParser } from "fast-xml-parser";

/** The test files whose results and figures the document reports. */
export const RELIABILITY_TESTS: readonly string[] = [
  "tests/e2e/kill_test.ts",
  "tests/e2e/hostile_test.ts",
  "tests/engine/hostile_input_test.ts",
  "tests/engine/vectra/faults_test.ts",
  "tests/engine/hostile_addresses_test.ts",
];

/** One test case of the JUnit report. */
export interface TestResult {
  readonly file: string;
  readonly name: string;
  readonly passed: boolean;
  /** The first line of the failure, when failed. */
  readonly failure: string | null;
  readonly seconds: number;
}

/** What one run of the reliability tests produced. */
export interface ReliabilityRun {
  readonly results: readonly TestResult[];
  /** Every `RELIABILITY {...}` object, merged in order (later keys win). */
  readonly figures: Readonly<Record<string, unknown>>;
  readonly exitCode: number;
  readonly seconds: number;
}

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");

/** Extracts the `RELIABILITY {...}` figures from a test run's output. */
export function parseFigures(output: string): Record<string, unknown> {
  const figures: Record<string, unknown> = {};
  for (const line of output.split("\n")) {
    const match = /^RELIABILITY (\{.*\})\s*$/.exec(line);
    if (!match) continue;
    try {
      Object.assign(figures, JSON.parse(match[1] ?? "{}"));
    } catch {
      // A line cut short is not a figure.
    }
  }
  return figures;
}

type XmlCase = {
  "@_name": string;
  "@_classname": string;
  "@_time"?: string;
  failure?: unknown;
};

/** Reads the test cases of a JUnit document (`deno test --junit-path`). */
export function parseJunit(xml: string): TestResult[] {
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: "@_",
    isArray: (name) => ["testsuite", "testcase"].includes(name),
  });
  const doc = parser.parse(xml) as {
    testsuites?: { testsuite?: { testcase?: XmlCase[] }[] };
  };
  const results: TestResult[] = [];
  for (const suite of doc.testsuites?.testsuite ?? []) {
    for (const test of suite.testcase ?? []) {
      const failure = test.failure === undefined ? null : failureText(test.failure);
      results.push({
        file: test["@_classname"].replace(/^\.\//, ""),
        name: test["@_name"],
        passed: failure === null,
        failure,
        seconds: Number(test["@_time"] ?? 0),
      });
    }
  }
  return results;
}

function failureText(failure: unknown): string {
  const text = typeof failure === "string"
    ? failure
    : typeof failure === "object" && failure !== null
    ? String((failure as Record<string, unknown>)["@_message"] ?? "failed")
    : "failed";
  return (text.split("\n")[0] ?? "failed").replace(/^Uncaught /, "").trim();
}

/** Runs the reliability tests once and collects results and figures. */
export async function runReliabilityTests(
  files: readonly string[] = RELIABILITY_TESTS,
): Promise<ReliabilityRun> {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "-P", "--parallel", "--junit-path=/dev/stdout", ...files],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
    env: { NO_COLOR: "1" },
  });
  const { code, stdout } = await child.output();
  const output = new TextDecoder().decode(stdout);
  const start = output.indexOf("<?xml");
  const end = output.lastIndexOf("</testsuites>");
  if (start < 0 || end < 0) {
    throw new Error(
      `Cannot read the test results: deno test wrote no JUnit report (exit ${code})`,
    );
  }
  return {
    results: parseJunit(output.slice(start, end + "</testsuites>".length)),
    figures: parseFigures(output.slice(0, start)),
    exitCode: code,
    seconds: (performance.now() - started) / 1000,
  };
}

function num(figures: Readonly<Record<string, unknown>>, key: string): string {
  const value = figures[key];
  return typeof value === "number" ? String(value) : "not measured (the test did not finish)";
}

function list(figures: Readonly<Record<string, unknown>>, key: string): string[] {
  const value = figures[key];
  return Array.isArray(value) ? value.map(String) : [];
}

function escapeCell(text: string): string {
  return text.replaceAll("|", "\\|").replace(/\s+/g, " ").slice(0, 300);
}

/** Renders `docs/reliability.md` from a run. */
export function renderReport(
  run: ReliabilityRun,
  meta: { date: Date; deno: string; commit: string },
): string {
  const f = run.figures;
  const passed = run.results.filter((r) => r.passed).length;
  const failed = run.results.filter((r) => !r.passed);
  const files = [...new Set(run.results.map((r) => r.file))];
  const points = Array.isArray(f.points)
    ? (f.points as { name?: unknown; converged?: unknown }[])
    : [];
  const lines: string[] = [
    "# Reliability evidence",
    "",
    "<!-- Generated by `deno task reliability` (scripts/reliability.ts); do not edit by hand. -->",
    "",
    `Generated ${meta.date.toISOString()} with Deno ${meta.deno} at commit ${meta.commit}, ` +
    `from ${run.results.length} tests in ${files.length} files (${passed} passed, ` +
    `${failed.length} failed) in ${run.seconds.toFixed(0)} s.`,
    "",
    "Every figure below was printed by a test during this run; a figure a test did not reach",
    "says so. The tests drive the real program (`deno run -P main.ts run`, the binary's",
    "permission set) against the stateful fake Vectra brain and fake FortiGate on 127.0.0.1.",
    "",
    "## Figures",
    "",
    "| Figure | Value |",
    "|---|---|",
    `| Kill points tried (SIGKILL of \`main.ts run\` at a step boundary) | ${
      num(f, "killPoints")
    } |`,
    `| … of which converged on the next cycle | ${num(f, "converged")} |`,
    `| … in a block (including blocks undone on the next cycle) | ${num(f, "blockKillPoints")} |`,
    `| … in an unblock (including unblocks re-blocked on the next cycle) | ${
      num(f, "unblockKillPoints")
    } |`,
    `| Lost blocks after the next cycle (kill points) | ${num(f, "lostBlocks")} |`,
    `| Orphaned firewall objects after the next cycle (kill points) | ${
      num(f, "orphanedObjects")
    } |`,
    `| Fault kinds injected per Vectra read call | ${num(f, "readFaultKinds")} (on ${
      num(f, "readCallsFaulted")
    } calls: ${num(f, "readFaultRuns")} runs, ${
      num(f, "readFaultRunsFailedClosed")
    } blocked and unblocked nothing) |`,
    `| Fault kinds injected on the FortiGate | ${num(f, "firewallFaultKinds")} |`,
    `| Malformed and hostile inputs tried (unit and engine level) | ${num(f, "malformedInputs")} |`,
    `| Hostile host records driven end to end | ${num(f, "hostileNamesEndToEnd")} |`,
    `| Hostile address kinds tried (host, detection destination, static line; FortiGate and PAN-OS) | ${
      num(f, "hostileAddressKinds")
    } |`,
    `| … of which reached a device | ${num(f, "hostileAddressesReachingDevice")} |`,
    "",
  ];
  if (points.length > 0) {
    lines.push("## Kill points", "");
    lines.push(
      "Each point: a proxy holds the request of that step before the fake sees it (`during`,",
      "`before`) or after the fake answered (`after`), var is killed with SIGKILL, the next",
      "cycle runs to completion, and the test asserts the brain's tags (marker, `VAR ID`, no",
      "`VAR Pending:`), the FortiGate's objects and group members, and the notes; a third",
      "cycle must change nothing.",
      "",
      "| Kill point | Converged |",
      "|---|---|",
    );
    for (const p of points) {
      lines.push(`| ${escapeCell(String(p.name))} | ${p.converged === true ? "yes" : "**no**"} |`);
    }
    lines.push("");
  }
  const readFaults = list(f, "readFaultNames");
  const readCalls = list(f, "readCallNames");
  const fwFaults = list(f, "firewallFaultNames");
  if (readFaults.length > 0 || fwFaults.length > 0) {
    lines.push("## Faults injected", "");
    if (readFaults.length > 0) {
      lines.push(
        `Vectra reads (${readCalls.join("; ")}), each fault on every request of that call:`,
        "",
        ...readFaults.map((name) => `- ${name}`),
        "",
      );
    }
    if (fwFaults.length > 0) {
      lines.push("FortiGate:", "", ...fwFaults.map((name) => `- ${name}`), "");
    }
  }
  lines.push(
    "## Scope and known limits",
    "",
    "- Kill points cover one host, one brain (API v2.5) and the FortiGate client; the intent",
    "  tags and their resolution are client-independent, the undo and redo paths use each",
    "  client's idempotent, name-derived operations.",
    "- A kill after the state tag write and before the note loses that action's audit note",
    "  (the tags are complete, so nothing is redone); the kill test pins this: 0 notes at",
    "  those points, exactly 1 everywhere else.",
    "- Vectra faults are injected on every request of one read call at a time; FortiGate",
    "  faults on every call.",
    "",
  );
  lines.push("## Tests", "", "| File | Passed | Failed |", "|---|---|---|");
  for (const file of files) {
    const mine = run.results.filter((r) => r.file === file);
    lines.push(
      `| ${file} | ${mine.filter((r) => r.passed).length} | ${
        mine.filter((r) => !r.passed).length
      } |`,
    );
  }
  lines.push("");
  if (failed.length > 0) {
    lines.push("## Failing tests", "", "Each is a defect found by this evidence, still open:", "");
    for (const r of failed) {
      lines.push(`- \`${r.file}\` — ${escapeCell(r.name)}: ${escapeCell(r.failure ?? "failed")}`);
    }
    lines.push("");
  }
  return lines.join("\n");
}

async function gitCommit(): Promise<string> {
  try {
    const { code, stdout } = await new Deno.Command("git", {
      args: ["rev-parse", "--short", "HEAD"],
      cwd: ROOT,
      stdout: "piped",
      stderr: "null",
    }).output();
    return code === 0 ? new TextDecoder().decode(stdout).trim() : "unknown";
  } catch {
    return "unknown";
  }
}

if (import.meta.main) {
  console.error(`Running ${RELIABILITY_TESTS.join(", ")} ...`);
  const run = await runReliabilityTests();
  const text = renderReport(run, {
    date: new Date(),
    deno: Deno.version.deno,
    commit: await gitCommit(),
  });
  const encoded = new TextEncoder().encode(text);
  let offset = 0;
  while (offset < encoded.length) offset += Deno.stdout.writeSync(encoded.subarray(offset));
  const failed = run.results.filter((r) => !r.passed).length;
  console.error(`${run.results.length - failed} passed, ${failed} failed`);
  Deno.exit(failed > 0 || run.exitCode !== 0 ? 1 : 0);
}
