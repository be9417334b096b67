/**
 * `deno task bench`: measures var's cycle against the fake brain at brain scale (issue 7).
 *
 * For each workload (S, M, L and the anchor of the original framework) it starts the fake
 * brain with generated data and injected latency, writes a `var.env` and a secrets
 * directory to a temporary folder, and runs `var plan`, `var run` (the first cycle, with
 * every tag and note write) and `var run` again (nothing changes) as subprocesses under
 * `deno run -P main.ts` — the binary's sandbox. Per cycle it prints the requests by
 * endpoint from the fake's request log, the API minimum for the policy (`_minimum.ts`),
 * the ratio, the wall time, the CPU time and the peak memory of the var process.
 *
 * ```sh
 * deno task bench                               # S, M, L and the anchor
 * deno task bench --size M                      # one size (fits a 10-minute shell)
 * deno task bench --size L --steps plan --repeat 3
 * deno task bench --size L --queries            # also list every query and its count
 * deno task bench --size M --in-process --concurrency 16
 * deno task bench --size M --api 3.4            # the Platform API (OAuth2, no bulk tagging)
 * deno task bench --size M --comma first,literal # the comma readings compared (default: all)
 * deno task bench --size XL --comma anyof       # 50k hosts, ~12,000 actions, a brain that
 *                                               # ignores undocumented parameters (issue 34)
 * ```
 *
 * After the cycles on a brain that reads a comma in a list filter as any-of, each workload
 * runs the three cycles again on a fresh brain for every other reading of `--comma`
 * (`literal`, `first`, `ignored`; `--comma none` skips them) and prints one table: the
 * requests of each cycle, their ratio to the API minimum (which assumes any-of lists), and
 * the entity actions of the first run, which must not depend on the reading.
 *
 * With `--repeat N` every workload runs N times on a fresh brain; wall and CPU times are
 * the best of N (other processes on a shared machine only ever add time), memory the
 * largest. `--in-process` runs the engine inside the benchmark (no memory figure; the
 * unchanged cycle reuses the API client as `--loop` does) to try engine settings the CLI
 * does not expose.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  COMMA_READINGS,
  type CommaReading,
  type FakeBrain,
  startFakeBrain,
} from "../demo/brain.ts";
import { secretFileName } from "../engine/secrets.ts";
import { type InProcessCycle, InProcessVar } from "./_in_process.ts";
import {
  type BrainData,
  type ListForms,
  type Minimum,
  minimumReads,
  writesPerAction,
} from "./_minimum.ts";
import { type ProcessResult, runMeasured } from "./_process.ts";
import { makeTempDir } from "./_tempdir.ts";
import { BINARY_V8_ARG } from "../scripts/binary_flags.ts";
import {
  type BenchApiVersion,
  policyText,
  type Workload,
  workloadData,
  WORKLOADS,
} from "./_workload.ts";

/**
 * The cycles measured per workload: `var plan`, the first `var run`, `var run` again with
 * nothing changed (cron: a new process), and `idle`, a cycle with nothing changed in a
 * `--loop` service (the engine kept in-process across cycles, as the service keeps it).
 */
type Step = "plan" | "run" | "unchanged" | "idle";
const STEPS: readonly Step[] = ["plan", "run", "unchanged", "idle"];

/** How one cycle of var ran (in-process runs have no memory or CPU figure). */
type Run = ProcessResult;

/** One measured cycle. */
interface StepResult {
  readonly step: Step;
  readonly runs: Run[];
  readonly counts: Map<string, number>;
  readonly queries: Map<string, number>;
  readonly total: number;
  readonly minimum: Minimum;
  /** Entity actions that wrote a note (run cycles). */
  readonly actions: number;
  readonly minimumTotal: number;
  /** Bytes of every answer the brain sent. */
  readonly bytes: number;
  /** Pages of list reads (`GET` of a list endpoint). */
  readonly listPages: number;
}

/** Options of {@linkcode benchWorkload}. */
interface BenchOptions {
  readonly steps: readonly Step[];
  /** Run the engine inside this process with this concurrency, instead of `var` subprocesses. */
  readonly inProcess: { readonly concurrency: number } | null;
  /** Print the list queries of each cycle. */
  readonly queries: boolean;
  /** Runs of the whole workload, each on a fresh brain. */
  readonly repeat: number;
  /** The API the fake brain speaks. */
  readonly api: BenchApiVersion;
  /** How the fake brain reads a comma in a list filter. */
  readonly comma: CommaReading;
  /** Other readings to compare the cycles under, after `comma`. */
  readonly compare: readonly CommaReading[];
}

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const TOKEN = "b".repeat(40);
const CLIENT_ID = "var-bench";
const CLIENT_SECRET = "c".repeat(32);

/** The secrets of the benchmark brain, by secret key. */
const SECRETS: Readonly<Record<string, string>> = {
  Token: TOKEN,
  Client_ID: CLIENT_ID,
  Secret_Key: CLIENT_SECRET,
};

function fmt(n: number): string {
  return n.toLocaleString("en-US");
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(2);
}

function brainData(brain: FakeBrain): BrainData {
  const hostGroup = (name: string) => brain.group(name, "host").hostIds;
  const accountGroup = (name: string) => brain.group(name, "account").values;
  return {
    hosts: brain.all("host"),
    accounts: brain.all("account"),
    detections: brain.all("detection"),
    hostGroups: { noBlock: hostGroup("NoBlock"), block: hostGroup("Block") },
    accountGroups: { noBlock: accountGroup("NoBlock"), block: accountGroup("Block") },
  };
}

function varArgs(step: Step, config: string, secretsDir: string): string[] {
  const command = step === "plan" ? "plan" : "run";
  // The V8 flags the compiled binary carries (`deno task compile`).
  const args = [
    "run",
    "-P",
    BINARY_V8_ARG,
    `${ROOT}/main.ts`,
    command,
    "--config",
    config,
  ];
  args.push("--secrets-dir", secretsDir, "--json", "--no-store-secrets");
  if (step === "run") args.push("--confirm-blast-radius");
  return args;
}

/** The list queries of the request log, without paging and `fields=`, with their counts. */
function queryCounts(brain: FakeBrain): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of brain.requests) {
    if (r.method !== "GET" || r.route.startsWith("/tagging")) continue;
    const params = new URLSearchParams(r.query);
    for (const name of ["fields", "page_size", "page"]) params.delete(name);
    const shown = [...params].map(([k, v]) => {
      if (k === "uid") return "uid=…";
      if (k === "id" || k === "host_id") return `${k}=<ids>`;
      return `${k}=${v}`;
    });
    const key = `${r.endpoint}?${shown.join("&")}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/**
 * The undocumented list forms the minimum may count on a brain: those var proves working
 * there (a comma read as any-of; `id=` only where the brain knows the parameter).
 */
function provenForms(comma: CommaReading, documentedOnly: boolean): ListForms {
  const anyOf = comma === "anyof";
  return { tags: anyOf, id: anyOf && !documentedOnly, hostId: anyOf };
}

/** `hosts` lists, `id=` lists, … as the bench prints which forms the minimum counted. */
function describeForms(forms: ListForms): string {
  const counted = [
    ...(forms.tags ? ["any-of tags= lists"] : []),
    ...(forms.id ? ["id= lists"] : []),
    ...(forms.hostId ? ["host_id= lists"] : []),
  ];
  return counted.length === 0
    ? "the API minimum counts documented forms only"
    : `the API minimum counts documented forms and ${
      counted.join(", ")
    }, which var proved working on this brain (its first cycle logs the reading)`;
}

const LIST_ENDPOINTS = new Set([
  "GET /hosts",
  "GET /accounts",
  "GET /detections",
  "GET /groups",
  "GET /entities",
]);

async function measureStep(
  step: Step,
  brain: FakeBrain,
  run: (step: Step) => Promise<Run>,
  oauth: boolean,
  context: { readonly forms: ListForms; readonly api: BenchApiVersion },
): Promise<StepResult> {
  const minimum = minimumReads(brainData(brain), { oauth, forms: context.forms });
  brain.clearRequests();
  const process = await run(step);
  const counts = brain.requestCounts();
  let total = 0;
  for (const n of counts.values()) total += n;
  let actions = 0;
  for (const [endpoint, n] of counts) {
    if (/^POST \/\w+\/\{id\}\/notes$/.test(endpoint)) actions += n;
  }
  const minimumTotal = minimum.reads + writesPerAction(context.api) * actions;
  let bytes = 0;
  let listPages = 0;
  for (const r of brain.requests) {
    bytes += r.bytes;
    if (LIST_ENDPOINTS.has(r.endpoint)) listPages++;
  }
  return {
    step,
    runs: [process],
    counts,
    queries: queryCounts(brain),
    total,
    minimum,
    actions,
    minimumTotal,
    bytes,
    listPages,
  };
}

function describeWorkload(w: Workload): string {
  const s = w.seed;
  return `${fmt(s.hosts)} hosts / ${fmt(s.accounts ?? 0)} accounts / ${
    fmt(s.detections ?? 0)
  } detections, ${s.groupMembers ?? 0}-member groups, ${w.latencyMs} ms latency`;
}

function best(values: readonly (number | null)[], pick: (a: number, b: number) => number) {
  const known = values.filter((v): v is number => v !== null);
  return known.length === 0 ? null : known.reduce((a, b) => pick(a, b));
}

function printStep(r: StepResult): void {
  const ratio = r.minimumTotal === 0 ? "-" : (r.total / r.minimumTotal).toFixed(2);
  const wall = best(r.runs.map((x) => x.wallMs), Math.min) ?? 0;
  const cpu = best(r.runs.map((x) => x.cpuS), Math.min);
  const peak = best(r.runs.map((x) => x.peakMiB), Math.max);
  const codes = [...new Set(r.runs.map((x) => x.code))].join(",");
  const perAction = r.actions === 0 ? "-" : (r.total / r.actions).toFixed(2);
  console.log(
    `| ${r.step} | ${fmt(r.total)} | ${fmt(r.minimumTotal)} | ${ratio} | ${
      fmt(r.actions)
    } | ${perAction} | ${fmt(r.listPages)} | ${(r.bytes / 1048576).toFixed(1)} | ${
      seconds(wall)
    } | ${cpu === null ? "-" : cpu.toFixed(2)} | ${
      peak === null ? "-" : peak.toFixed(0)
    } | ${codes} |`,
  );
}

/** Each pass's peak memory per cycle: the table shows the largest, this shows the spread. */
function printPeaks(results: readonly StepResult[]): void {
  console.log("");
  for (const r of results) {
    const peaks = r.runs.flatMap((x) => x.peakMiB === null ? [] : [x.peakMiB.toFixed(0)]);
    if (peaks.length > 0) console.log(`peak MiB of each ${r.step} pass: ${peaks.join(", ")}`);
  }
}

function printEndpoints(results: readonly StepResult[]): void {
  const endpoints = [...new Set(results.flatMap((r) => [...r.counts.keys()]))].sort();
  console.log(`\n| endpoint | ${results.map((r) => r.step).join(" | ")} |`);
  console.log(`|---|${results.map(() => "---:").join("|")}|`);
  for (const e of endpoints) {
    console.log(`| \`${e}\` | ${results.map((r) => fmt(r.counts.get(e) ?? 0)).join(" | ")} |`);
  }
}

function printQueries(results: readonly StepResult[]): void {
  const keys = [...new Set(results.flatMap((r) => [...r.queries.keys()]))].sort();
  console.log(`\n| list query | ${results.map((r) => r.step).join(" | ")} |`);
  console.log(`|---|${results.map(() => "---:").join("|")}|`);
  for (const k of keys) {
    console.log(`| \`${k}\` | ${results.map((r) => fmt(r.queries.get(k) ?? 0)).join(" | ")} |`);
  }
}

function printMinimum(m: Minimum): void {
  console.log(`\n| API minimum: what must be read | objects | requests |`);
  console.log(`|---|---:|---:|`);
  for (const line of m.lines) {
    console.log(`| ${line.what} | ${fmt(line.objects)} | ${fmt(line.requests)} |`);
  }
  console.log(`| **reads** | | **${fmt(m.reads)}** |`);
}

/** One pass over the steps on a fresh brain. */
async function onePass(w: Workload, options: BenchOptions): Promise<StepResult[]> {
  const data = workloadData(w);
  await using brain = await startFakeBrain({
    apiVersion: options.api,
    seed: data,
    token: TOKEN,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    latencyMs: w.latencyMs,
    maxPageSize: 5000,
    commaReading: options.comma,
    documentedOnly: w.documentedOnly ?? false,
  });
  await using dir = await makeTempDir();
  const text = policyText(brain.url, options.api);
  await dir.write("var.env", text);
  for (const [key, value] of Object.entries(SECRETS)) {
    await dir.write(secretFileName(brain.url, key), value);
  }
  const config = `${dir.path}/var.env`;
  await using engine = options.inProcess === null ? null : await InProcessVar.create({
    configText: text,
    secret: benchSecret,
    concurrency: options.inProcess.concurrency,
  });
  const run = async (step: Step): Promise<Run> => {
    if (engine === null) {
      return await runMeasured(Deno.execPath(), varArgs(step, config, dir.path), { cwd: ROOT });
    }
    return asRun(await engine.cycle(step === "plan"));
  };
  const results: StepResult[] = [];
  for (const step of STEPS) {
    if (!options.steps.includes(step) || step === "idle") continue;
    // In-process cycles share one API client, which keeps its token.
    const oauth = options.api !== "2.5" && (engine === null || step === "plan");
    const r = await measureStep(step, brain, run, oauth, {
      forms: provenForms(options.comma, w.documentedOnly ?? false),
      api: options.api,
    });
    results.push(r);
    const p = r.runs[0]!;
    if (p.code !== 0 && p.code !== 2) {
      console.log(`\nvar ${step} exited ${p.code}; its stderr:\n${p.stderr.slice(-4000)}`);
      console.log(`its stdout (end):\n${p.stdout.slice(-4000)}`);
    }
  }
  if (options.steps.includes("idle")) {
    results.push(await measureIdle(brain, text, options, w.documentedOnly ?? false));
  }
  return results;
}

/**
 * The idle cycle of a `--loop` service: an in-process engine runs one cycle (which reads
 * everything, as a service's first cycle does), then a second with nothing changed, which
 * is measured.
 */
async function measureIdle(
  brain: FakeBrain,
  configText: string,
  options: BenchOptions,
  documentedOnly: boolean,
): Promise<StepResult> {
  await using service = await InProcessVar.create({
    configText,
    secret: benchSecret,
    concurrency: options.inProcess?.concurrency ?? 8,
  });
  await service.cycle(false);
  return await measureStep(
    "idle",
    brain,
    async () => asRun(await service.cycle(false)),
    false,
    { forms: provenForms(options.comma, documentedOnly), api: options.api },
  );
}

/** An in-process cycle as a measured run (no process: no memory, CPU or output). */
function asRun(cycle: InProcessCycle): Run {
  return {
    code: cycle.exitCode,
    wallMs: cycle.wallMs,
    peakMiB: null,
    cpuS: null,
    stdout: "",
    stderr: "",
  };
}

/** The brain's secrets as the engine looks them up. */
function benchSecret(_service: string, key: string): Promise<string> {
  return Promise.resolve(SECRETS[key] ?? "");
}

async function benchWorkload(w: Workload, options: BenchOptions): Promise<StepResult[]> {
  console.log(
    `\n## ${w.name}: ${describeWorkload(w)}, API v${options.api}, comma read as ${options.comma}\n`,
  );
  let t = performance.now();
  workloadData(w);
  console.log(`seed generated in ${seconds(performance.now() - t)} s`);
  if (options.inProcess !== null) {
    console.log(`in-process engine, concurrency ${options.inProcess.concurrency}`);
  }
  t = performance.now();
  const passes: StepResult[][] = [];
  for (let i = 0; i < options.repeat; i++) passes.push(await onePass(w, options));
  const results = passes[0]!;
  for (const pass of passes.slice(1)) {
    pass.forEach((r, i) => {
      const first = results[i]!;
      first.runs.push(...r.runs);
      if (r.total !== first.total) {
        console.log(
          `note: ${r.step} made ${r.total} requests in a later pass, ${first.total} first`,
        );
      }
    });
  }
  console.log(
    `${options.repeat} pass(es) in ${seconds(performance.now() - t)} s; load ${loadAverage()}`,
  );
  console.log(
    "\n| cycle | requests | API minimum | ratio | entity actions | requests / action | " +
      "list pages | MiB read | wall s | CPU s | peak MiB | exit |",
  );
  console.log(`|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`);
  for (const r of results) printStep(r);
  if (options.repeat > 1) printPeaks(results);
  printEndpoints(results);
  if (options.queries) printQueries(results);
  const first = results[0];
  if (first) {
    console.log(`\n${describeForms(provenForms(options.comma, w.documentedOnly ?? false))}.`);
    printMinimum(first.minimum);
  }
  if (options.compare.length > 0) await compareReadings(w, options, results);
  return results;
}

/**
 * The cycles again on a fresh brain per other comma reading: requests, ratio to the API
 * minimum and entity actions per cycle, next to the reference reading's.
 */
async function compareReadings(
  w: Workload,
  options: BenchOptions,
  reference: readonly StepResult[],
): Promise<void> {
  const rows: [CommaReading, readonly StepResult[]][] = [[options.comma, reference]];
  for (const comma of options.compare) {
    rows.push([comma, await onePass(w, { ...options, comma, repeat: 1 })]);
  }
  const steps = reference.map((r) => r.step);
  console.log(`
| comma read as | ${steps.map((s) => `${s}: requests (ratio)`).join(" | ")} | ${
    steps.map((s) => `${s}: entity actions`).join(" | ")
  } |`);
  console.log(`|---|${steps.map(() => "---:").join("|")}|${steps.map(() => "---:").join("|")}|`);
  for (const [comma, results] of rows) {
    const ratio = (r: StepResult) =>
      r.minimumTotal === 0 ? "-" : (r.total / r.minimumTotal).toFixed(2);
    console.log(
      `| ${comma} | ${results.map((r) => `${fmt(r.total)} (${ratio(r)})`).join(" | ")} | ${
        results.map((r) => fmt(r.actions)).join(" | ")
      } |`,
    );
  }
}

function loadAverage(): string {
  try {
    return Deno.loadavg().map((n) => n.toFixed(2)).join(" ");
  } catch {
    return "unknown";
  }
}

/** `var version` as a process: the runtime and var's code, before anything is read. */
async function startup(): Promise<ProcessResult> {
  return await runMeasured(
    Deno.execPath(),
    ["run", "-P", BINARY_V8_ARG, `${ROOT}/main.ts`, "version"],
    { cwd: ROOT },
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      size: { type: "string", multiple: true },
      steps: { type: "string" },
      latency: { type: "string" },
      "in-process": { type: "boolean" },
      concurrency: { type: "string" },
      queries: { type: "boolean" },
      repeat: { type: "string" },
      api: { type: "string" },
      comma: { type: "string" },
    },
  });
  const commaList = (values.comma ?? COMMA_READINGS.join(",")).split(",").filter((c) =>
    c !== "none"
  );
  for (const comma of commaList) {
    if (!COMMA_READINGS.includes(comma as CommaReading)) {
      throw new RangeError(
        `Cannot read a comma as "${comma}": use ${COMMA_READINGS.join(", ")} or none`,
      );
    }
  }
  const comma = (commaList[0] ?? "anyof") as CommaReading;
  const compare = commaList.slice(1) as CommaReading[];
  const api = (values.api ?? "2.5") as BenchApiVersion;
  if (api !== "2.5" && api !== "3.4") {
    throw new RangeError(`Cannot benchmark API "${values.api}": use 2.5 or 3.4`);
  }
  const sizes = (values.size ?? ["S", "M", "L", "anchor"]).flatMap((s) => s.split(","));
  const steps = (values.steps ?? STEPS.join(",")).split(",") as Step[];
  const repeat = Number(values.repeat ?? 1);
  for (const size of sizes) {
    if (!WORKLOADS[size]) throw new RangeError(`Cannot run size "${size}": use S, M, L or anchor`);
  }
  for (const step of steps) {
    if (!STEPS.includes(step)) {
      throw new RangeError(`Cannot run step "${step}": use plan, run, unchanged or idle`);
    }
  }
  if (!Number.isInteger(repeat) || repeat < 1) {
    throw new RangeError(`Cannot repeat "${values.repeat}" times: use a whole number from 1`);
  }
  console.log(`# var cycle benchmark`);
  console.log(
    `\n${Deno.build.target}, ${navigator.hardwareConcurrency} cores, deno ${Deno.version.deno}, load ${loadAverage()}`,
  );
  await startup(); // warm the module cache
  const base = await startup();
  console.log(
    `var startup (\`var version\` under deno run -P ${BINARY_V8_ARG}): ${
      seconds(base.wallMs)
    } s, ` +
      `peak ${base.peakMiB === null ? "-" : base.peakMiB.toFixed(0)} MiB`,
  );
  for (const size of sizes) {
    const base = WORKLOADS[size]!;
    const w = values.latency === undefined ? base : { ...base, latencyMs: Number(values.latency) };
    await benchWorkload(w, {
      steps,
      inProcess: values["in-process"] ? { concurrency: Number(values.concurrency ?? 4) } : null,
      queries: values.queries ?? false,
      repeat,
      api,
      comma,
      compare,
    });
  }
}

if (import.meta.main) await main();
