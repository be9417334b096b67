/**
 * Runs `main.ts` as a subprocess under `deno run -P` (the binary's own sandbox) for the
 * end-to-end tests.
 *
 * @module
 */

import { BINARY_V8_ARG } from "../../scripts/binary_flags.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** The repository root (holds deno.json and main.ts). */
export const REPO_ROOT: string = ROOT;

/** What a finished `main.ts` run gave. */
export interface MainResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@linkcode runMain}. */
export interface RunMainOptions {
  /** Text given on stdin (stdin is closed when absent). */
  stdin?: string;
  /** The working directory. @default {the repository root} */
  cwd?: string;
  /** Extra environment variables (inherited anyway by child processes). */
  env?: Record<string, string>;
  /** Kills the run after this many milliseconds. @default {60000} */
  timeoutMs?: number;
}

/** Runs `deno run -P main.ts ...args` and collects its output. */
export async function runMain(args: string[], options: RunMainOptions = {}): Promise<MainResult> {
  return await runDeno(["run", "-P", `${ROOT}main.ts`, ...args], options);
}

/**
 * Runs `deno ...args` with the repository's deno.json; a `deno run` gets the binary's V8
 * flags too, so what it proves holds for the compiled binary.
 */
export async function runDeno(args: string[], options: RunMainOptions = {}): Promise<MainResult> {
  const command = args[0] ?? "run";
  const flags = command === "run" ? [BINARY_V8_ARG] : [];
  const child = new Deno.Command(Deno.execPath(), {
    args: [command, "--quiet", ...flags, "--config", `${ROOT}deno.json`, ...args.slice(1)],
    cwd: options.cwd ?? ROOT,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    ...(options.env ? { env: options.env } : {}),
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already ended
    }
  }, options.timeoutMs ?? 60_000);
  try {
    if (options.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(options.stdin));
      await writer.close();
    }
    const out = await child.output();
    return {
      code: out.code,
      stdout: new TextDecoder().decode(out.stdout),
      stderr: new TextDecoder().decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}
