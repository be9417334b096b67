/**
 * `var demo`: starts the fake brain with the demo data set (a hospital), runs one cycle
 * with the test client against it, and prints the plan with its reasons and the actions.
 * Needs no configuration, no secrets and no network beyond 127.0.0.1.
 *
 * @module
 */

import { CLIENTS } from "../clients/mod.ts";
import { testClient } from "../clients/test_client.ts";
import type { SecretLookup } from "../engine/secrets.ts";
import { parseConfig } from "../config.ts";
import { formatPlan, runCycle } from "../engine/cycle.ts";
import { setupLogging } from "../engine/log.ts";
import { createVectraApi } from "../engine/vectra/mod.ts";
import { startFakeBrain } from "./brain.ts";
import { demoSeed } from "./seed.ts";

/** Options for {@linkcode runDemo}. */
export interface DemoOptions {
  /**
   * Log DEBUG lines too.
   * @default {false}
   */
  readonly debug?: boolean;
  /**
   * One JSON object per action on stdout, and JSON log lines.
   * @default {false}
   */
  readonly json?: boolean;
  /**
   * Receives the printed output.
   * @default {writes to stdout}
   */
  readonly write?: (text: string) => void;
  /**
   * Set up logging (to stderr).
   * @default {true}
   */
  readonly setupLogging?: boolean;
}

const encoder = new TextEncoder();

function writeStdout(text: string): void {
  const bytes = encoder.encode(text);
  let offset = 0;
  while (offset < bytes.length) offset += Deno.stdout.writeSync(bytes.subarray(offset));
}

/** The demo's policy: the original's defaults with scores 50/50 switched on. */
function demoEnv(url: string): string {
  return [
    `COGNITO_URL=${url}`,
    "VECTRA_API_VERSION=3.4",
    "THIRD_PARTY_CLIENTS=test_client",
    "TEST_CLIENT_DETERMINISTIC=true",
    "BLOCK_TYPES=host,account,detection",
    "BLOCK_HOST_THREAT_CERTAINTY=50 and 50",
    "BLOCK_HOST_URGENCY=",
    "BLOCK_ACCOUNT_THREAT_CERTAINTY=50 and 50",
    "BLOCK_ACCOUNT_URGENCY=",
    "",
  ].join("\n");
}

/**
 * Runs the demo and resolves to the cycle's exit code (0 when every action succeeded).
 *
 * @example
 * ```ts
 * Deno.exitCode = await runDemo({ json: false });
 * ```
 */
export async function runDemo(options: DemoOptions = {}): Promise<number> {
  const { debug = false, json = false, write = writeStdout } = options;
  if (options.setupLogging ?? true) await setupLogging({ json, debug, stream: "stderr" });
  const brain = await startFakeBrain({ apiVersion: "3.4", seed: demoSeed() });
  try {
    const { config } = parseConfig(demoEnv(brain.url), { path: "demo.env", clients: CLIENTS });
    const brainConfig = config.brains[0];
    if (!brainConfig) throw new Error("Cannot start the demo: the demo configuration has no brain");
    const credentials = brain.credentials;
    const secret: SecretLookup = (_service, key) =>
      key === "Client_ID"
        ? Promise.resolve(credentials.clientId)
        : key === "Secret_Key"
        ? Promise.resolve(credentials.clientSecret)
        : Promise.reject(new Error(`Cannot find the demo secret "${key}"`));
    const api = createVectraApi(brainConfig, { secret });
    const client = await testClient.create(
      config.clientConfigs.get("test_client") as Parameters<typeof testClient.create>[0],
    );
    try {
      const now = new Date();
      const report = await runCycle(config, [{ brain: brainConfig, api }], [client], {
        dryRun: false,
        groom: false,
        now,
        insideWindow: true,
        confirmBlastRadius: false,
      });
      if (!json) {
        write(
          `var demo: one cycle against a simulated hospital brain at ${brain.url} ` +
            `(${brain.all("host").length} hosts, ${brain.all("account").length} accounts, ` +
            `${brain.all("detection").length} detections) with the test client.\n` +
            "Policy: block tags, the Block groups, threat and certainty >= 50; NoBlock " +
            "groups protect.\n\n",
        );
      }
      write(formatPlan(report, { json }));
      return report.exitCode;
    } finally {
      await client.close?.();
      await api.close();
    }
  } finally {
    await brain.close();
  }
}
