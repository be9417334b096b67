/**
 * The shared end-to-end harness: the fake brain (`demo/brain.ts`) and a fake FortiGate
 * (`tests/fakes/fortinet.ts`), each behind a loopback proxy that can hold one request
 * before or after the fake handled it (a deterministic kill point); a `var.env` and a
 * secrets directory in a temporary folder; and `deno run -P main.ts run` as a real
 * subprocess under the binary's permission set. Output is captured and printed only when
 * a test fails. Private to `tests/e2e/`.
 *
 * @module
 */

import { type FakeBrain, type FakeBrainOptions, startFakeBrain } from "../../demo/brain.ts";
import { seed as seedBuilder, type SeedData } from "../../demo/seed.ts";
import { secretFileName } from "../../engine/secrets.ts";
import { BINARY_V8_ARG } from "../../scripts/binary_flags.ts";
import { type FakeFortiGateServer, startFakeFortiGate } from "../fakes/fortinet.ts";

/** The repository root (where `deno.json` and `main.ts` live). */
export const REPO_ROOT: string = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** The FortiGate API token the fake accepts. */
export const FORTI_TOKEN = "fgt-e2e-token-9Qx2";

/** The group var adds blocked hosts to (the client's default). */
export const INTERNAL_GROUP = "Internal-Block";

/** When a held request stops: before the fake sees it, or after it answered. */
export type HoldPhase = "before" | "after";

/** Which request to hold. */
export interface HoldMatch {
  /** HTTP method, upper case. */
  readonly method: string;
  /** Matched against the path (without query). */
  readonly path: RegExp;
  /**
   * Which matching request to hold, counting from 1.
   * @default {1}
   */
  readonly nth?: number;
}

/** A request the proxy will hold, or holds. */
export interface Hold {
  /** Resolves when the matching request is held. */
  readonly reached: Promise<void>;
  /** True once the request is held. */
  readonly isReached: boolean;
  /**
   * Lets the held request go on. With `drop`, a request held before the fake is answered
   * 502 without reaching the fake (its sender is dead by then).
   */
  release(drop?: boolean): void;
}

interface HoldRule {
  readonly match: HoldMatch;
  readonly phase: HoldPhase;
  seen: number;
  reached: boolean;
  resolveReached: () => void;
  released: Promise<boolean>;
  resolveReleased: (drop: boolean) => void;
}

/** One request the proxy saw: `POST /api/v2/cmdb/firewall/address`. */
export interface ProxiedRequest {
  readonly method: string;
  readonly path: string;
}

/**
 * A loopback HTTP proxy in front of one fake. It forwards every request and can hold one
 * matching request (see {@linkcode HoldingProxy.hold}). The fake's origin in answers is
 * rewritten to the proxy's, so `next` links stay on the origin var talks to.
 */
export class HoldingProxy {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** Every request, in arrival order. */
  readonly requests: ProxiedRequest[] = [];
  #upstream: string;
  #server: Deno.HttpServer<Deno.NetAddr>;
  #rules: HoldRule[] = [];

  constructor(upstream: string) {
    this.#upstream = upstream.replace(/\/$/, "");
    this.#server = Deno.serve(
      {
        hostname: "127.0.0.1",
        port: 0,
        onListen() {},
        onError: () => new Response(null, { status: 502 }),
      },
      (request) => this.#handle(request),
    );
    this.port = this.#server.addr.port;
    this.url = `http://127.0.0.1:${this.port}`;
  }

  /** Holds the `nth` request matching `match`, `before` the fake sees it or `after` it answered. */
  hold(match: HoldMatch, phase: HoldPhase): Hold {
    let resolveReached = () => {};
    let resolveReleased = (_drop: boolean) => {};
    const reached = new Promise<void>((resolve) => (resolveReached = resolve));
    const released = new Promise<boolean>((resolve) => (resolveReleased = resolve));
    const rule: HoldRule = {
      match,
      phase,
      seen: 0,
      reached: false,
      resolveReached,
      released,
      resolveReleased,
    };
    this.#rules.push(rule);
    return {
      reached,
      get isReached() {
        return rule.reached;
      },
      release: (drop = false) => {
        this.#rules = this.#rules.filter((r) => r !== rule);
        rule.resolveReleased(drop);
      },
    };
  }

  /** Releases every hold (dropping the held requests) and stops listening. */
  async close(): Promise<void> {
    for (const rule of this.#rules) rule.resolveReleased(true);
    this.#rules = [];
    await this.#server.shutdown();
  }

  async #handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const method = request.method.toUpperCase();
    this.requests.push({ method, path: url.pathname });
    const body = request.body ? new Uint8Array(await request.arrayBuffer()) : null;
    const rule = this.#matchRule(method, url.pathname);
    if (rule?.phase === "before") {
      rule.reached = true;
      rule.resolveReached();
      const drop = await rule.released;
      if (drop) return new Response("held request dropped", { status: 502 });
    }
    const headers = new Headers(request.headers);
    headers.delete("host");
    headers.delete("content-length");
    const upstream = await fetch(`${this.#upstream}${url.pathname}${url.search}`, {
      method,
      headers,
      ...(body === null ? {} : { body }),
    });
    const text = (await upstream.text()).replaceAll(this.#upstream, this.url);
    const answer = new Headers(upstream.headers);
    answer.delete("content-length");
    answer.delete("content-encoding");
    if (rule?.phase === "after") {
      rule.reached = true;
      rule.resolveReached();
      await rule.released;
    }
    const empty = upstream.status === 204 || upstream.status === 304;
    return new Response(empty ? null : text, { status: upstream.status, headers: answer });
  }

  #matchRule(method: string, path: string): HoldRule | null {
    for (const rule of this.#rules) {
      if (rule.reached || rule.match.method !== method || !rule.match.path.test(path)) continue;
      rule.seen++;
      if (rule.seen === (rule.match.nth ?? 1)) return rule;
    }
    return null;
  }
}

/** What one `var` run produced. */
export interface VarRun {
  /** Exit code; null when killed by a signal. */
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  /** True when the harness killed it at a hold. */
  readonly killed: boolean;
  /** The JSON log lines and action records of stdout, parsed. */
  readonly lines: readonly Record<string, unknown>[];
}

/** Options of {@linkcode World.run}. */
export interface RunVarOptions {
  /** Extra arguments after `run` (e.g. `--confirm-blast-radius`). */
  readonly args?: readonly string[];
  /**
   * Log as JSON lines (`--json`); false logs text lines.
   * @default {true}
   */
  readonly json?: boolean;
  /** SIGKILL the process when this hold is reached, then drop the held request. */
  readonly killAt?: Hold;
  /**
   * Longest a run may take before the test fails, in ms.
   * @default {60000}
   */
  readonly timeoutMs?: number;
}

/** Options of {@linkcode startWorld}. */
export interface WorldOptions {
  /** The brain's data. */
  readonly seed: SeedData | { build(): SeedData };
  /** Extra or overriding `var.env` keys. */
  readonly env?: Readonly<Record<string, string>>;
  /** Further fake brain options (e.g. `maxPageSize` to force paging). */
  readonly brain?: Omit<FakeBrainOptions, "apiVersion" | "seed">;
}

/** A fake brain and a fake FortiGate behind proxies, and how to run var against them. */
export interface World extends AsyncDisposable {
  readonly brain: FakeBrain;
  readonly forti: FakeFortiGateServer;
  readonly brainProxy: HoldingProxy;
  readonly fortiProxy: HoldingProxy;
  /** The temporary folder holding `var.env` and `secrets/`. */
  readonly dir: string;
  readonly configPath: string;
  readonly secretsDir: string;
  /** Every run so far with its output, for the failure transcript. */
  readonly transcript: string[];
  /** Runs `var run` once as a subprocess. */
  run(options?: RunVarOptions): Promise<VarRun>;
  /** Rewrites `var.env` with these keys changed. */
  setEnv(env: Readonly<Record<string, string>>): Promise<void>;
  close(): Promise<void>;
}

/** The `var.env` keys every e2e world starts from: host blocking by tag through fortinet. */
export function baseEnv(brainUrl: string, fortiPort: number): Record<string, string> {
  return {
    COGNITO_URL: brainUrl,
    AUTH: "TOKEN",
    VECTRA_API_VERSION: "2.5",
    THIRD_PARTY_CLIENTS: "fortinet",
    BLOCK_TYPES: "host",
    HEALTH_LISTEN: "",
    BLOCK_HOST_TAG: "vectra_host_block",
    NO_BLOCK_HOST_GROUP_NAME: "",
    BLOCK_HOST_GROUP_NAME: "",
    NO_BLOCK_ACCOUNT_GROUP_NAME: "",
    BLOCK_ACCOUNT_GROUP_NAME: "",
    FORTINET_IP: "http://127.0.0.1",
    FORTINET_PORT: String(fortiPort),
    FORTINET_CHECK_SSL: "false",
  };
}

function renderEnv(env: Readonly<Record<string, string>>): string {
  return Object.entries(env).map(([k, v]) => `${k}=${v}`).join("\n") + "\n";
}

/** Starts the fakes and their proxies and writes `var.env` and the secrets directory. */
export async function startWorld(options: WorldOptions): Promise<World> {
  const brain = await startFakeBrain({ ...options.brain, apiVersion: "2.5", seed: options.seed });
  const forti = startFakeFortiGate({ token: FORTI_TOKEN });
  const brainProxy = new HoldingProxy(brain.url);
  const fortiProxy = new HoldingProxy(forti.url);
  const dir = await Deno.makeTempDir({ prefix: "var_e2e_" });
  const configPath = `${dir}/var.env`;
  const secretsDir = `${dir}/secrets`;
  let env: Record<string, string> = {
    ...baseEnv(brainProxy.url, fortiProxy.port),
    ...options.env,
  };
  await Deno.mkdir(secretsDir, { mode: 0o700 });
  await Deno.writeTextFile(
    `${secretsDir}/${secretFileName(env.COGNITO_URL ?? "", "Token")}`,
    `${brain.credentials.token}\n`,
    { mode: 0o600 },
  );
  await Deno.writeTextFile(
    `${secretsDir}/${secretFileName("Fortinet", "127.0.0.1")}`,
    FORTI_TOKEN,
    {
      mode: 0o600,
    },
  );
  await Deno.writeTextFile(configPath, renderEnv(env));
  const transcript: string[] = [];
  let runs = 0;

  const world: World = {
    brain,
    forti,
    brainProxy,
    fortiProxy,
    dir,
    configPath,
    secretsDir,
    transcript,
    async setEnv(changes) {
      env = { ...env, ...changes };
      await Deno.writeTextFile(configPath, renderEnv(env));
    },
    async run(runOptions = {}) {
      runs++;
      const result = await runVar(configPath, secretsDir, runOptions);
      transcript.push(
        `--- run ${runs}${runOptions.args?.length ? ` ${runOptions.args.join(" ")}` : ""}: ` +
          `code ${result.code} signal ${result.signal}${result.killed ? " (killed)" : ""}\n` +
          `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`,
      );
      return result;
    },
    async close() {
      await brainProxy.close();
      await fortiProxy.close();
      await brain.close();
      await forti.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
    [Symbol.asyncDispose]() {
      return world.close();
    },
  };
  return world;
}

const decoder = new TextDecoder();

async function drain(stream: ReadableStream<Uint8Array>): Promise<string> {
  const chunks: string[] = [];
  for await (const chunk of stream) chunks.push(decoder.decode(chunk, { stream: true }));
  chunks.push(decoder.decode());
  return chunks.join("");
}

function parseLines(stdout: string): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  for (const line of stdout.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // A line cut by SIGKILL: not a record.
    }
  }
  return lines;
}

/** Runs `deno run -P main.ts run --config <file> --secrets-dir <dir> --json` once (a subprocess). */
export async function runVar(
  configPath: string,
  secretsDir: string,
  options: RunVarOptions = {},
): Promise<VarRun> {
  const { timeoutMs = 60_000 } = options;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-P",
      "--quiet",
      BINARY_V8_ARG,
      "main.ts",
      "run",
      "--config",
      configPath,
      "--secrets-dir",
      secretsDir,
      ...(options.json === false ? [] : ["--json"]),
      ...(options.args ?? []),
    ],
    cwd: REPO_ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const stdout = drain(child.stdout);
  const stderr = drain(child.stderr);
  let killed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    if (options.killAt) {
      const first = await Promise.race([
        options.killAt.reached.then(() => "reached" as const),
        child.status.then(() => "exited" as const),
        timedOut,
      ]);
      if (first === "reached") {
        child.kill("SIGKILL");
        killed = true;
      } else if (first === "timeout") {
        child.kill("SIGKILL");
      }
    }
    const status = await Promise.race([child.status, timedOut]);
    if (status === "timeout") {
      child.kill("SIGKILL");
      await child.status;
      throw new Error(`Cannot finish var run: it ran longer than ${timeoutMs} ms`);
    }
    // The process is gone: a request held before the fake never reaches it.
    options.killAt?.release(true);
    const out = await stdout;
    return {
      code: status.signal === null ? status.code : null,
      signal: status.signal,
      stdout: out,
      stderr: await stderr,
      killed,
      lines: parseLines(out),
    };
  } finally {
    clearTimeout(timer);
    options.killAt?.release(true);
    await Promise.allSettled([stdout, stderr]);
  }
}

/** Runs `fn`; when it throws, prints the world's transcript first. */
export async function withTranscript<T>(world: World, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    console.error(world.transcript.join("\n"));
    console.error("brain requests:", world.brainProxy.requests.map((r) => `${r.method} ${r.path}`));
    console.error("forti requests:", world.fortiProxy.requests.map((r) => `${r.method} ${r.path}`));
    throw error;
  }
}

/** Runs `tasks` with at most `concurrency` at once; results in order. */
export async function pool<T>(
  tasks: readonly (() => Promise<T>)[],
  concurrency: number,
): Promise<PromiseSettledResult<T>[]> {
  const results: PromiseSettledResult<T>[] = new Array(tasks.length);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < tasks.length) {
      const index = next++;
      const task = tasks[index] as () => Promise<T>;
      try {
        results[index] = { status: "fulfilled", value: await task() };
      } catch (reason) {
        results[index] = { status: "rejected", reason };
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker));
  return results;
}

/** Prints a figure for `scripts/reliability.ts`: `RELIABILITY {"name":value,...}`. */
export function emitFigures(figures: Readonly<Record<string, unknown>>): void {
  console.log(`RELIABILITY ${JSON.stringify(figures)}`);
}

/** Var's object name for a host IP on the FortiGate. */
export function hostObject(ip: string): string {
  return `var-host-${ip}`;
}

/** The names of var-made objects (`var-` prefix) in the fake FortiGate's IPv4 table. */
export function varObjects(world: World): string[] {
  return [...world.forti.fake.vdom().address.keys()].filter((n) => n.startsWith("var-")).sort();
}

/** The members of the internal group on the fake FortiGate. */
export function internalMembers(world: World): string[] {
  return [...(world.forti.fake.members(INTERNAL_GROUP) ?? [])].sort();
}

/** Notes on a host whose text starts with `prefix`. */
export function notesStarting(world: World, host: string, prefix: string): number {
  return world.brain.notes("host", host).filter((n) => n.note.startsWith(prefix)).length;
}

export { seedBuilder as seed };
