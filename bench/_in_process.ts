/**
 * The cycle run inside the benchmark's own process (`deno task bench --in-process`): the
 * same engine calls `var run` makes (config parsing, the Vectra client, `runCycle`), with
 * knobs the CLI does not expose — the engine's concurrency — and several cycles on one
 * API client, as `--loop` would run them. Memory is not measured here (the fake brain
 * shares the heap). Private to `bench/`.
 *
 * @module
 */

import { CLIENTS } from "../clients/mod.ts";
import type { ResponseClient } from "../engine/client.ts";
import { parseConfig } from "../config.ts";
import type { Config } from "../config_types.ts";
import { runCycle } from "../engine/cycle.ts";
import { createVectraApi } from "../engine/vectra/mod.ts";
import type { VectraApi } from "../engine/vectra/api.ts";

/** One in-process cycle. */
export interface InProcessCycle {
  /** Wall time of the cycle, in ms. */
  readonly wallMs: number;
  readonly exitCode: number;
  /** Actions reported (records), by outcome. */
  readonly outcomes: Readonly<Record<string, number>>;
}

/** Options of {@linkcode InProcessVar}. */
export interface InProcessOptions {
  /** The `var.env` text. */
  readonly configText: string;
  /** Looks up the brain's secrets (`Token`, or `Client_ID` and `Secret_Key`). */
  readonly secret: (service: string, key: string) => Promise<string>;
  /**
   * Entities acted on, and API calls made, at once per brain (`runCycle`'s `concurrency`).
   * @default {4}
   */
  readonly concurrency?: number;
}

/** The engine of one `var` process, kept across cycles like `--loop` keeps it. */
export class InProcessVar implements AsyncDisposable {
  #api: VectraApi;
  #clients: ResponseClient[];
  #options: InProcessOptions;
  #config: Config;

  private constructor(
    api: VectraApi,
    clients: ResponseClient[],
    config: Config,
    options: InProcessOptions,
  ) {
    this.#api = api;
    this.#clients = clients;
    this.#config = config;
    this.#options = options;
  }

  /** Parses the configuration and creates the brain's API client and the clients. */
  static async create(options: InProcessOptions): Promise<InProcessVar> {
    const { config } = parseConfig(options.configText, { path: "bench.env", clients: CLIENTS });
    const brain = config.brains[0];
    if (brain === undefined) throw new RangeError("Cannot run the benchmark: no brain configured");
    const secret = options.secret;
    const api = createVectraApi(brain, {
      secret,
      uidCacheMinutes: config.accountGroupRefreshMinutes,
    });
    const clients: ResponseClient[] = [];
    for (const name of config.clients) {
      const definition = CLIENTS.find((c) => c.name === name);
      if (definition === undefined) continue;
      clients.push(
        await definition.create(config.clientConfigs.get(name), { secret, http: {} }),
      );
    }
    return new InProcessVar(api, clients, config, options);
  }

  /** Runs one cycle: a dry run (`plan`) or a run with the blast-radius limits confirmed. */
  async cycle(dryRun: boolean): Promise<InProcessCycle> {
    const started = performance.now();
    const result = await runCycle(
      this.#config,
      [{ brain: this.#config.brains[0]!, api: this.#api }],
      this.#clients,
      {
        dryRun,
        groom: false,
        now: new Date(),
        insideWindow: true,
        confirmBlastRadius: true,
        concurrency: this.#options.concurrency ?? 4,
      },
    );
    const outcomes: Record<string, number> = {};
    for (const a of result.actions) outcomes[a.outcome] = (outcomes[a.outcome] ?? 0) + 1;
    return { wallMs: performance.now() - started, exitCode: result.exitCode, outcomes };
  }

  /** Closes the API client and the clients. */
  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.allSettled(this.#clients.map((c) => c.close?.()));
    await this.#api.close();
  }
}
