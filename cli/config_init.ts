/**
 * `var config init`: the interactive helper (the original's `var_config_helper.py`). It asks
 * for the brains, the auth mode, the kinds of blocking, the policy of each kind, the window
 * and the clients with each client's keys, validating every answer as it is given; offers
 * to store the secrets in the keychain; and prints the finished `var.env` on stdout. Prompts
 * go to stderr, so `var config init > var.env` works. Without a terminal the answers are read
 * from stdin, one per line.
 *
 * @module
 */

import { CLIENTS } from "../clients/mod.ts";
import type { ClientDefinition } from "../clients/interface.ts";
import {
  AggregateConfigError,
  configTemplate,
  CORE_KEYS,
  findClientDefinition,
  parseConfig,
} from "../config.ts";
import { type Keychain, platformKeychain, terminalPrompt } from "../engine/secrets.ts";
import { UsageError } from "./exit_codes.ts";
import { requiredSecrets } from "./required_secrets.ts";

/** The terminal (or pipe) the helper talks through. */
export interface InitIo {
  /** Reads one answer line; null at the end of the input. */
  readLine(): Promise<string | null>;
  /** Reads a secret: without echo on a terminal, else the next line. */
  readSecret(prompt: string): Promise<string | null>;
  /** Writes prompts and messages (stderr). */
  say(text: string): Promise<void>;
}

/** Options of {@linkcode configInit}. */
export interface ConfigInitOptions {
  /**
   * The client definitions.
   * @default {CLIENTS}
   */
  clients?: readonly ClientDefinition[];
  /**
   * Where secrets are stored; null when there is none.
   * @default {platformKeychain()}
   */
  keychain?: Keychain | null;
}

/** Reads lines from stdin without buffering past what a line needs on a terminal. */
class StdinLines {
  #pending: number[] = [];
  #ended = false;

  async readLine(): Promise<string | null> {
    const chunk = new Uint8Array(1024);
    while (true) {
      const newline = this.#pending.indexOf(10);
      if (newline >= 0) {
        const line = this.#pending.splice(0, newline + 1).slice(0, -1);
        return new TextDecoder().decode(new Uint8Array(line)).replace(/\r$/, "");
      }
      if (this.#ended) {
        if (this.#pending.length === 0) return null;
        const rest = this.#pending.splice(0);
        return new TextDecoder().decode(new Uint8Array(rest));
      }
      const n = await Deno.stdin.read(chunk);
      if (n === null) this.#ended = true;
      else this.#pending.push(...chunk.subarray(0, n));
    }
  }
}

/** The {@linkcode InitIo} of the process: stdin, and stderr for prompts. */
export function processIo(): InitIo {
  const lines = new StdinLines();
  const hidden = terminalPrompt();
  const encoder = new TextEncoder();
  const say = async (text: string) => {
    await Deno.stderr.write(encoder.encode(text));
  };
  return {
    readLine: () => lines.readLine(),
    readSecret: async (prompt) => {
      if (hidden !== null) return await hidden(prompt);
      await say(prompt);
      return await lines.readLine();
    },
    say,
  };
}

function helpOf(key: string, clients: readonly ClientDefinition[]): string {
  const core = CORE_KEYS.find((k) => k.key === key);
  if (core) return core.help;
  for (const client of clients) {
    const found = client.keys.find((k) => k.key === key);
    if (found) return found.help;
  }
  return "";
}

function defaultOf(key: string, clients: readonly ClientDefinition[]): string {
  const core = CORE_KEYS.find((k) => k.key === key);
  if (core) return core.default;
  for (const client of clients) {
    const found = client.keys.find((k) => k.key === key);
    if (found) return found.default;
  }
  return "";
}

/** The problems `value` would cause for `key`, given the answers so far. */
function problemsWith(
  key: string,
  value: string,
  answers: ReadonlyMap<string, string>,
  clients: readonly ClientDefinition[],
): string[] {
  const all = new Map(answers).set(key, value);
  const text = [...all].map(([k, v]) => `${k}=${JSON.stringify(v)}`).join("\n");
  try {
    parseConfig(text, { path: "answers", clients });
    return [];
  } catch (error) {
    if (!(error instanceof AggregateConfigError)) throw error;
    return error.errors
      .filter((e) => e.key === key)
      .map((e) => e.message.replace(/^Cannot read \S+ in answers( line \d+| \(default\))?: /, ""));
  }
}

/**
 * Runs the dialogue and returns the finished `var.env` text.
 *
 * Each question shows the key's help and default: an empty answer keeps the default, `-`
 * sets the key empty (not set). An invalid answer is explained and asked again.
 */
export async function configInit(io: InitIo, options: ConfigInitOptions = {}): Promise<string> {
  const clients = options.clients ?? CLIENTS;
  const keychain = options.keychain === undefined ? platformKeychain() : options.keychain;
  const answers = new Map<string, string>();

  const ask = async (key: string, question: string): Promise<string> => {
    const fallback = answers.get(key) ?? defaultOf(key, clients);
    const help = helpOf(key, clients);
    await io.say(`\n${help.split("\n").map((l) => `  ${l}`).join("\n")}\n`);
    while (true) {
      await io.say(`${question} (${key}) [${fallback === "" ? "empty" : fallback}]: `);
      const line = await io.readLine();
      if (line === null) {
        throw new UsageError(`Cannot finish var config init: the input ended at ${key}`);
      }
      const trimmed = line.trim();
      const value = trimmed === "" ? fallback : trimmed === "-" ? "" : trimmed;
      const problems = problemsWith(key, value, answers, clients);
      if (problems.length === 0) {
        answers.set(key, value);
        return value;
      }
      for (const problem of problems) await io.say(`  Not accepted: ${problem}\n`);
    }
  };

  await io.say(
    "var config init: answer each question; Enter keeps the default in brackets, - leaves the key empty.\n",
  );
  const brains = (await ask("COGNITO_URL", "Brains, comma-separated")).split(",").map((s) =>
    s.trim()
  );
  if (brains.some((b) => !b.includes("portal.vectra.ai"))) {
    await ask("AUTH", "Authentication of the v2 brains, OAUTH or TOKEN");
  }
  const hasV3 = brains.some((b) => b.includes("portal.vectra.ai"));
  const types = (await ask("BLOCK_TYPES", "Kinds of blocking to run")).toLowerCase().split(",")
    .map((s) => s.trim());
  for (const kind of ["HOST", "ACCOUNT"] as const) {
    if (!types.includes(kind.toLowerCase())) continue;
    const noun = kind.toLowerCase();
    await ask(`BLOCK_${kind}_TAG`, `Tag that blocks a ${noun}`);
    await ask(`UNBLOCK_${kind}_TAG`, `Tag that unblocks a ${noun} (with explicit unblock)`);
    await ask(`BLOCK_${kind}_GROUP_NAME`, `Group whose ${noun}s are all blocked`);
    await ask(`NO_BLOCK_${kind}_GROUP_NAME`, `Group whose ${noun}s are never blocked`);
    await ask(`BLOCK_${kind}_THREAT_CERTAINTY`, `Score threshold for ${noun}s`);
    if (hasV3) await ask(`BLOCK_${kind}_URGENCY`, `Urgency threshold for ${noun}s (v3)`);
    await ask(`BLOCK_${kind}_DETECTION_TYPES`, `Detection types that block their ${noun}`);
  }
  if (types.includes("detection")) {
    await ask("EXTERNAL_BLOCK_DETECTION_TAG", "Tag that blocks a detection's destinations");
    await ask("EXTERNAL_BLOCK_HOST_TC", "Host scores above which all its detections are blocked");
    await ask("EXTERNAL_BLOCK_DETECTION_TYPES", "Detection types always blocked");
  }
  if (types.includes("static")) {
    await ask("STATIC_BLOCK_DESTINATION_IPS", "File of static destination IPs");
  }
  await ask("EXPLICIT_UNBLOCK", "Unblock only on the unblock tag, true or false");
  await ask("BLOCK_DAYS", "Days on which var may act");
  await ask("BLOCK_START_TIME", "Hour the window opens");
  await ask("BLOCK_END_TIME", "Hour the window closes");
  const clientNames = (await ask("THIRD_PARTY_CLIENTS", "Clients to drive, in order")).split(",");
  for (const name of clientNames) {
    const definition = findClientDefinition(name.trim(), clients);
    if (definition === undefined) continue;
    for (const key of definition.keys) {
      await ask(key.key, `${definition.name}${key.required ? " (required)" : ""}`);
    }
  }

  const text = configTemplate(clients, { values: answers });
  const { config } = parseConfig(text, { path: "var.env", clients });
  const secrets = requiredSecrets(config, clients);
  if (secrets.length > 0) {
    await io.say(
      `\nThis configuration needs ${secrets.length} secret(s):\n${
        secrets.map((s) => `  ${s.service} ${s.key}: ${s.description}`).join("\n")
      }\n`,
    );
    if (keychain === null) {
      await io.say("No keychain on this system: use --secrets-dir (see `var secrets list`).\n");
    } else {
      await io.say(`Store them in ${keychain.name} now? [y/N]: `);
      const yes = /^y(es)?$/i.test((await io.readLine())?.trim() ?? "");
      for (const ref of yes ? secrets : []) {
        const value = await io.readSecret(`Enter the ${ref.service} ${ref.key}: `);
        if (value === null || value === "") {
          await io.say(`  Skipped ${ref.service} ${ref.key}\n`);
          continue;
        }
        await keychain.set(ref.service, ref.key, value);
        await io.say(`  Stored ${ref.service} ${ref.key} in ${keychain.name}\n`);
      }
    }
  }
  if (config.blockTypes.has("static")) {
    await io.say(
      `\nCreate ${config.staticIpsFile} next to var.env (one IP or network per line; # comments).\n`,
    );
  }
  await io.say("\nDone: the configuration is on stdout. Check it with `var config check`.\n");
  return text;
}

/** `var config init`: runs the dialogue on stdin/stderr and prints var.env on stdout. */
export async function configInitCommand(): Promise<number> {
  const text = await configInit(processIo());
  await Deno.stdout.write(new TextEncoder().encode(text));
  return 0;
}
