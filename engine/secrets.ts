/**
 * Secrets (engine.md §8): looked up, in this order, in the secrets directory (one file per
 * secret), in the OS keychain (`secret-tool` on Linux, `security` on macOS, with the
 * attributes the Python `keyring` library uses, so the original's entries are found and the
 * original finds ours), and at an interactive prompt when stdin is a terminal.
 *
 * Every value found is recorded in {@linkcode secretValues}, which the logger redacts. Values
 * go to child processes through stdin, never argv; they never appear in errors or logs.
 * Needs only the `read` and `run` permissions.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";

/** A secret a client needs: looked up as (service, key) in the secrets directory or keychain. */
export interface SecretRef {
  readonly service: string;
  readonly key: string;
  /** One line for `var secrets list` and prompts. */
  readonly description: string;
  /**
   * Other key sets under the same service that can stand in for this key, e.g. a PAN-OS
   * `username` and `password` instead of its `API_Key`.
   */
  readonly alternatives?: readonly (readonly string[])[];
}

/** Looks up a secret; throws when it cannot be found. The value never reaches a log. */
export type SecretLookup = (service: string, key: string) => Promise<string>;

/** Looks up a stored secret without prompting; null when it is not stored. */
export type SecretFinder = (service: string, key: string) => Promise<string | null>;

/** Stores a secret (for clients that derive one, e.g. a PAN-OS API key). */
export type SecretStore = (service: string, key: string, value: string) => Promise<void>;

const logger = getLogger(["var", "secrets"]);

/** Every secret value looked up in this process, for redaction. */
export class SecretValues {
  readonly #values = new Set<string>();
  #version = 0;

  /** Records a value; empty values are ignored. */
  add(value: string): void {
    if (value === "" || this.#values.has(value)) return;
    this.#values.add(value);
    this.#version++;
  }

  /** The values, longest first (so a value containing another is replaced whole). */
  values(): string[] {
    return [...this.#values].sort((a, b) => b.length - a.length);
  }

  /** Changes whenever a value is added (lets the logger cache its pattern). */
  get version(): number {
    return this.#version;
  }
}

/** The process-wide registry the logger redacts. */
export const secretValues: SecretValues = new SecretValues();

/**
 * The file name of a secret in the secrets directory: `<service>_<key>`, every character
 * outside `A-Z a-z 0-9 . -` replaced by `_`.
 *
 * @example
 * ```ts
 * secretFileName("https://brain.example.com", "Token"); // "https___brain.example.com_Token"
 * ```
 */
export function secretFileName(service: string, key: string): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9.-]/g, "_");
  return `${safe(service)}_${safe(key)}`;
}

/** The commands that set a secret, for messages. */
export function howToSet(service: string, key: string, secretsDir?: string | null): string {
  const dir = secretsDir ?? "DIR";
  return `set it with \`var secrets set ${shellQuote(service)} ${
    shellQuote(key)
  }\` (the value is read from stdin), or write it to ${dir}/${
    secretFileName(service, key)
  } and run with --secrets-dir ${dir}`;
}

function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:@-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}

/** A secret that could not be found anywhere; `main.ts` exits 1 on it. */
export class MissingSecretError extends Error {
  /** The service, e.g. the brain entry as written or `Fortinet`. */
  readonly service: string;
  /** The key, e.g. `Token`. */
  readonly key: string;

  constructor(service: string, key: string, message: string, options: ErrorOptions = {}) {
    super(message, options);
    this.name = "MissingSecretError";
    this.service = service;
    this.key = key;
  }
}

/** The keychain could not be used (not installed, no session bus, locked, timed out). */
export class KeychainError extends Error {
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, options);
    this.name = "KeychainError";
  }
}

/** An OS keychain holding (service, key) → value, as Python `keyring` stores it. */
export interface Keychain {
  /** Names the keychain in messages, e.g. `secret-tool`. */
  readonly name: string;
  /** The value, or null when there is no such item (or it is empty). */
  get(service: string, key: string): Promise<string | null>;
  /** Creates or replaces the item. */
  set(service: string, key: string, value: string): Promise<void>;
}

/** Options of the keychain commands. */
export interface KeychainOptions {
  /**
   * The program to run.
   * @default {"secret-tool" on Linux, "security" on macOS}
   */
  command?: string;
  /**
   * Longest wait for one command, in milliseconds (a locked keyring may wait for a prompt).
   * @default {15000}
   */
  timeoutMs?: number;
  /** Extra environment for the command (tests: a private D-Bus session); inherited otherwise. */
  env?: Record<string, string>;
}

interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

async function runCommand(
  command: string,
  args: string[],
  input: string | null,
  options: { timeoutMs: number; env: Record<string, string> | undefined },
): Promise<Output> {
  const { timeoutMs, env } = options;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(command, {
      args,
      stdin: input === null ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
      ...(env === undefined ? {} : { env }),
    }).spawn();
  } catch (cause) {
    const reason = cause instanceof Deno.errors.NotFound ? "it is not installed" : String(cause);
    throw new KeychainError(`Cannot run ${command}: ${reason}`, { cause });
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
  }, timeoutMs);
  try {
    if (input !== null) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(input));
      await writer.close();
    }
    const result = await child.output();
    if (result.signal === "SIGKILL") {
      throw new KeychainError(`Cannot use ${command}: no answer within ${timeoutMs} ms`);
    }
    return {
      code: result.code,
      stdout: new TextDecoder().decode(result.stdout),
      stderr: new TextDecoder().decode(result.stderr).trim(),
    };
  } finally {
    clearTimeout(timer);
  }
}

function stripNewlines(value: string): string {
  return value.replace(/[\r\n]+$/, "");
}

/**
 * The Linux Secret Service through `secret-tool`: items with the attributes `service` and
 * `username`, as Python `keyring` writes them (it adds `application`, which lookups ignore).
 */
export class SecretToolKeychain implements Keychain {
  readonly name = "secret-tool";
  readonly #command: string;
  readonly #options: { timeoutMs: number; env: Record<string, string> | undefined };

  constructor(options: KeychainOptions = {}) {
    this.#command = options.command ?? "secret-tool";
    this.#options = { timeoutMs: options.timeoutMs ?? 15_000, env: options.env };
  }

  /** Reads `service`/`username` = (service, key). */
  async get(service: string, key: string): Promise<string | null> {
    const out = await runCommand(
      this.#command,
      ["lookup", "service", service, "username", key],
      null,
      this.#options,
    );
    if (out.code === 0) {
      const value = stripNewlines(out.stdout);
      return value === "" ? null : value;
    }
    if (out.stderr === "") return null;
    throw new KeychainError(`Cannot read the keychain with secret-tool: ${out.stderr}`);
  }

  /** Stores the value, passed on stdin, with the label Python `keyring` uses. */
  async set(service: string, key: string, value: string): Promise<void> {
    const out = await runCommand(
      this.#command,
      [
        "store",
        `--label=Password for '${key}' on '${service}'`,
        "service",
        service,
        "username",
        key,
      ],
      value,
      this.#options,
    );
    if (out.code !== 0) {
      throw new KeychainError(
        `Cannot store ${key} for ${service} with secret-tool: ${out.stderr || `exit ${out.code}`}`,
      );
    }
  }
}

function securityQuote(value: string): string {
  if (/["\\\n]/.test(value)) {
    throw new KeychainError(
      `Cannot use the macOS keychain for "${value}": it contains a quote, backslash or line break`,
    );
  }
  return `"${value}"`;
}

/**
 * The macOS login keychain through `security`: generic passwords with service = service and
 * account = key, as Python `keyring` stores them. Values are written through `security -i`
 * on stdin, hex-encoded (`-X`), never on the command line.
 */
export class MacosKeychain implements Keychain {
  readonly name = "macOS keychain";
  readonly #command: string;
  readonly #options: { timeoutMs: number; env: Record<string, string> | undefined };

  constructor(options: KeychainOptions = {}) {
    this.#command = options.command ?? "security";
    this.#options = { timeoutMs: options.timeoutMs ?? 15_000, env: options.env };
  }

  /** Reads the generic password (service, account). */
  async get(service: string, key: string): Promise<string | null> {
    const out = await runCommand(
      this.#command,
      ["find-generic-password", "-s", service, "-a", key, "-w"],
      null,
      this.#options,
    );
    if (out.code === 0) {
      const value = stripNewlines(out.stdout);
      return value === "" ? null : value;
    }
    if (out.code === 44) return null;
    throw new KeychainError(`Cannot read the macOS keychain: ${out.stderr || `exit ${out.code}`}`);
  }

  /** Creates or updates the generic password. */
  async set(service: string, key: string, value: string): Promise<void> {
    const hex = [...new TextEncoder().encode(value)]
      .map((b) => b.toString(16).padStart(2, "0"))
      .join("");
    const line = `add-generic-password -U -s ${securityQuote(service)} -a ${
      securityQuote(key)
    } -X ${hex}\n`;
    const out = await runCommand(this.#command, ["-i"], line, this.#options);
    if (out.code !== 0 || /error/i.test(out.stderr)) {
      throw new KeychainError(
        `Cannot store ${key} for ${service} in the macOS keychain: ${
          out.stderr || `exit ${out.code}`
        }`,
      );
    }
  }
}

/** The keychain of this operating system, or null where var knows none. */
export function platformKeychain(options: KeychainOptions = {}): Keychain | null {
  if (Deno.build.os === "linux") return new SecretToolKeychain(options);
  if (Deno.build.os === "darwin") return new MacosKeychain(options);
  return null;
}

/** Asks for a secret; resolves null when the input ended (Ctrl-D) without a value. */
export type Prompter = (message: string) => Promise<string | null>;

const encoder = new TextEncoder();

async function readHidden(message: string): Promise<string | null> {
  const bytes: number[] = [];
  const buffer = new Uint8Array(64);
  // raw (no echo) before the prompt shows, so nothing typed after it is ever echoed
  Deno.stdin.setRaw(true);
  try {
    await Deno.stderr.write(encoder.encode(message));
    while (true) {
      const n = await Deno.stdin.read(buffer);
      if (n === null) {
        return bytes.length === 0 ? null : new TextDecoder().decode(new Uint8Array(bytes));
      }
      for (const byte of buffer.subarray(0, n)) {
        if (byte === 13 || byte === 10) return new TextDecoder().decode(new Uint8Array(bytes));
        if (byte === 3) {
          throw new Deno.errors.Interrupted("Cannot read the secret: cancelled with Ctrl-C");
        }
        if (byte === 4 && bytes.length === 0) return null;
        if (byte === 127 || byte === 8) {
          bytes.pop();
          // a UTF-8 continuation byte belongs to the character being erased
          while (bytes.length > 0 && ((bytes[bytes.length - 1] ?? 0) & 0xc0) === 0x80) bytes.pop();
          continue;
        }
        bytes.push(byte);
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
    await Deno.stderr.write(encoder.encode("\n"));
  }
}

/** A prompt on the terminal without echo, or null when stdin is not a terminal. */
export function terminalPrompt(): Prompter | null {
  return Deno.stdin.isTerminal() ? readHidden : null;
}

/** Where a secret was found (never the value). */
export type SecretSource =
  | { readonly kind: "file"; readonly path: string }
  | { readonly kind: "keychain"; readonly name: string }
  | { readonly kind: "missing"; readonly reason: string };

/** Options of {@linkcode SecretResolver}. */
export interface SecretResolverOptions {
  /** `--secrets-dir`: a folder holding one file per secret, named by {@linkcode secretFileName}. */
  secretsDir?: string | null;
  /**
   * Store prompted values in the keychain (`--no-store-secrets` turns it off).
   * @default {true}
   */
  store?: boolean;
  /**
   * `--update-secrets`: prompt for every secret even when the keychain has it, and store it.
   * @default {false}
   */
  update?: boolean;
  /**
   * The keychain; null for none.
   * @default {platformKeychain()}
   */
  keychain?: Keychain | null;
  /**
   * The prompt; null when there is no terminal.
   * @default {terminalPrompt()}
   */
  prompt?: Prompter | null;
  /**
   * Where found values are recorded for redaction.
   * @default {secretValues}
   */
  values?: SecretValues;
}

/**
 * Looks secrets up (directory, keychain, prompt) and stores them, caching each value for the
 * life of the process so a secret is asked for at most once.
 */
export class SecretResolver {
  readonly #dir: string | null;
  readonly #store: boolean;
  readonly #update: boolean;
  readonly #keychain: Keychain | null;
  readonly #prompt: Prompter | null;
  readonly #values: SecretValues;
  readonly #cache = new Map<string, Promise<string>>();
  #prompting: Promise<unknown> = Promise.resolve();

  constructor(options: SecretResolverOptions = {}) {
    this.#dir = options.secretsDir ?? null;
    this.#store = options.store ?? true;
    this.#update = options.update ?? false;
    this.#keychain = options.keychain === undefined ? platformKeychain() : options.keychain;
    this.#prompt = options.prompt === undefined ? terminalPrompt() : options.prompt;
    this.#values = options.values ?? secretValues;
  }

  /** The secret's file in the secrets directory, or null without `--secrets-dir`. */
  fileFor(service: string, key: string): string | null {
    return this.#dir === null
      ? null
      : `${this.#dir.replace(/\/+$/, "")}/${secretFileName(service, key)}`;
  }

  /** The {@linkcode SecretLookup} to hand to clients and the Vectra API. */
  readonly lookup: SecretLookup = (service, key) => {
    const id = JSON.stringify([service, key]);
    let pending = this.#cache.get(id);
    if (pending === undefined) {
      pending = this.#resolve(service, key);
      this.#cache.set(id, pending);
      pending.catch(() => this.#cache.delete(id));
    }
    return pending;
  };

  /** The {@linkcode SecretStore} to hand to clients (stores in the keychain). */
  readonly store: SecretStore = async (service, key, value) => {
    if (this.#keychain === null) {
      throw new KeychainError(`Cannot store ${key} for ${service}: no keychain on this system`);
    }
    this.#values.add(value);
    await this.#keychain.set(service, key, value);
    this.#cache.set(JSON.stringify([service, key]), Promise.resolve(value));
  };

  /**
   * The stored value (secrets directory, then keychain), or null: never prompts. For
   * clients that accept alternatives (a PAN-OS key, or credentials to generate one).
   */
  readonly findStored: SecretFinder = async (service, key) => {
    const file = this.fileFor(service, key);
    if (file !== null) {
      const value = await readSecretFile(file, service, key);
      if (value !== null) {
        this.#values.add(value);
        return value;
      }
    }
    if (this.#keychain === null || this.#update) return null;
    try {
      const value = await this.#keychain.get(service, key);
      if (value !== null) this.#values.add(value);
      return value;
    } catch {
      return null;
    }
  };

  /** Where the secret would be found now, without prompting (for `var secrets list`). */
  async locate(service: string, key: string): Promise<SecretSource> {
    const file = this.fileFor(service, key);
    if (file !== null) {
      const value = await readSecretFile(file, service, key);
      if (value !== null) return { kind: "file", path: file };
    }
    if (this.#keychain === null) return { kind: "missing", reason: "no keychain on this system" };
    try {
      const value = await this.#keychain.get(service, key);
      if (value !== null) return { kind: "keychain", name: this.#keychain.name };
      return { kind: "missing", reason: `not in the secrets directory or ${this.#keychain.name}` };
    } catch (error) {
      return { kind: "missing", reason: (error as Error).message };
    }
  }

  async #resolve(service: string, key: string): Promise<string> {
    const notes: string[] = [];
    const file = this.fileFor(service, key);
    if (file !== null) {
      const value = await readSecretFile(file, service, key);
      if (value !== null) {
        this.#values.add(value);
        logger.debug("Secret {key} for {service} read from {file}", { key, service, file });
        return value;
      }
      notes.push(`not in ${file}`);
    }
    if (this.#update) {
      if (this.#prompt === null) {
        throw new MissingSecretError(
          service,
          key,
          `Cannot update the secret ${key} for ${service}: --update-secrets asks on the terminal, but stdin is not a terminal; ${
            howToSet(service, key, this.#dir)
          }`,
        );
      }
      return await this.#ask(service, key);
    }
    if (this.#keychain === null) {
      notes.push("no keychain on this system");
    } else {
      try {
        const value = await this.#keychain.get(service, key);
        if (value !== null) {
          this.#values.add(value);
          logger.debug("Secret {key} for {service} read from {keychain}", {
            key,
            service,
            keychain: this.#keychain.name,
          });
          return value;
        }
        notes.push(`not in ${this.#keychain.name}`);
      } catch (error) {
        notes.push((error as Error).message);
      }
    }
    if (this.#prompt !== null) return await this.#ask(service, key);
    notes.push("stdin is not a terminal to ask");
    throw new MissingSecretError(
      service,
      key,
      `Cannot find the secret ${key} for ${service}: ${notes.join("; ")}; ${
        howToSet(service, key, this.#dir)
      }`,
    );
  }

  #ask(service: string, key: string): Promise<string> {
    const prompt = this.#prompt;
    const run = async (): Promise<string> => {
      const value = prompt === null ? null : await prompt(`Enter the ${service} ${key}: `);
      if (value === null || value === "") {
        throw new MissingSecretError(
          service,
          key,
          `Cannot use the secret ${key} for ${service}: nothing was entered; ${
            howToSet(service, key, this.#dir)
          }`,
        );
      }
      this.#values.add(value);
      if (this.#store && this.#keychain !== null) {
        try {
          await this.#keychain.set(service, key, value);
          logger.info("Stored {key} for {service} in {keychain}", {
            key,
            service,
            keychain: this.#keychain.name,
          });
        } catch (error) {
          logger.warn("Cannot store {key} for {service}: {error}", {
            key,
            service,
            error: (error as Error).message,
          });
        }
      }
      return value;
    };
    // one prompt at a time, even when brains start in parallel
    const next = this.#prompting.then(run, run);
    this.#prompting = next.catch(() => undefined);
    return next;
  }
}

/** Secret files already warned about, so a loop warns once per file. */
const warnedFiles = new Set<string>();

/**
 * Why a secret file is too open — its group or others may read or write it — with the mode
 * it should have; null when only its owner can (or the system keeps no modes).
 */
export async function secretFileWarning(path: string): Promise<string | null> {
  const { mode } = await Deno.stat(path);
  if (mode === null || (mode & 0o077) === 0) return null;
  const octal = (mode & 0o777).toString(8).padStart(3, "0");
  return `The secret file ${path} can be read or written by its group or others (mode ${octal}); ` +
    `make it readable by var's user only: chmod 600 ${path}`;
}

/** Reads a secret file: trailing newlines stripped; null when absent or empty. */
async function readSecretFile(path: string, service: string, key: string): Promise<string | null> {
  try {
    const value = stripNewlines(await Deno.readTextFile(path));
    if (!warnedFiles.has(path)) {
      const warning = await secretFileWarning(path);
      if (warning !== null) {
        warnedFiles.add(path);
        logger.warn("{warning}", { warning });
      }
    }
    return value === "" ? null : value;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw new MissingSecretError(
      service,
      key,
      `Cannot read the secret file ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}
