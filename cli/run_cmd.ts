/**
 * `var run` and `var plan`: wires the configuration, secrets, brains and clients, then runs
 * one cycle or, with `--loop`, the service (engine.md §7).
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { CLIENTS } from "../clients/mod.ts";
import type { ResponseClient } from "../engine/client.ts";
import type { ClientContext } from "../clients/interface.ts";
import { findClientDefinition } from "../config.ts";
import { type BrainRuntime, planLines, runCycle } from "../engine/cycle.ts";
import { createHealthApp, HealthState, serveHealth } from "../engine/health.ts";
import { escapeControls, redactText } from "../engine/log.ts";
import { ServiceMetrics } from "../engine/metrics.ts";
import { notifyCycle } from "../engine/notify.ts";
import { installShutdownSignals, runService } from "../engine/service.ts";
import { createVectraApi } from "../engine/vectra/mod.ts";
import { type CommonOptions, openContext } from "./context.ts";
import { brainSecrets, emailSecrets } from "./required_secrets.ts";

/** Options of `var run` (and `var plan`, which is `run --dry-run`). */
export interface RunOptions extends CommonOptions {
  /** `--loop`: run cycles until stopped. */
  loop?: boolean;
  /** `--groom`: groom blocked hosts. */
  groom?: boolean;
  /** `--dry-run` (the original's `--alert`): decide and report, change nothing. */
  dryRun?: boolean;
  /** `--confirm-blast-radius`: act beyond the blast-radius limits this once. */
  confirmBlastRadius?: boolean;
  /**
   * Send the cycle's syslog and email notifications (dry runs too, unlike the original's
   * `--alert`); `var plan`, an interactive preview, turns it off.
   * @default {true}
   */
  notify?: boolean;
}

const encoder = new TextEncoder();

/** Runs `var run`; resolves to the exit code (0, 2 or 3). Throws on configuration or secret errors. */
export async function runCommand(options: RunOptions): Promise<number> {
  const context = await openContext(options);
  const { config, secrets } = context;
  const logger = getLogger(["var", "main"]);
  const loop = options.loop ?? false;
  const dryRun = options.dryRun ?? false;

  // The brains' and the email secrets up front: a missing one stops the run before anything
  // is contacted. Clients look theirs up in create() (some have alternatives, e.g. PAN-OS
  // credentials instead of an API key), which also runs before any Vectra call.
  const upFront = [...config.brains.flatMap(brainSecrets), ...emailSecrets(config)];
  for (const ref of upFront) await secrets.lookup(ref.service, ref.key);

  const metrics = new ServiceMetrics();
  const controller = new AbortController();
  const http = { counter: metrics };
  const brains: BrainRuntime[] = [];
  const clients: ResponseClient[] = [];
  let server: Deno.HttpServer<Deno.NetAddr> | null = null;
  let removeSignals = () => {};
  try {
    for (const brain of config.brains) {
      const api = await createVectraApi(brain, {
        secret: secrets.lookup,
        http,
        caFile: config.vectraCaFile,
        verifyTls: config.vectraVerifyTls,
        // One cycle per process remembers nothing across cycles anyway.
        uidCacheMinutes: loop ? config.accountGroupRefreshMinutes : 0,
      });
      brains.push({ brain, api });
    }
    const clientContext: ClientContext = {
      secret: secrets.lookup,
      findSecret: secrets.findStored,
      http,
      signal: controller.signal,
      ...(options.storeSecrets === false ? {} : { storeSecret: secrets.store }),
    };
    for (const name of config.clients) {
      const definition = findClientDefinition(name, CLIENTS);
      if (definition === undefined) continue;
      clients.push(await definition.create(config.clientConfigs.get(name), clientContext));
    }
    const health = new HealthState(brains.map((b) => b.api.brain), {
      sleepMinutes: config.sleepMinutes,
    });
    if (loop) {
      removeSignals = installShutdownSignals(controller);
      if (config.healthListen !== null) {
        server = serveHealth(config.healthListen, createHealthApp(health, metrics));
      }
    }
    logger.info("Starting {mode} with {brains} brain(s) and clients {clients}", {
      mode: `${loop ? "loop" : "single run"}${dryRun ? " (dry run)" : ""}`,
      brains: brains.length,
      clients: config.clients.join(", "),
    });
    const result = await runService({
      window: config.window,
      sleepMinutes: config.sleepMinutes,
      loop,
      signal: controller.signal,
      cycle: async (now, signal, insideWindow) => {
        const report = await runCycle(config, brains, clients, {
          dryRun,
          groom: options.groom ?? false,
          now,
          insideWindow,
          confirmBlastRadius: options.confirmBlastRadius ?? false,
          signal,
        });
        if (!loop) {
          // names come from Vectra: in text, a line break in one must not forge a line
          const json = options.json ?? false;
          await writeLines(planLines(report, { json }), json ? redactText : escapedLine);
        }
        return report;
      },
      onReport: async (report) => {
        metrics.recordCycle(report);
        health.recordCycle(report);
        if (options.notify === false) return;
        const sent = await notifyCycle(report, config, secrets.lookup);
        if (sent.syslog !== null && !sent.syslog.ok) metrics.recordNotificationFailure("syslog");
        if (sent.email !== null && !sent.email.ok) metrics.recordNotificationFailure("email");
      },
    });
    return result.exitCode;
  } finally {
    removeSignals();
    await server?.shutdown();
    await Promise.allSettled(clients.map((c) => c.close?.()));
    await Promise.allSettled(brains.map((b) => b.api.close()));
  }
}

/** A text line as printed: a line break or control character in a name forges no line. */
function escapedLine(line: string): string {
  return redactText(escapeControls(line));
}

/** Writes lines to stdout in blocks of about 64 KiB, each line passed through `shape`. */
async function writeLines(lines: Iterable<string>, shape: (line: string) => string) {
  let block = "";
  for (const line of lines) {
    block += `${shape(line)}\n`;
    if (block.length >= 65_536) {
      await writeAll(block);
      block = "";
    }
  }
  if (block !== "") await writeAll(block);
}

async function writeAll(text: string): Promise<void> {
  const bytes = encoder.encode(text);
  for (let written = 0; written < bytes.length;) {
    written += await Deno.stdout.write(bytes.subarray(written));
  }
}
