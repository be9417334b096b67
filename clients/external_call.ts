/**
 * `external_call` (tag name `External Call Client`): runs operator-supplied commands to
 * block and unblock hosts, accounts and detections (vendors/external_call.md).
 *
 * Each command is written in `var.env` as a JSON array of strings, e.g.
 * `EXTERNAL_CALL_HOST_BLOCK_CMD=["/usr/local/bin/isolate","--ip","{ip}"]`. The first entry
 * is the program (an absolute path, or a name looked up in `PATH`), the rest its
 * arguments. The command runs as an argv array through `Deno.Command`: never a shell, so
 * values from Vectra are data, never code.
 *
 * **Placeholders** inside arguments are replaced per call (a placeholder may be part of a
 * larger argument, as in `--ip={ip}`):
 *
 * | Commands | Placeholder | Value |
 * |---|---|---|
 * | host | `{ip}` | the host's IP; on unblock the IP recorded at block time |
 * | host | `{name}` | the host name |
 * | host | `{mac}` | the host's MAC addresses |
 * | account | `{account}` | LDAP sAMAccountName, else the name before `@`; on unblock the recorded one |
 * | account | `{name}` | the account name as Vectra writes it (`kerberos:jdoe@corp.example`) |
 * | account | `{context}` | the account's `Context:` tag value, possibly empty |
 * | detection | `{dst_ips}` | the detection's destination IPs; on unblock the recorded ones |
 * | detection | `{name}` | the detection type |
 *
 * A multi-valued placeholder (`{dst_ips}`, `{mac}`) that is a whole argument becomes one
 * argument per value; inside a larger argument the values are joined with `,`. A command
 * without any placeholder gets the values appended, as the original did: host → the IP;
 * account → the account name, then the context; detection → each destination IP as its
 * own argument (the original passed them as one list element, which crashed).
 *
 * **Element ids** are deterministic and carry what the unblock needs: `host:<ip>`,
 * `account:<account>`, and one `dst:<ip>` per destination IP. Blocking twice returns the
 * same ids, and unblock uses the recorded value, not the entity's current one (the
 * original unblocked the current IP). Ids the original wrote (random UUIDs) carry no
 * value; for those the entity's current value is used, as the original did.
 *
 * **Outcome:** exit status 0 is success. A non-zero exit, a signal, a program that cannot
 * be started, or a run longer than `EXTERNAL_CALL_TIMEOUT_SECONDS` (the process group is
 * killed) is a {@linkcode ClientError} with the exit status and the start of stderr and
 * stdout. The commands must be idempotent: var may run a block or an unblock again.
 *
 * A host without an IP is not blocked (a {@linkcode ClientError}): its element id would
 * carry nothing to unblock. A detection without destination IPs runs nothing and returns
 * no element.
 *
 * **Safety:** a configured command is never modified (no accumulation across calls); a
 * value that would form a whole argument starting with `-` is refused (it could be read
 * as an option); the environment and working directory are inherited; stdin is closed.
 *
 * An operation whose command is not configured is not in `supports`, so the engine never
 * calls it. Grooming is supported when both host commands are: a host whose recorded IP
 * differs from its current one is blocked at the new IP, then unblocked at the old.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { z } from "zod";
import type { Account, Detection, Host } from "../engine/model.ts";
import { hostAddress } from "./_targets.ts";
import { parseBool } from "./_config.ts";
import { SHELL_SAFE_DESCRIPTION, SHELL_SAFE_VALUE, shellScript } from "./_shell.ts";
import {
  ClientError,
  type GroomResult,
  type Operation,
  type ResponseClient,
} from "../engine/client.ts";
import type { ClientContext, ClientDefinition, ConfigKey } from "./interface.ts";

const NAME = "external_call";
const logger = getLogger(["var", "client", NAME]);

/** Bytes of stdout and of stderr kept from one run; the rest is read and dropped. */
const MAX_OUTPUT_BYTES = 64 * 1024;
/** Characters of stdout and of stderr quoted in an error message. */
const MAX_QUOTED_CHARS = 500;
/** How long to wait for output pipes after the process ended (a daemon may hold them). */
const PIPE_GRACE_MS = 1000;

/** The entity kinds a command serves. */
type CommandKind = "host" | "account" | "detection";

/** The placeholders each kind's commands accept. */
const PLACEHOLDERS: Readonly<Record<CommandKind, readonly string[]>> = {
  host: ["ip", "name", "mac"],
  account: ["account", "name", "context"],
  detection: ["dst_ips", "name"],
};

/** `{word}` in an argument. */
const PLACEHOLDER = /\{([A-Za-z_]+)\}/g;
/** Whether an argument holds a placeholder (no global state). */
const PLACEHOLDER_TEST = /\{[A-Za-z_]+\}/;

/** The typed configuration of `external_call`. Null commands are not configured. */
export interface ExternalCallConfig {
  readonly hostBlock: readonly string[] | null;
  readonly hostUnblock: readonly string[] | null;
  readonly accountBlock: readonly string[] | null;
  readonly accountUnblock: readonly string[] | null;
  readonly detectionBlock: readonly string[] | null;
  readonly detectionUnblock: readonly string[] | null;
  /** Longest run of one command, in seconds. */
  readonly timeoutSeconds: number;
  /** `EXTERNAL_CALL_ALLOW_SHELL`: accept shell commands with placeholders in their script. */
  readonly allowShell: boolean;
  /** The commands that run a shell with placeholders in its script (only when allowed). */
  readonly shellCommands: readonly ShellCommand[];
}

/** A configured command that hands a script with placeholders to a shell. */
export interface ShellCommand {
  /** The command's key, e.g. `EXTERNAL_CALL_HOST_BLOCK_CMD`. */
  readonly key: string;
  /** The shell and its script flag, e.g. `/bin/sh -c`. */
  readonly shell: string;
}

/** One command key: its config field and the kind whose placeholders it accepts. */
interface CommandKey {
  readonly key: string;
  readonly field: Exclude<
    keyof ExternalCallConfig,
    "timeoutSeconds" | "allowShell" | "shellCommands"
  >;
  readonly kind: CommandKind;
  readonly help: string;
}

const COMMAND_KEYS: readonly CommandKey[] = [
  {
    key: "EXTERNAL_CALL_HOST_BLOCK_CMD",
    field: "hostBlock",
    kind: "host",
    help: 'Command isolating a host, as a JSON array: ["/usr/local/bin/isolate","--ip","{ip}"]; ' +
      "placeholders {ip}, {name}, {mac}; without one the IP is appended. Empty: not configured.",
  },
  {
    key: "EXTERNAL_CALL_HOST_UNBLOCK_CMD",
    field: "hostUnblock",
    kind: "host",
    help:
      "Command releasing a host ({ip} is the IP recorded at block time). Empty: not configured.",
  },
  {
    key: "EXTERNAL_CALL_ACCOUNT_BLOCK_CMD",
    field: "accountBlock",
    kind: "account",
    help: "Command disabling an account; placeholders {account}, {name}, {context}; without one " +
      "the account name and the context are appended. Empty: not configured.",
  },
  {
    key: "EXTERNAL_CALL_ACCOUNT_UNBLOCK_CMD",
    field: "accountUnblock",
    kind: "account",
    help: "Command re-enabling an account. Empty: not configured.",
  },
  {
    key: "EXTERNAL_CALL_DETECTION_BLOCK_CMD",
    field: "detectionBlock",
    kind: "detection",
    help: "Command blocking a detection's destination IPs; placeholders {dst_ips}, {name}; " +
      "without one each IP is appended as its own argument. Empty: not configured.",
  },
  {
    key: "EXTERNAL_CALL_DETECTION_UNBLOCK_CMD",
    field: "detectionUnblock",
    kind: "detection",
    help:
      "Command unblocking destination IPs (the ones recorded at block time). Empty: not configured.",
  },
];

const TIMEOUT_KEY = "EXTERNAL_CALL_TIMEOUT_SECONDS";
const ALLOW_SHELL_KEY = "EXTERNAL_CALL_ALLOW_SHELL";
const EXAMPLE = '["/usr/local/bin/isolate","--ip","{ip}"]';

/** Parses one command value: null when not configured, else a frozen argv. */
function parseCommand(
  value: string,
  spec: CommandKey,
  ctx: z.RefinementCtx,
): readonly string[] | null {
  const text = value.trim();
  if (text === "") return null;
  const issue = (message: string) => {
    ctx.addIssue({ code: "custom", path: [spec.key], message });
    return null;
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return issue(`not a JSON array of strings; write it as ${EXAMPLE}`);
  }
  if (!Array.isArray(parsed) || !parsed.every((arg) => typeof arg === "string")) {
    return issue(`not a JSON array of strings; write it as ${EXAMPLE}`);
  }
  const argv = parsed as string[];
  if (argv.length === 0) return null;
  const [program = ""] = argv;
  if (program.trim() === "") {
    return issue(`the program (first entry) is empty; write it as ${EXAMPLE}`);
  }
  if (program.match(PLACEHOLDER)) {
    return issue(`the program (first entry) cannot hold a placeholder; write it as ${EXAMPLE}`);
  }
  const allowed = PLACEHOLDERS[spec.kind];
  for (const arg of argv) {
    if (arg.includes("\0")) return issue("an argument holds a NUL character");
    for (const match of arg.matchAll(PLACEHOLDER)) {
      if (!allowed.includes(match[1] ?? "")) {
        return issue(
          `"${match[0]}" is not a placeholder of ${spec.kind} commands; use ${
            allowed.map((p) => `{${p}}`).join(", ")
          }`,
        );
      }
    }
  }
  return Object.freeze([...argv]);
}

/** Parses the timeout in seconds. */
function parseTimeout(value: string, ctx: z.RefinementCtx): number {
  const text = value.trim();
  const seconds = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || seconds <= 0 || seconds > 3600) {
    ctx.addIssue({
      code: "custom",
      path: [TIMEOUT_KEY],
      message: "not a number of seconds; use a number above 0 and up to 3600",
    });
    return 60;
  }
  return seconds;
}

/** Parses the raw `EXTERNAL_CALL_*` values into an {@linkcode ExternalCallConfig}. */
export const ExternalCallConfig: z.ZodType<ExternalCallConfig> = z
  .record(z.string(), z.string())
  .transform((raw, ctx): ExternalCallConfig => {
    const command = (field: CommandKey["field"]) => {
      const spec = COMMAND_KEYS.find((k) => k.field === field);
      return spec ? parseCommand(raw[spec.key] ?? "", spec, ctx) : null;
    };
    const allowText = (raw[ALLOW_SHELL_KEY] ?? "").trim();
    const allowShell = allowText === "" ? false : parseBool(allowText);
    if (allowShell === null) {
      ctx.addIssue({
        code: "custom",
        path: [ALLOW_SHELL_KEY],
        message: "not a boolean; use true or false",
      });
    }
    const parsed = {
      hostBlock: command("hostBlock"),
      hostUnblock: command("hostUnblock"),
      accountBlock: command("accountBlock"),
      accountUnblock: command("accountUnblock"),
      detectionBlock: command("detectionBlock"),
      detectionUnblock: command("detectionUnblock"),
    };
    const shellCommands: ShellCommand[] = [];
    for (const spec of COMMAND_KEYS) {
      const argv = parsed[spec.field];
      const script = argv === null ? null : shellScript(argv);
      if (argv === null || script === null) continue;
      if (!script.indexes.some((i) => PLACEHOLDER_TEST.test(argv[i] ?? ""))) continue;
      const shell = `${script.shell} ${script.flag}`;
      if (allowShell === true) {
        shellCommands.push({ key: spec.key, shell });
        continue;
      }
      ctx.addIssue({
        code: "custom",
        path: [spec.key],
        message: `runs a shell (${shell}) with placeholders in its script, so text from ` +
          "Vectra (a host name) would run as shell code; give the values to a program as " +
          'whole arguments (["/usr/local/bin/isolate","{ip}"]) or read them in the script from ' +
          "the VAR_* environment variables, or set EXTERNAL_CALL_ALLOW_SHELL=true to accept " +
          "the risk",
      });
    }
    return {
      ...parsed,
      timeoutSeconds: parseTimeout(raw[TIMEOUT_KEY] ?? "60", ctx),
      allowShell: allowShell === true,
      shellCommands,
    };
  });

/** The values one command run substitutes; a list for multi-valued placeholders. */
type Values = Readonly<Record<string, string | readonly string[]>>;

/**
 * Builds the argv of one run from a configured command: placeholders substituted, or the
 * `appended` values added when the command has none. Never modifies `command`. Throws a
 * plain Error (the caller wraps it) for a value that cannot be passed safely.
 */
export function buildArgv(
  command: readonly string[],
  values: Values,
  appended: readonly string[],
): string[] {
  const script = new Set(shellScript(command)?.indexes ?? []);
  const valuesOf = (name: string): readonly string[] => {
    const value = values[name];
    if (value === undefined) throw new Error(`no value for {${name}}`);
    return typeof value === "string" ? [value] : value;
  };
  /** A placeholder's values for argument `index`: shell-safe ones only in a shell script. */
  const valuesAt = (name: string, index: number): readonly string[] => {
    const list = valuesOf(name);
    if (!script.has(index)) return list;
    for (const value of list) {
      if (!SHELL_SAFE_VALUE.test(value)) {
        throw new Error(
          `{${name}} is ${
            JSON.stringify(value)
          }, which a shell script cannot take safely; a value spliced into a script may hold ` +
            SHELL_SAFE_DESCRIPTION,
        );
      }
    }
    return list;
  };
  const whole = (value: string, what: string) => {
    if (value.startsWith("-")) {
      throw new Error(
        `${what} "${value}" starts with "-" and could be read as an option; refusing to pass it`,
      );
    }
    return value;
  };
  const hasPlaceholder = command.some((arg) => arg.match(PLACEHOLDER));
  const [program = "", ...args] = command;
  const argv = [program];
  if (!hasPlaceholder) {
    argv.push(...args);
    for (const value of appended) argv.push(whole(value, "the value"));
  } else {
    args.forEach((arg, offset) => {
      const index = offset + 1;
      const only = /^\{([A-Za-z_]+)\}$/.exec(arg);
      if (only) {
        const name = only[1] ?? "";
        for (const value of valuesAt(name, index)) argv.push(whole(value, `{${name}}`));
        return;
      }
      argv.push(arg.replace(PLACEHOLDER, (_, name: string) => valuesAt(name, index).join(",")));
    });
  }
  for (const arg of argv) {
    if (arg.includes("\0")) throw new Error("a value holds a NUL character");
  }
  return argv;
}

/** What one run produced. */
export interface RunResult {
  /** Exit code (128 + n when ended by signal n). */
  readonly code: number;
  /** The signal that ended it, if any. */
  readonly signal: string | null;
  /** True when it ran past the timeout and was killed. */
  readonly timedOut: boolean;
  /** The first {@linkcode MAX_OUTPUT_BYTES} of stdout, decoded. */
  readonly stdout: string;
  /** The first {@linkcode MAX_OUTPUT_BYTES} of stderr, decoded. */
  readonly stderr: string;
}

/** Options for {@linkcode runArgv}. */
export interface RunOptions {
  /** Kill the process group after this many milliseconds. */
  timeoutMs: number;
  /** Variables added to the inherited environment. */
  env?: Record<string, string>;
  /** Aborting kills the process group. */
  signal?: AbortSignal;
}

/** Reads a stream, keeping at most `max` bytes and draining the rest. */
async function readBounded(
  stream: ReadableStream<Uint8Array>,
  max: number,
  readers: ReadableStreamDefaultReader<Uint8Array>[],
): Promise<string> {
  const reader = stream.getReader();
  readers.push(reader);
  const chunks: Uint8Array[] = [];
  let kept = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      if (kept < max) {
        const part = value.subarray(0, max - kept);
        chunks.push(part);
        kept += part.length;
      }
    }
  } catch {
    // Cancelled after the grace period: keep what was read.
  } finally {
    reader.releaseLock();
  }
  const all = new Uint8Array(kept);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  return new TextDecoder().decode(all);
}

/** Kills the process group of a detached child, or the child alone where groups fail. */
function killGroup(child: Deno.ChildProcess): void {
  try {
    Deno.kill(-child.pid, "SIGKILL");
  } catch {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/**
 * Runs an argv without a shell, capturing bounded stdout and stderr. The child leads its
 * own process group, so a timeout or abort kills what it started too. Throws what
 * `Deno.Command` throws when the program cannot be started.
 */
export async function runArgv(argv: readonly string[], options: RunOptions): Promise<RunResult> {
  const [program = "", ...args] = argv;
  const child = new Deno.Command(program, {
    args,
    ...(options.env ? { env: options.env } : {}),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child);
  }, options.timeoutMs);
  const onAbort = () => killGroup(child);
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted) killGroup(child);
  const readers: ReadableStreamDefaultReader<Uint8Array>[] = [];
  const outputs = Promise.all([
    readBounded(child.stdout, MAX_OUTPUT_BYTES, readers),
    readBounded(child.stderr, MAX_OUTPUT_BYTES, readers),
  ]);
  try {
    const status = await child.status;
    let grace: ReturnType<typeof setTimeout> | undefined;
    const settled = await Promise.race([
      outputs.then(() => true),
      new Promise<false>((resolve) => grace = setTimeout(() => resolve(false), PIPE_GRACE_MS)),
    ]);
    clearTimeout(grace);
    if (!settled) {
      killGroup(child);
      await Promise.all(readers.map((reader) => reader.cancel().catch(() => {})));
    }
    const [stdout, stderr] = await outputs;
    return { code: status.code, signal: status.signal, timedOut, stdout, stderr };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
  }
}

/** Quotes captured output for an error message: trimmed, truncated, escaped. */
function quote(text: string): string {
  const trimmed = text.trim();
  const cut = trimmed.length > MAX_QUOTED_CHARS
    ? `${trimmed.slice(0, MAX_QUOTED_CHARS)}…`
    : trimmed;
  return JSON.stringify(cut);
}

/** Options for {@linkcode createExternalCallClient}. */
export interface ExternalCallOptions {
  /** Aborted when the service shuts down: running commands are killed. */
  signal?: AbortSignal;
}

/**
 * The placeholder values as environment variables (`{ip}` → `VAR_IP`, lists joined with
 * `,`), so a script can read them quoted (`"$VAR_IP"`) instead of having them spliced in.
 */
export function environmentOf(values: Values): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) {
    env[`VAR_${name.toUpperCase()}`] = typeof value === "string" ? value : value.join(",");
  }
  return env;
}

/** The account name passed to account commands. */
function accountValue(account: Account): string {
  const sam = account.ldap.samAccountName;
  return sam !== undefined && sam !== "" ? sam : account.fakeSam;
}

/** The value a recorded element id carries after `prefix`, or null (an original UUID). */
function recordedValue(id: string, prefix: string): string | null {
  return id.startsWith(prefix) && id.length > prefix.length ? id.slice(prefix.length) : null;
}

/** Distinct values in order. */
function distinct<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}

/** Creates an `external_call` client from its configuration. */
export function createExternalCallClient(
  config: ExternalCallConfig,
  options: ExternalCallOptions = {},
): ResponseClient {
  const timeoutMs = config.timeoutSeconds * 1000;

  /** Runs one command; throws a ClientError unless it exits 0. */
  async function run(
    operation: Operation,
    subject: string,
    command: readonly string[],
    values: Values,
    appended: readonly string[],
  ): Promise<void> {
    const action = operation.startsWith("unblock")
      ? "unblock"
      : operation.startsWith("groom")
      ? "groom"
      : "block";
    const fail = (why: string, cause?: unknown) =>
      new ClientError(NAME, operation, `Cannot ${action} ${subject} with ${NAME}: ${why}`, {
        cause,
      });
    let argv: string[];
    try {
      argv = buildArgv(command, values, appended);
    } catch (error) {
      throw fail((error as Error).message, error);
    }
    const program = JSON.stringify(argv[0]);
    let result: RunResult;
    try {
      const env = environmentOf(values);
      result = await runArgv(
        argv,
        options.signal ? { timeoutMs, env, signal: options.signal } : { timeoutMs, env },
      );
    } catch (error) {
      const why = error instanceof Deno.errors.NotFound
        ? `the program ${program} was not found`
        : error instanceof Deno.errors.PermissionDenied
        ? `the program ${program} cannot be run (permission denied)`
        : `the program ${program} could not be started (${(error as Error).message})`;
      throw fail(why, error);
    }
    const output = `stderr ${quote(result.stderr)}; stdout ${quote(result.stdout)}`;
    if (result.timedOut) {
      throw fail(
        `${program} did not finish within ${config.timeoutSeconds} s and was killed; ${output}`,
      );
    }
    if (options.signal?.aborted) throw fail(`${program} was killed at shutdown; ${output}`);
    if (result.signal !== null) {
      throw fail(`${program} was ended by signal ${result.signal}; ${output}`);
    }
    if (result.code !== 0) {
      throw fail(`${program} exited with status ${result.code}; ${output}`);
    }
    logger.debug("{operation} {subject}: {program} exited with status 0", {
      operation,
      subject,
      program: argv[0],
      stdout: result.stdout.slice(0, MAX_QUOTED_CHARS),
    });
  }

  const hostValues = (host: Host, ip: string): Values => ({
    ip,
    name: host.name,
    mac: host.macAddresses,
  });
  const hostSubject = (host: Host, ip: string | null) => `host ${host.id} (${ip ?? "no IP"})`;
  const requireMacs = (host: Host, command: readonly string[], operation: Operation) => {
    if (host.macAddresses.length === 0 && command.some((arg) => arg.includes("{mac}"))) {
      throw new ClientError(
        NAME,
        operation,
        `Cannot ${
          operation === "unblockHost" ? "unblock" : "block"
        } host ${host.id} "${host.name}" with ${NAME}: the command uses {mac} and the host has no MAC address`,
      );
    }
  };

  async function blockHostAt(host: Host, ip: string, operation: Operation): Promise<string> {
    const command = config.hostBlock;
    if (command === null) throw new Error("HOST_BLOCK_CMD is not configured");
    requireMacs(host, command, operation);
    await run(operation, hostSubject(host, ip), command, hostValues(host, ip), [ip]);
    return `host:${ip}`;
  }

  async function unblockHostAt(host: Host, ip: string, operation: Operation): Promise<void> {
    const command = config.hostUnblock;
    if (command === null) throw new Error("HOST_UNBLOCK_CMD is not configured");
    requireMacs(host, command, operation);
    await run(operation, hostSubject(host, ip), command, hostValues(host, ip), [ip]);
  }

  const supports = new Set<Operation>();
  const client: ResponseClient = {
    name: NAME,
    tagName: "External Call Client",
    routingKey: NAME,
    supports,
  };

  if (config.hostBlock !== null) {
    supports.add("blockHost");
    client.blockHost = async (host: Host) => [
      await blockHostAt(host, hostAddress(NAME, "blockHost", host), "blockHost"),
    ];
  }
  if (config.hostUnblock !== null) {
    supports.add("unblockHost");
    client.unblockHost = async (host: Host, recorded: readonly string[]) => {
      const ids = distinct(recorded);
      const ips = distinct(
        ids.map((id) => recordedValue(id, "host:") ?? hostAddress(NAME, "unblockHost", host)),
      );
      for (const ip of ips) await unblockHostAt(host, ip, "unblockHost");
      return ids;
    };
  }
  if (config.hostBlock !== null && config.hostUnblock !== null) {
    supports.add("groomHost");
    client.groomHost = async (host: Host, recorded: readonly string[]): Promise<GroomResult> => {
      const current = hostAddress(NAME, "groomHost", host);
      const stale = distinct(recorded).filter((id) => {
        const ip = recordedValue(id, "host:");
        return ip !== null && ip !== current;
      });
      if (stale.length === 0) return { changed: false };
      const blocked = [await blockHostAt(host, current, "groomHost")];
      for (const id of stale) {
        await unblockHostAt(host, recordedValue(id, "host:") ?? current, "groomHost");
      }
      return { changed: true, unblocked: stale, blocked };
    };
  }

  const accountBlock = config.accountBlock;
  if (accountBlock !== null) {
    supports.add("blockAccount");
    client.blockAccount = async (account: Account) => {
      const value = accountValue(account);
      if (value === "") {
        throw new ClientError(
          NAME,
          "blockAccount",
          `Cannot block account ${account.id} "${account.name}" with ${NAME}: the account has no name to pass`,
        );
      }
      await run(
        "blockAccount",
        `account ${account.id} "${value}"`,
        accountBlock,
        { account: value, name: account.name, context: account.context },
        [value, account.context],
      );
      return [`account:${value}`];
    };
  }
  const accountUnblock = config.accountUnblock;
  if (accountUnblock !== null) {
    supports.add("unblockAccount");
    client.unblockAccount = async (account: Account, recorded: readonly string[]) => {
      const ids = distinct(recorded);
      const values = distinct(
        ids.map((id) => recordedValue(id, "account:") ?? accountValue(account)),
      );
      for (const value of values) {
        await run(
          "unblockAccount",
          `account ${account.id} "${value}"`,
          accountUnblock,
          { account: value, name: account.name, context: account.context },
          [value, account.context],
        );
      }
      return ids;
    };
  }

  const detectionBlock = config.detectionBlock;
  if (detectionBlock !== null) {
    supports.add("blockDetection");
    client.blockDetection = async (detection: Detection) => {
      const ips = distinct(detection.dstIps);
      if (ips.length === 0) return [];
      await run(
        "blockDetection",
        `detection ${detection.id} (${ips.join(", ")})`,
        detectionBlock,
        { dst_ips: ips, name: detection.detectionType },
        ips,
      );
      return ips.map((ip) => `dst:${ip}`);
    };
  }
  const detectionUnblock = config.detectionUnblock;
  if (detectionUnblock !== null) {
    supports.add("unblockDetection");
    client.unblockDetection = async (detection: Detection, recorded: readonly string[]) => {
      const ids = distinct(recorded);
      const ips = distinct(
        ids.flatMap((id) => {
          const ip = recordedValue(id, "dst:");
          return ip === null ? detection.dstIps : [ip];
        }),
      );
      if (ips.length === 0) {
        if (ids.length > 0) {
          logger.warn(
            "Unblock detection {id}: the recorded elements name no destination IP and the detection has none; nothing to run",
            { id: detection.id },
          );
        }
        return ids;
      }
      await run(
        "unblockDetection",
        `detection ${detection.id} (${ips.join(", ")})`,
        detectionUnblock,
        { dst_ips: ips, name: detection.detectionType },
        ips,
      );
      return ids;
    };
  }

  for (
    const [block, unblock, what] of [
      [config.hostBlock, config.hostUnblock, "HOST"],
      [config.accountBlock, config.accountUnblock, "ACCOUNT"],
      [config.detectionBlock, config.detectionUnblock, "DETECTION"],
    ] as const
  ) {
    if (block !== null && unblock === null) {
      logger.warn(
        "EXTERNAL_CALL_{what}_BLOCK_CMD is set without EXTERNAL_CALL_{what}_UNBLOCK_CMD: what it blocks is never unblocked",
        { what },
      );
    }
  }
  for (const { key, shell } of config.shellCommands) {
    logger.warn(
      "EXTERNAL_CALL_ALLOW_SHELL=true: {key} runs a shell ({shell}) with placeholders in its " +
        "script; text from Vectra becomes part of shell code, so a value outside letters, " +
        "digits, spaces and . _ : @ / + , = - fails its action",
      { key, shell },
    );
  }
  client.close = () => Promise.resolve();
  return client;
}

/** The documented keys of `external_call`. */
const KEYS: readonly ConfigKey[] = [
  ...COMMAND_KEYS.map(({ key, help }) => ({ key, default: "", help })),
  {
    key: TIMEOUT_KEY,
    default: "60",
    help:
      "Longest run of one command in seconds; past it the command is killed and the action fails.",
  },
  {
    key: ALLOW_SHELL_KEY,
    default: "false",
    help: "Accept a command that runs a shell (sh/bash -c, cmd /c, pwsh -Command) with " +
      "placeholders in its script; values there must then be letters, digits, spaces and " +
      ". _ : @ / + , = -. Prefer the VAR_* environment variables in scripts.",
  },
];

/** The `external_call` definition: operator-supplied commands, run without a shell. */
export const externalCall = {
  name: NAME,
  aliases: [],
  tagName: "External Call Client",
  routingKey: NAME,
  keys: KEYS,
  configSchema: ExternalCallConfig,
  secrets: () => [],
  create: (config: ExternalCallConfig, context: ClientContext) =>
    createExternalCallClient(config, context.signal ? { signal: context.signal } : {}),
} satisfies ClientDefinition<ExternalCallConfig>;
