/**
 * Benchmark (not a test) of one full read of a brain: 5,000 hosts, 2,000 accounts and
 * 20,000 detections on the fake brain with 5 ms latency per request. Runs the queries a
 * cycle with every criterion switched on needs (engine.md §4.1, done the var way: group
 * members and detections of hosts in batches) and prints the requests per endpoint, the
 * wall time, and the API minimum (one request per query and page of 5,000, plus the token).
 *
 * Run: `deno run -P=benchmark bench/read.ts [2.5|3.4]`
 *
 * @module
 */

import { startFakeBrain } from "../demo/brain.ts";
import { generateSeed } from "../demo/seed.ts";
import { CountingRequestCounter } from "../engine/http.ts";
import type { VectraApi } from "../engine/vectra/api.ts";
import { createVectraApi } from "../engine/vectra/mod.ts";
import { MAX_PAGE_SIZE } from "../engine/vectra/shared.ts";

const HOSTS = 5000;
const ACCOUNTS = 2000;
const DETECTIONS = 20_000;
const LATENCY_MS = 5;

/** One query of the read, with the number of objects it returned. */
interface QueryResult {
  readonly name: string;
  readonly count: number;
  /** The fewest requests this query can take, when not one per page of 5,000. */
  readonly minimum?: number;
}

/** One full read: what a cycle with every criterion on asks for. */
async function fullRead(api: VectraApi): Promise<QueryResult[]> {
  const results: QueryResult[] = [];
  const record = async <T>(name: string, query: Promise<T[]>, minimum?: number) => {
    const list = await query;
    results.push({ name, count: list.length, ...(minimum !== undefined ? { minimum } : {}) });
    return list;
  };
  const hostSide = (async () => {
    const [noBlock, block] = await Promise.all([
      record("host group NoBlock", api.groupsByName("NoBlock", "host")),
      record("host group Block", api.groupsByName("Block", "host")),
    ]);
    const memberIds = [...noBlock, ...block].flatMap((group) => group.hostIds);
    const [, , scored, , typed] = await Promise.all([
      record("hosts of groups", api.hostsByIds(memberIds)),
      record("hosts tagged", api.listHosts({ tag: "vectra_host_block" })),
      record("hosts scored", api.listHosts({ threatGte: 80, certaintyGte: 80 })),
      record("hosts blocked", api.listHosts({ tag: "VAR Host Blocked" })),
      record(
        "detections of a type",
        api.listDetections({ detectionType: "Hidden DNS Tunnel", state: "active" }),
      ),
    ]);
    const noBlockIds = noBlock.flatMap((group) => group.hostIds);
    const typedHostIds = typed.flatMap((detection) =>
      detection.hostId === null ? [] : [detection.hostId]
    );
    await Promise.all([
      record("source hosts of typed detections", api.hostsByIds(typedHostIds)),
      record(
        "detections of no-block hosts",
        api.listDetections({ hostIds: noBlockIds, state: "active", isTriaged: false }),
      ),
      record(
        "detections of scored hosts",
        api.listDetections({ hostIds: scored.map((host) => host.id), state: "active" }),
      ),
    ]);
  })();
  const accountSide = (async () => {
    const [noBlock, block] = await Promise.all([
      record("account group NoBlock", api.groupsByName("NoBlock", "account")),
      record("account group Block", api.groupsByName("Block", "account")),
    ]);
    // The uid lookup has no batch form: one request per distinct uid at least.
    const uids = [...noBlock, ...block].flatMap((group) => group.accountUids);
    await Promise.all([
      record("accounts of groups", api.accountsByUids(uids), new Set(uids).size),
      record("accounts tagged", api.listAccounts({ tag: "vectra_account_block" })),
      record("accounts scored", api.listAccounts({ threatGte: 80, certaintyGte: 80 })),
      record("accounts blocked", api.listAccounts({ tag: "VAR Account Blocked" })),
    ]);
  })();
  const detectionSide = Promise.all([
    record("detections tagged", api.listDetections({ tag: "block" })),
    record("detections blocked", api.listDetections({ tag: "VAR Detection Blocked" })),
  ]);
  await Promise.all([hostSide, accountSide, detectionSide]);
  return results;
}

async function main(version: "2.5" | "3.4"): Promise<void> {
  const data = generateSeed({
    hosts: HOSTS,
    accounts: ACCOUNTS,
    detections: DETECTIONS,
    groupMembers: 100,
  });
  await using brain = await startFakeBrain({
    apiVersion: version,
    seed: data,
    latencyMs: LATENCY_MS,
  });
  const counter = new CountingRequestCounter();
  const credentials = brain.credentials;
  const api = createVectraApi(
    { entry: "bench", baseUrl: brain.url, apiVersion: version, auth: "oauth" },
    {
      secret: (_service, key) =>
        Promise.resolve(key === "Client_ID" ? credentials.clientId : credentials.clientSecret),
      http: { counter },
    },
  );
  try {
    const started = performance.now();
    const results = await fullRead(api);
    const wallMs = performance.now() - started;
    console.log(
      `One full read of a v${version} brain: ${HOSTS} hosts, ${ACCOUNTS} accounts, ` +
        `${DETECTIONS} detections, ${LATENCY_MS} ms latency per request`,
    );
    console.log("\nRequests by endpoint:");
    const counts = [...brain.requestCounts()].sort((a, b) => b[1] - a[1]);
    for (const [endpoint, count] of counts) {
      console.log(`  ${String(count).padStart(6)}  ${endpoint}`);
    }
    const total = counts.reduce((sum, [, count]) => sum + count, 0);
    // The minimum: one request per query and page, plus one token request.
    let minimum = 1;
    for (const result of results) {
      minimum += result.minimum ?? Math.max(1, Math.ceil(result.count / MAX_PAGE_SIZE));
    }
    console.log("\nObjects per query:");
    for (const result of results) {
      console.log(`  ${String(result.count).padStart(6)}  ${result.name}`);
    }
    console.log(`\nRequests: ${total} (client counted ${counter.total()}), API minimum ${minimum}`);
    console.log(`Wall time: ${wallMs.toFixed(0)} ms`);
  } finally {
    await api.close();
  }
}

const arg = Deno.args[0] ?? "3.4";
if (arg !== "2.5" && arg !== "3.4") {
  console.error(`Cannot run the benchmark: "${arg}" is not an API version; use 2.5 or 3.4`);
  Deno.exit(2);
}
await main(arg);
