/**
 * Runs a command as a subprocess and measures it: wall time, exit code, and peak resident
 * memory — the kernel's maximum resident set as `/usr/bin/time` reports it when installed,
 * else `VmHWM` of `/proc/<pid>/status` sampled while it runs (the value only grows, so the
 * last sample is the peak, up to one sampling interval early). Private to `bench/`.
 *
 * @module
 */

/** What a measured subprocess did. */
export interface ProcessResult {
  readonly code: number;
  readonly wallMs: number;
  /** Peak resident set in MiB, or null where `/proc` is not available. */
  readonly peakMiB: number | null;
  /** User plus system CPU time in seconds (from `/usr/bin/time`), or null. */
  readonly cpuS: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@linkcode runMeasured}. */
export interface RunMeasuredOptions {
  /** Working directory. @default {the current one} */
  cwd?: string;
  /**
   * How often `/proc/<pid>/status` is read, in ms.
   * @default {20}
   */
  sampleMs?: number;
  /**
   * Kill the process after this long, in ms.
   * @default {600000}
   */
  timeoutMs?: number;
}

const TIME = "/usr/bin/time";
const MARK = "VAR_BENCH_MAX_RSS_KIB=";

async function hasTimeCommand(): Promise<boolean> {
  try {
    return (await Deno.stat(TIME)).isFile;
  } catch {
    return false;
  }
}

async function readHwmKiB(pid: number): Promise<number | null> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return match?.[1] === undefined ? null : Number(match[1]);
  } catch {
    return null;
  }
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  let length = 0;
  for (const c of chunks) length += c.length;
  const all = new Uint8Array(length);
  let offset = 0;
  for (const c of chunks) {
    all.set(c, offset);
    offset += c.length;
  }
  return new TextDecoder().decode(all);
}

/** Runs `command args`, returns its output, wall time and peak memory. */
export async function runMeasured(
  command: string,
  args: readonly string[],
  options: RunMeasuredOptions = {},
): Promise<ProcessResult> {
  const { sampleMs = 20, timeoutMs = 600_000 } = options;
  const timed = await hasTimeCommand();
  const started = performance.now();
  const child = new Deno.Command(timed ? TIME : command, {
    args: timed ? ["-f", `${MARK}%M %U %S`, command, ...args] : [...args],
    ...(options.cwd ? { cwd: options.cwd } : {}),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = drain(child.stdout);
  const stderr = drain(child.stderr);
  let peakKiB: number | null = null;
  let running = true;
  const timeout = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, timeoutMs);
  const sampler = (async () => {
    while (running && !timed) {
      const kib = await readHwmKiB(child.pid);
      if (kib !== null) peakKiB = Math.max(peakKiB ?? 0, kib);
      await new Promise((resolve) => setTimeout(resolve, sampleMs));
    }
  })();
  const status = await child.status;
  const wallMs = performance.now() - started;
  running = false;
  clearTimeout(timeout);
  await sampler;
  let errText = await stderr;
  let cpuS: number | null = null;
  if (timed) {
    const at = errText.lastIndexOf(MARK);
    if (at >= 0) {
      const [rss = "", user = "", system = ""] = errText.slice(at + MARK.length).trim().split(
        /\s+/,
      );
      peakKiB = Number(rss);
      cpuS = Number(user) + Number(system);
      errText = errText.slice(0, at);
    }
  }
  return {
    code: status.code,
    wallMs,
    peakMiB: peakKiB === null || Number.isNaN(peakKiB) ? null : peakKiB / 1024,
    cpuS: cpuS === null || Number.isNaN(cpuS) ? null : cpuS,
    stdout: await stdout,
    stderr: errText,
  };
}
