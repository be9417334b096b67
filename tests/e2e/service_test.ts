import assert from "node:assert/strict";
import { type FakeBrain, startFakeBrain } from "../../demo/brain.ts";
import { seed } from "../../demo/seed.ts";
import { secretFileName } from "../../engine/secrets.ts";
import { BINARY_V8_ARG } from "../../scripts/binary_flags.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function until<T>(
  what: string,
  probe: () => Promise<T | null>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function get(url: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url);
  return { status: response.status, text: await response.text() };
}

/** `deno run -P main.ts run --loop` against v2.5 token brains, in a temp folder. */
async function startLoop(brains: readonly FakeBrain[]) {
  const dir = await Deno.makeTempDir({ prefix: "var-e2e-service-" });
  await Deno.mkdir(`${dir}/secrets`);
  for (const brain of brains) {
    await Deno.writeTextFile(
      `${dir}/secrets/${secretFileName(brain.url, "Token")}`,
      `${brain.credentials.token}\n`,
    );
  }
  await Deno.writeTextFile(
    `${dir}/var.env`,
    [
      `COGNITO_URL=${brains.map((brain) => brain.url).join(",")}`,
      "AUTH=TOKEN",
      "THIRD_PARTY_CLIENTS=test_client",
      "SLEEP_MINUTES=0.02",
      "HEALTH_LISTEN=127.0.0.1:0",
      "BLOCK_TYPES=host",
      "NO_BLOCK_HOST_GROUP_NAME=",
      "BLOCK_HOST_GROUP_NAME=",
      "",
    ].join("\n"),
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-P",
      "--no-prompt",
      BINARY_V8_ARG,
      `${ROOT}main.ts`,
      "run",
      "--loop",
      "--config",
      `${dir}/var.env`,
      "--secrets-dir",
      `${dir}/secrets`,
    ],
    cwd: dir,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) output += chunk;
  };
  const pumps = Promise.all([collect(child.stdout), collect(child.stderr)]);
  let exited = false;
  child.status.then(() => {
    exited = true;
  });
  return {
    child,
    /** True once the process has exited. */
    exited: () => exited,
    output: () => output,
    /** The health endpoint's base URL, read from the log. */
    healthUrl: () =>
      until("the health address in the log", () => {
        const match = /Health endpoint listening on "?(http:\/\/127\.0\.0\.1:\d+)/.exec(output);
        return Promise.resolve(match?.[1] ?? null);
      }),
    /** Waits for the exit (within 20 s) and returns the exit code. */
    async exitCode(): Promise<number> {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), 20_000);
      });
      const status = await Promise.race([child.status, timeout]);
      clearTimeout(timer);
      if (status === null) throw new Error("main.ts did not exit within 20 s");
      await pumps;
      return status.code;
    },
    /** Kills the process if it still runs, removes the folder, prints the log on failure. */
    async stop(passed: boolean): Promise<void> {
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited
      }
      await child.status;
      await pumps;
      if (!passed) console.error(output);
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("main.ts run --loop serves two brains, exposes /metrics and /ready, stops on SIGTERM", async () => {
  await using good = await startFakeBrain({
    apiVersion: "2.5",
    seed: seed().host({ name: "ward-3-pc", tags: ["vectra_host_block"] }),
  });
  await using bad = await startFakeBrain({ apiVersion: "2.5" });
  // Every call answers 403 (a role without permission): fails fast, without retries.
  bad.fault({ kind: "status", status: 403 }, { times: Infinity });
  const service = await startLoop([good, bad]);
  let passed = false;
  try {
    const base = await service.healthUrl();
    // Hosts as regular expression text (127\.0\.0\.1:port).
    const goodHost = new URL(good.url).host.replaceAll(".", "\\.");
    const badHost = new URL(bad.url).host.replaceAll(".", "\\.");

    const health = await get(`${base}/health`);
    assert.equal(health.status, 200);

    // Two cycles of each brain, so the loop has slept and started again.
    const metrics = await until("two cycles of each brain in /metrics", async () => {
      const { text } = await get(`${base}/metrics`);
      const cycles = (brain: string, result: string) =>
        Number(
          new RegExp(`^var_cycles_total\\{brain="${brain}",result="${result}"\\} (\\d+)$`, "m")
            .exec(text)?.[1] ?? 0,
        );
      return cycles(goodHost, "ok") >= 2 && cycles(badHost, "failed") >= 2 ? text : null;
    });
    assert.match(
      metrics,
      new RegExp(`^var_blocked_entities\\{brain="${goodHost}",kind="host"\\} 1$`, "m"),
    );
    assert.match(
      metrics,
      /^var_actions_total\{kind="host",client="test_client",operation="block",outcome="ok"\} 1$/m,
    );
    assert.match(
      metrics,
      new RegExp(`^var_last_success_timestamp_seconds\\{brain="${goodHost}"\\} \\d`, "m"),
    );
    assert.doesNotMatch(
      metrics,
      new RegExp(`^var_last_success_timestamp_seconds\\{brain="${badHost}"\\}`, "m"),
    );
    assert.match(metrics, /^var_api_requests_total\{system="[^"]+",status="4xx"\} \d+$/m);
    assert.doesNotMatch(metrics, /ward-3-pc/);

    const ready = await get(`${base}/ready`);
    assert.equal(ready.status, 503);
    assert.match(ready.text, new RegExp(`^${badHost}: last cycle ended failed`, "m"));
    assert.doesNotMatch(ready.text, new RegExp(`^${goodHost}:`, "m"));
    assert.ok(good.tags("host", "ward-3-pc").includes("VAR Host Blocked"));

    service.child.kill("SIGTERM");
    assert.equal(await service.exitCode(), 0);
    passed = true;
  } finally {
    await service.stop(passed);
  }
});

Deno.test("main.ts run --loop finishes the action in progress on SIGTERM, writes its state, exits 0", async () => {
  await using brain = await startFakeBrain({
    apiVersion: "2.5",
    seed: seed().host({ name: "icu-2-monitor", tags: ["vectra_host_block"] }),
  });
  // The block's last state write (its intent removed) is held: SIGTERM arrives in the
  // middle of the action.
  const held = brain.fault({ kind: "hold" }, { method: "DELETE", path: "/tagging/host" });
  const service = await startLoop([brain]);
  let passed = false;
  try {
    await until("the held tag write", () => Promise.resolve(held.hits > 0 ? true : null));
    service.child.kill("SIGTERM");
    // The service waits for the action: it must still be running while the write is held.
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(service.exited(), false, "it exited before the held action finished");
    brain.release();
    assert.equal(await service.exitCode(), 0);
    const tags = brain.tags("host", "icu-2-monitor");
    assert.ok(
      tags.includes("VAR Host Blocked") && !tags.some((t) => t.startsWith("VAR Pending")),
      `the block's state was written: ${tags.join(", ")}`,
    );
    assert.match(service.output(), /Received SIGTERM/);
    passed = true;
  } finally {
    await service.stop(passed);
  }
});
