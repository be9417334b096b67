/**
 * Reads `var.env` into the typed {@linkcode Config}: every setting of engine.md §1 with the
 * original's key names and defaults, plus var's own keys, and every vendor client's keys
 * (declared by the client definitions in `clients/mod.ts`).
 *
 * A bad file is refused before anything is contacted, with every problem listed: each one
 * names the file, the line, the key, the value and what is allowed.
 *
 * @module
 */

import { neverBlockLines, parseNeverBlock } from "./engine/never_block.ts";
import { parse } from "dotenv";
import { normalizeIp } from "./engine/ip.ts";
import { maskUrlCredentials } from "./engine/text.ts";
import type { ClientDefinition } from "./clients/interface.ts";
import type {
  AccountPolicy,
  BlockType,
  BrainConfig,
  Config,
  EmailConfig,
  HostPolicy,
  ScoreThreshold,
  SyslogConfig,
  WindowConfig,
} from "./config_types.ts";
import { errorText } from "./engine/error_text.ts";

/** One core key of `var.env`: its name, default as written in the file, and help. */
export interface KeySpec {
  /** The key, e.g. `BLOCK_DAYS`. */
  readonly key: string;
  /** The default as written in `var.env`; "" means not set. */
  readonly default: string;
  /** One or more lines of help for `var config template`. */
  readonly help: string;
  /** The template section the key belongs to. */
  readonly section: string;
}

const BRAINS = "Brains, authentication, clients, cadence";
const WINDOW = "Blocking window";
const HOSTS = "Host blocking";
const DETECTIONS = "Detection (external destination) blocking";
const ACCOUNTS = "Account blocking";
const SAFETY = "Safety limits";
const EMAIL = "Email notifications";
const SYSLOG = "Syslog notifications";

/** Every core key, in template order, with the original's defaults (engine.md §1). */
export const CORE_KEYS: readonly KeySpec[] = [
  {
    key: "COGNITO_URL",
    default: "",
    section: BRAINS,
    help: "One entry per brain, comma-separated: a hostname or URL (brain.example.com,\n" +
      "https://123.uw2.portal.vectra.ai). The entry as written is also the secret's service name.",
  },
  {
    key: "AUTH",
    default: "OAUTH",
    section: BRAINS,
    help: "v2 brains: OAUTH (API client id and secret) or TOKEN (personal API token).\n" +
      "v3 brains always use OAuth.",
  },
  {
    key: "VECTRA_API_VERSION",
    default: "auto",
    section: BRAINS,
    help: "auto (v3 when the URL contains portal.vectra.ai, else 2), 2, 2.5, 3, 3.3 or 3.4;\n" +
      "one value for every brain, or one per COGNITO_URL entry in the same order.",
  },
  {
    key: "VECTRA_CA_FILE",
    default: "",
    section: BRAINS,
    help: "PEM file of a CA to trust for the brains, in addition to the system roots.",
  },
  {
    key: "VECTRA_VERIFY_TLS",
    default: "true",
    section: BRAINS,
    help: "Verify the brains' TLS certificates. false only for a lab (logs a warning).",
  },
  {
    key: "THIRD_PARTY_CLIENTS",
    default: "test_client",
    section: BRAINS,
    help: "Clients to drive, in this order, for every brain (see `var config template`\n" +
      "for each client's keys).",
  },
  {
    key: "BLOCK_TYPES",
    default: "host,account,detection,static",
    section: BRAINS,
    help: "Which kinds of blocking run: host, account, detection, static.",
  },
  {
    key: "SLEEP_MINUTES",
    default: "5",
    section: BRAINS,
    help: "Pause between cycles with --loop, in minutes.",
  },
  {
    key: "HEALTH_LISTEN",
    default: "127.0.0.1:8080",
    section: BRAINS,
    help: "host:port of /health, /ready and /metrics with --loop; empty disables.",
  },
  {
    key: "BLOCK_DAYS",
    default: "",
    section: WINDOW,
    help: "Days on which actions may run: week, weekday, weekend, or day names\n" +
      "(monday ... sunday). Empty means every day.",
  },
  {
    key: "BLOCK_START_TIME",
    default: "0",
    section: WINDOW,
    help: "Hour (0-23, local time) the window opens; empty means the whole day.",
  },
  {
    key: "BLOCK_END_TIME",
    default: "0",
    section: WINDOW,
    help: "Hour (0-23, local time) the window closes; equal to the start means 24 hours;\n" +
      "earlier than the start means overnight.",
  },
  {
    key: "UNBLOCK_OUTSIDE_WINDOW",
    default: "false",
    section: WINDOW,
    help: "true lets unblocks run outside the window (blocks never do).",
  },
  {
    key: "EXPLICIT_UNBLOCK",
    default: "false",
    section: WINDOW,
    help: "false: unblock as soon as an entity no longer matches. true: unblock only on the\n" +
      "kind's unblock tag or no-block group membership.",
  },
  {
    key: "BLOCK_HOST_TAG",
    default: "vectra_host_block",
    section: HOSTS,
    help: "Hosts carrying this tag are blocked; empty switches the criterion off.",
  },
  {
    key: "UNBLOCK_HOST_TAG",
    default: "vectra_host_unblock",
    section: HOSTS,
    help: "With EXPLICIT_UNBLOCK, hosts carrying this tag are unblocked.",
  },
  {
    key: "NO_BLOCK_HOST_GROUP_NAME",
    default: "NoBlock",
    section: HOSTS,
    help: "Host group whose members are never blocked (and unblocked if blocked).",
  },
  {
    key: "BLOCK_HOST_GROUP_NAME",
    default: "Block",
    section: HOSTS,
    help: "Host group whose members are all blocked; empty switches it off.",
  },
  {
    key: "BLOCK_HOST_THREAT_CERTAINTY",
    default: "100 and 100",
    section: HOSTS,
    help: "Block hosts with threat >= T and/or certainty >= C, written `T and C` or `T or C`\n" +
      "(0-100; 100 matches nothing). v3 brains use it only when BLOCK_HOST_URGENCY is empty.",
  },
  {
    key: "BLOCK_HOST_URGENCY",
    default: "101",
    section: HOSTS,
    help: "v3 only: block hosts with urgency score >= this (0-101; 101 matches nothing).\n" +
      "Empty makes v3 brains use BLOCK_HOST_THREAT_CERTAINTY.",
  },
  {
    key: "BLOCK_HOST_DETECTION_TYPES",
    default: "",
    section: HOSTS,
    help: "Detection types (e.g. External Remote Access, Hidden DNS Tunnel) whose active\n" +
      "detections get their source host blocked.",
  },
  {
    key: "BLOCK_HOST_DETECTION_TYPES_MIN_TC_SCORE",
    default: "100 and 100",
    section: HOSTS,
    help: "Minimum host scores for BLOCK_HOST_DETECTION_TYPES, `T and C` or `T or C` (>=).",
  },
  {
    key: "EXTERNAL_BLOCK_HOST_TC",
    default: "100 and 100",
    section: DETECTIONS,
    help: "Block every active detection of hosts with threat >= T and/or certainty >= C.",
  },
  {
    key: "EXTERNAL_BLOCK_DETECTION_TAG",
    default: "block",
    section: DETECTIONS,
    help: "Detections carrying this exact tag are blocked.",
  },
  {
    key: "EXTERNAL_UNBLOCK_DETECTION_TAG",
    default: "unblock",
    section: DETECTIONS,
    help: "With EXPLICIT_UNBLOCK, detections carrying this tag are unblocked.",
  },
  {
    key: "EXTERNAL_BLOCK_DETECTION_TYPES",
    default: "",
    section: DETECTIONS,
    help: "Active detections of these types are blocked, whatever their score.",
  },
  {
    key: "STATIC_BLOCK_DESTINATION_IPS",
    default: "static_dst_ips_to_block.txt",
    section: DETECTIONS,
    help: "File of destination IPs and networks to block, one per line (# comments allowed);\n" +
      "a relative path is read from this file's folder. The file must exist.",
  },
  {
    key: "BLOCK_ACCOUNT_TAG",
    default: "vectra_account_block",
    section: ACCOUNTS,
    help: "Accounts carrying this tag are blocked; empty switches the criterion off.",
  },
  {
    key: "UNBLOCK_ACCOUNT_TAG",
    default: "vectra_account_unblock",
    section: ACCOUNTS,
    help: "With EXPLICIT_UNBLOCK, accounts carrying this tag are unblocked.",
  },
  {
    key: "NO_BLOCK_ACCOUNT_GROUP_NAME",
    default: "NoBlock",
    section: ACCOUNTS,
    help: "Account group whose members are never blocked (and unblocked if blocked).",
  },
  {
    key: "BLOCK_ACCOUNT_GROUP_NAME",
    default: "Block",
    section: ACCOUNTS,
    help: "Account group whose members are all blocked; empty switches it off.",
  },
  {
    key: "BLOCK_ACCOUNT_THREAT_CERTAINTY",
    default: "100 and 100",
    section: ACCOUNTS,
    help: "As BLOCK_HOST_THREAT_CERTAINTY, for accounts.",
  },
  {
    key: "BLOCK_ACCOUNT_URGENCY",
    default: "101",
    section: ACCOUNTS,
    help: "As BLOCK_HOST_URGENCY, for accounts (v3 only).",
  },
  {
    key: "BLOCK_ACCOUNT_DETECTION_TYPES",
    default: "",
    section: ACCOUNTS,
    help: "Detection types whose active detections get their source account blocked.",
  },
  {
    key: "BLOCK_ACCOUNT_DETECTION_TYPES_MIN_TC_SCORE",
    default: "100 and 100",
    section: ACCOUNTS,
    help: "Minimum account scores for BLOCK_ACCOUNT_DETECTION_TYPES (>=).",
  },
  {
    key: "NEVER_BLOCK_ADDRESSES",
    default: "",
    section: SAFETY,
    help: "Addresses and networks never blocked, whatever a brain says (hosts, detection\n" +
      "destinations, static entries): IPv4/IPv6 CIDRs, comma-separated, or @/path/to/file\n" +
      "with one per line and # comments. A blocked entity they come to cover is unblocked.",
  },
  {
    key: "HOST_BLOCK_EXPIRE_HOURS",
    default: "",
    section: SAFETY,
    help: "Hours after which a host block held only by automatic criteria (scores, urgency,\n" +
      "detection types) is released and marked VAR Block Expired; it is not blocked\n" +
      "automatically again until those criteria stop matching. Tag and group blocks never\n" +
      "expire. Empty: never.",
  },
  {
    key: "ACCOUNT_BLOCK_EXPIRE_HOURS",
    default: "",
    section: SAFETY,
    help: "As HOST_BLOCK_EXPIRE_HOURS, for accounts.",
  },
  {
    key: "DETECTION_BLOCK_EXPIRE_HOURS",
    default: "",
    section: SAFETY,
    help: "As HOST_BLOCK_EXPIRE_HOURS, for detections (blocked by type or source host scores).",
  },
  {
    key: "MAX_BLOCKS_PER_CYCLE",
    default: "10",
    section: SAFETY,
    help: "Per kind: a cycle planning more new blocks than this blocks nothing of that kind\n" +
      "and exits 2, until the limit is raised or `var run --confirm-blast-radius` runs once.",
  },
  {
    key: "MAX_BLOCKED_TOTAL",
    default: "100",
    section: SAFETY,
    help: "Per kind: blocks that would take the number of blocked entities above this are refused.",
  },
  {
    key: "MAX_UNBLOCKS_PER_CYCLE",
    default: "25",
    section: SAFETY,
    help: "Per kind: a cycle planning more unblocks than this unblocks nothing of that kind.",
  },
  {
    key: "VERIFY_EVERY_CYCLES",
    default: "1",
    section: SAFETY,
    help: "Compare what the clients enforce with the recorded state every N cycles (0 = off).",
  },
  {
    key: "ACCOUNT_GROUP_REFRESH_MINUTES",
    default: "60",
    section: SAFETY,
    help:
      "With --loop: remember which account each account-group member names for at most this many minutes (0 = look every member up every cycle). The no-block group is always looked up afresh before an account is blocked.",
  },
  {
    key: "SEND_EMAIL",
    default: "false",
    section: EMAIL,
    help: "Send a summary email after every cycle that did something.",
  },
  { key: "SMTP_SERVER", default: "", section: EMAIL, help: "SMTP server name or IP." },
  { key: "SMTP_PORT", default: "25", section: EMAIL, help: "SMTP port." },
  {
    key: "SMTP_TLS",
    default: "starttls",
    section: EMAIL,
    help: "starttls (mandatory, verified), implicit (TLS from the first byte) or none\n" +
      "(plain text; SMTP_AUTH is then refused).",
  },
  {
    key: "SMTP_CA_FILE",
    default: "",
    section: EMAIL,
    help: "PEM file of a CA to trust for the SMTP server, in addition to the system roots.",
  },
  { key: "SRC_EMAIL", default: "example@email.com", section: EMAIL, help: "Sender address." },
  { key: "DST_EMAIL", default: "example@email.com", section: EMAIL, help: "Recipient address." },
  {
    key: "SMTP_AUTH",
    default: "false",
    section: EMAIL,
    help: "Log in as SMTP_USER with the secret VAR / Email.",
  },
  { key: "SMTP_USER", default: "user", section: EMAIL, help: "SMTP login name." },
  {
    key: "SEND_SYSLOG",
    default: "false",
    section: SYSLOG,
    help: "Send one syslog event per action and one summary per cycle.",
  },
  { key: "SYSLOG_SERVER", default: "", section: SYSLOG, help: "Syslog collector name or IP." },
  { key: "SYSLOG_PORT", default: "514", section: SYSLOG, help: "Syslog collector port." },
  { key: "SYSLOG_PROTO", default: "TCP", section: SYSLOG, help: "TCP or UDP." },
  { key: "SYSLOG_FORMAT", default: "CEF", section: SYSLOG, help: "CEF or Standard." },
];

const CORE_KEY_MAP: ReadonlyMap<string, KeySpec> = new Map(CORE_KEYS.map((k) => [k.key, k]));

/** A problem in the configuration file; `main.ts` exits 1 on it. */
export class ConfigError extends Error {
  /** The file the problem is in. */
  readonly file: string;
  /** The 1-based line, or null when the key is not in the file (its default is used). */
  readonly line: number | null;
  /** The key concerned, or null for a line that is not an assignment. */
  readonly key: string | null;

  constructor(
    message: string,
    options: ErrorOptions & { file: string; line: number | null; key: string | null },
  ) {
    super(maskUrlCredentials(message), options);
    this.name = "ConfigError";
    this.file = options.file;
    this.line = options.line;
    this.key = options.key;
  }
}

/** Every problem found in one configuration file. */
export class AggregateConfigError extends Error {
  /** The problems, in file order. */
  readonly errors: readonly ConfigError[];
  /** The file. */
  readonly file: string;

  constructor(file: string, errors: readonly ConfigError[]) {
    const count = errors.length === 1 ? "1 problem" : `${errors.length} problems`;
    super(`Cannot use ${file}: ${count}\n` + errors.map((e) => `  - ${e.message}`).join("\n"));
    this.name = "AggregateConfigError";
    this.file = file;
    this.errors = errors;
  }
}

/** One assignment read from the file. */
export interface ConfigEntry {
  readonly key: string;
  /** The value as dotenv parses it, trimmed. */
  readonly value: string;
  /** 1-based line of the key. */
  readonly line: number;
}

/** What {@linkcode parseConfig} and {@linkcode loadConfig} return. */
export interface LoadedConfig {
  readonly config: Config;
  /** Things that are allowed but unsafe (an `http://` brain, TLS verification off). */
  readonly warnings: readonly string[];
  /** The assignments as read, by key. */
  readonly entries: ReadonlyMap<string, ConfigEntry>;
}

/** Options of {@linkcode parseConfig}. */
export interface ParseConfigOptions {
  /** The file's path as the user gave it: named in messages, and the base of relative paths. */
  path: string;
  /** The registered client definitions (`CLIENTS` of `clients/mod.ts`). */
  clients: readonly ClientDefinition[];
}

// dotenv's own line grammar (dotenv 18, lib/main.js), with indices, so that every
// assignment can be tied to its line; values are still parsed by dotenv's `parse`.
const DOTENV_LINE =
  /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/mgd;

/** Splits a dotenv text into assignments with line numbers; reports duplicates and stray lines. */
export function readEntries(
  text: string,
  file: string,
): { entries: Map<string, ConfigEntry>; errors: ConfigError[] } {
  const source = text.replace(/\r\n?/g, "\n");
  const lineStarts = [0];
  for (let i = 0; i < source.length; i++) if (source[i] === "\n") lineStarts.push(i + 1);
  const lineOf = (offset: number): number => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((lineStarts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  const entries = new Map<string, ConfigEntry>();
  const errors: ConfigError[] = [];
  const covered = new Set<number>();
  for (const match of source.matchAll(DOTENV_LINE)) {
    const key = match[1];
    const keyStart = match.indices?.[1]?.[0];
    if (key === undefined || keyStart === undefined) continue;
    const line = lineOf(keyStart);
    const lastLine = lineOf(Math.max(keyStart, (match.index ?? 0) + match[0].length - 1));
    for (let l = line; l <= lastLine; l++) covered.add(l);
    const value = (parse(match[0].trim())[key] ?? "").trim();
    const previous = entries.get(key);
    if (previous) {
      errors.push(
        new ConfigError(
          `Cannot read ${key} in ${file} line ${line}: ${key} is already set on line ${previous.line}; keep one of them`,
          { file, line, key },
        ),
      );
      continue;
    }
    entries.set(key, { key, value, line });
  }
  const lines = source.split("\n");
  lines.forEach((text, index) => {
    const trimmed = text.trim();
    if (trimmed === "" || trimmed.startsWith("#") || covered.has(index + 1)) return;
    errors.push(
      new ConfigError(
        `Cannot read ${file} line ${
          index + 1
        }: the line is not a KEY=value assignment; write KEY=value, or start a comment with #`,
        { file, line: index + 1, key: null },
      ),
    );
  });
  return { entries, errors };
}

const DAY_NAMES = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
const BLOCK_TYPES: readonly BlockType[] = ["host", "account", "detection", "static"];

/** Reads values with their defaults and collects every problem. */
class Reader {
  readonly #entries: ReadonlyMap<string, ConfigEntry>;
  readonly #file: string;
  readonly errors: ConfigError[] = [];
  readonly warnings: string[] = [];

  constructor(entries: ReadonlyMap<string, ConfigEntry>, file: string) {
    this.#entries = entries;
    this.#file = file;
  }

  /** The value (entry or default) and its line. */
  raw(key: string, fallback?: string): { value: string; line: number | null } {
    const entry = this.#entries.get(key);
    if (entry) return { value: entry.value, line: entry.line };
    return { value: fallback ?? CORE_KEY_MAP.get(key)?.default ?? "", line: null };
  }

  /** Records a problem with a key: "Cannot read KEY in FILE line N: detail". */
  fail(key: string, detail: string): void {
    const line = this.#entries.get(key)?.line ?? null;
    const where = line === null ? `${this.#file} (default)` : `${this.#file} line ${line}`;
    this.errors.push(
      new ConfigError(`Cannot read ${key} in ${where}: ${detail}`, {
        file: this.#file,
        line,
        key,
      }),
    );
  }

  /** A string; empty means null. */
  string(key: string): string | null {
    const { value } = this.raw(key);
    return value === "" ? null : value;
  }

  /** A Vectra tag: empty means off; no commas. */
  tag(key: string): string | null {
    const value = this.string(key);
    if (value !== null && value.includes(",")) {
      this.fail(
        key,
        `"${value}" contains a comma; a tag is one word or phrase without commas (Vectra splits tag filters on commas)`,
      );
      return null;
    }
    return value;
  }

  /**
   * A boolean: true/false, yes/no, on/off, 1/0 (case-insensitive); empty means the key's
   * default, as for every other key (so `VECTRA_VERIFY_TLS=` verifies).
   */
  bool(key: string): boolean {
    const { value: given } = this.raw(key);
    const value = given === "" ? CORE_KEY_MAP.get(key)?.default ?? "" : given;
    const lower = value.toLowerCase();
    if (["true", "yes", "on", "1"].includes(lower)) return true;
    if (["false", "no", "off", "0", ""].includes(lower)) return false;
    this.fail(key, `"${value}" is not a boolean; use true or false`);
    return false;
  }

  /** An integer within [min, max]; empty is null when `optional`, else a problem. */
  int(key: string, min: number, max: number, what: string, optional = false): number | null {
    const { value } = this.raw(key);
    if (value === "") {
      if (!optional) this.fail(key, `it is empty; use ${what}`);
      return null;
    }
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      this.fail(key, `"${value}" is not ${what}`);
      return null;
    }
    return Number(value);
  }

  /**
   * A number above 0 and up to `max` (decimals allowed), in `unit`; empty is null when
   * `optional` (it then means never), else a problem.
   */
  positive(key: string, max: number, unit: string, optional = false): number | null {
    const { value } = this.raw(key);
    if (value === "" && optional) return null;
    const number = Number(value);
    if (!/^\d+(\.\d+)?$/.test(value) || number <= 0 || number > max) {
      this.fail(
        key,
        `"${value}" is not a number of ${unit}; use a number above 0 and up to ${max}` +
          (optional ? ", or empty for never" : ""),
      );
      return null;
    }
    return number;
  }

  /** One of a set of words (case-insensitive); returns the canonical spelling. */
  choice<T extends string>(key: string, allowed: readonly T[]): T | null {
    const { value } = this.raw(key);
    const found = allowed.find((a) => a.toLowerCase() === value.toLowerCase());
    if (found === undefined) {
      this.fail(key, `"${value}" is not allowed; use ${orList(allowed)}`);
      return null;
    }
    return found;
  }

  /** A comma-separated list; empty is []. Entries are trimmed and must be non-empty. */
  list(key: string): string[] {
    const { value } = this.raw(key);
    if (value === "") return [];
    if (/^\s*[[(]/.test(value)) {
      this.fail(
        key,
        `"${value}" looks like a Python list; write the entries comma-separated without brackets or quotes, e.g. a,b`,
      );
      return [];
    }
    const items = value.split(",").map((s) => s.trim());
    if (items.some((s) => s === "")) {
      this.fail(key, `"${value}" has an empty entry; separate entries with single commas`);
      return [];
    }
    const quoted = items.find((s) => /^["']|["']$/.test(s));
    if (quoted !== undefined) {
      this.fail(key, `entry ${quoted} is quoted; write the entries without quotes`);
      return [];
    }
    return items;
  }

  /** A threat/certainty threshold `T and C` / `T or C`; empty is null when `optional`. */
  tuple(key: string, optional: boolean): ScoreThreshold | null {
    const { value } = this.raw(key);
    const allowed =
      "`T and C` or `T or C` with integers 0-100 (100 matches nothing), e.g. 50 and 60";
    if (value === "") {
      if (!optional) this.fail(key, `it is empty; use ${allowed}`);
      return null;
    }
    const match = /^(\d+)\s+(and|or)\s+(\d+)$/i.exec(value);
    if (!match) {
      this.fail(key, `"${value}" is not a threshold; use ${allowed}`);
      return null;
    }
    const threat = Number(match[1]);
    const certainty = Number(match[3]);
    if (threat > 100 || certainty > 100) {
      this.fail(key, `"${value}" has a score above 100; use ${allowed}`);
      return null;
    }
    const op = (match[2] ?? "").toLowerCase() === "or" ? "or" : "and";
    return { threat, op, certainty };
  }
}

function orList(items: readonly string[]): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} or ${items[items.length - 1]}`;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const saved = row[j] ?? 0;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((row[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, previous + cost);
      previous = saved;
    }
  }
  return row[b.length] ?? 0;
}

function closest(word: string, candidates: Iterable<string>): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(word.toUpperCase(), candidate.toUpperCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 4)) ? best : null;
}

/**
 * Finds a client by the name written in `THIRD_PARTY_CLIENTS`: its module name or one of
 * its aliases (engine.md §10.5), case-insensitive, surrounding spaces ignored. The one
 * lookup of a client by name; `clients` is the registry (`CLIENTS` of `clients/mod.ts`).
 */
export function findClientDefinition(
  name: string,
  clients: readonly ClientDefinition[],
): ClientDefinition | undefined {
  const wanted = name.trim().toLowerCase();
  return clients.find((c) =>
    c.name.toLowerCase() === wanted || c.aliases.some((a) => a.toLowerCase() === wanted)
  );
}

function parseBrains(reader: Reader): BrainConfig[] {
  const entries = reader.list("COGNITO_URL");
  const authValue = reader.choice("AUTH", ["OAUTH", "TOKEN"] as const);
  const auth = authValue === "TOKEN" ? "token" : "oauth";
  if (entries.length === 0 && reader.raw("COGNITO_URL").value === "") {
    reader.fail(
      "COGNITO_URL",
      "it is empty; give at least one brain, e.g. COGNITO_URL=https://brain.example.com",
    );
    return [];
  }
  const versions = reader.list("VECTRA_API_VERSION");
  const allowedVersions = ["auto", "2", "2.5", "3", "3.3", "3.4"];
  if (versions.length !== 1 && versions.length !== entries.length) {
    reader.fail(
      "VECTRA_API_VERSION",
      `"${
        reader.raw("VECTRA_API_VERSION").value
      }" has ${versions.length} entries for ${entries.length} brains; give one value, or one per COGNITO_URL entry`,
    );
  }
  const brains: BrainConfig[] = [];
  const seen = new Map<string, string>();
  entries.forEach((entry, index) => {
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(entry)?.[1]?.toLowerCase();
    if (scheme !== undefined && scheme !== "https" && scheme !== "http") {
      reader.fail("COGNITO_URL", `"${entry}" uses ${scheme}://; use https:// (http:// for a lab)`);
      return;
    }
    const withScheme = scheme === undefined ? `https://${entry}` : entry;
    let url: URL;
    try {
      url = new URL(withScheme);
    } catch {
      reader.fail("COGNITO_URL", `"${entry}" is not a host name or URL`);
      return;
    }
    if (url.hostname === "" || url.search !== "" || url.hash !== "" || url.username !== "") {
      reader.fail(
        "COGNITO_URL",
        `"${entry}" is not a brain address; use a host name or https://host[:port] without query, fragment or user`,
      );
      return;
    }
    const path = url.pathname.replace(/\/$/, "");
    const baseUrl = `${url.protocol}//${url.host}${path}`;
    if (url.protocol === "http:") {
      reader.warnings.push(
        `Brain "${entry}" uses http://: its secrets and data cross the network unencrypted; use https:// outside a lab`,
      );
    }
    const other = seen.get(baseUrl);
    if (other !== undefined) {
      reader.fail("COGNITO_URL", `"${entry}" is the same brain as "${other}"; list it once`);
      return;
    }
    seen.set(baseUrl, entry);
    const version = versions.length === 1 ? versions[0] : versions[index];
    let apiVersion: BrainConfig["apiVersion"] = "2.5";
    switch (version?.toLowerCase()) {
      case "auto":
      case undefined:
        apiVersion = entry.includes("portal.vectra.ai") ? "3.4" : "2.5";
        break;
      case "2":
      case "2.5":
        apiVersion = "2.5";
        break;
      case "3":
      case "3.4":
        apiVersion = "3.4";
        break;
      case "3.3":
        apiVersion = "3.3";
        break;
      default:
        if (index === 0 || versions.length > 1) {
          reader.fail(
            "VECTRA_API_VERSION",
            `"${version}" is not an API version; use ${orList(allowedVersions)}`,
          );
        }
        return;
    }
    brains.push({ entry, baseUrl, apiVersion, auth });
  });
  return brains;
}

/** The longest block expiry: ten years of hours. */
const MAX_EXPIRE_HOURS = 87_600;

function parseWindow(reader: Reader): WindowConfig {
  const entries = reader.list("BLOCK_DAYS").map((d) => d.toLowerCase());
  const days = new Set<number>();
  const allowed = "week, weekday, weekend or monday ... sunday";
  for (const entry of entries) {
    if (!["week", "weekday", "weekend"].includes(entry) && !DAY_NAMES.includes(entry)) {
      reader.fail("BLOCK_DAYS", `"${entry}" is not a day; use ${allowed}`);
    }
  }
  if (entries.length === 0 || entries.includes("week")) {
    for (let d = 0; d < 7; d++) days.add(d);
  } else if (entries.includes("weekday")) {
    for (let d = 1; d <= 5; d++) days.add(d);
  } else if (entries.includes("weekend")) {
    days.add(0).add(6);
  } else {
    for (const entry of entries) {
      const d = DAY_NAMES.indexOf(entry);
      if (d >= 0) days.add(d);
    }
  }
  const keywords = entries.filter((e) => ["week", "weekday", "weekend"].includes(e));
  const names = entries.filter((e) => DAY_NAMES.includes(e));
  if (keywords.length > 0 && names.length > 0) {
    reader.warnings.push(
      `BLOCK_DAYS mixes ${keywords.join(", ")} with day names; the day names ${
        names.join(", ")
      } are ignored`,
    );
  }
  const hours = "an hour 0-23, or empty for the whole day";
  return {
    days,
    startHour: reader.int("BLOCK_START_TIME", 0, 23, hours, true),
    endHour: reader.int("BLOCK_END_TIME", 0, 23, hours, true),
    unblockOutside: reader.bool("UNBLOCK_OUTSIDE_WINDOW"),
  };
}

function parsePolicy(reader: Reader, kind: "HOST" | "ACCOUNT"): HostPolicy & AccountPolicy {
  const urgency = "an integer 0-101 (101 matches nothing), or empty to use the threshold";
  const policy = {
    blockTag: reader.tag(`BLOCK_${kind}_TAG`),
    unblockTag: reader.tag(`UNBLOCK_${kind}_TAG`),
    noBlockGroup: reader.string(`NO_BLOCK_${kind}_GROUP_NAME`),
    blockGroup: reader.string(`BLOCK_${kind}_GROUP_NAME`),
    threatCertainty: reader.tuple(`BLOCK_${kind}_THREAT_CERTAINTY`, true),
    urgency: reader.int(`BLOCK_${kind}_URGENCY`, 0, 101, urgency, true),
    detectionTypes: reader.list(`BLOCK_${kind}_DETECTION_TYPES`),
    detectionTypesMinScore: reader.tuple(`BLOCK_${kind}_DETECTION_TYPES_MIN_TC_SCORE`, false) ??
      { threat: 100, op: "and" as const, certainty: 100 },
  };
  if (policy.blockTag !== null && policy.blockTag === policy.unblockTag) {
    reader.fail(
      `UNBLOCK_${kind}_TAG`,
      `"${policy.unblockTag}" is also BLOCK_${kind}_TAG; the unblock tag must differ from the block tag`,
    );
  }
  if (policy.noBlockGroup !== null && policy.noBlockGroup === policy.blockGroup) {
    reader.fail(
      `BLOCK_${kind}_GROUP_NAME`,
      `"${policy.blockGroup}" is also NO_BLOCK_${kind}_GROUP_NAME; use two different groups`,
    );
  }
  return policy;
}

function parseEmail(reader: Reader): EmailConfig {
  const port = "a port 1-65535";
  const email: EmailConfig = {
    enabled: reader.bool("SEND_EMAIL"),
    server: reader.string("SMTP_SERVER") ?? "",
    port: reader.int("SMTP_PORT", 1, 65535, port) ?? 25,
    from: reader.string("SRC_EMAIL") ?? "",
    to: reader.string("DST_EMAIL") ?? "",
    auth: reader.bool("SMTP_AUTH"),
    user: reader.string("SMTP_USER") ?? "",
    tls: reader.choice("SMTP_TLS", ["starttls", "implicit", "none"] as const) ?? "starttls",
    caFile: reader.string("SMTP_CA_FILE"),
  };
  if (email.enabled && email.server === "") {
    reader.fail("SMTP_SERVER", "it is empty while SEND_EMAIL is true; give the SMTP server");
  }
  for (const key of ["SRC_EMAIL", "DST_EMAIL"] as const) {
    const value = key === "SRC_EMAIL" ? email.from : email.to;
    if (email.enabled && !/^[^\s@]+@[^\s@]+$/.test(value)) {
      reader.fail(key, `"${value}" is not an email address; use name@domain`);
    }
  }
  if (email.auth && email.tls === "none") {
    reader.fail(
      "SMTP_TLS",
      "none while SMTP_AUTH is true; the password would cross the network in clear: use starttls or implicit",
    );
  }
  if (email.auth && email.user === "") {
    reader.fail("SMTP_USER", "it is empty while SMTP_AUTH is true; give the login name");
  }
  return email;
}

function parseSyslog(reader: Reader): SyslogConfig {
  const syslog: SyslogConfig = {
    enabled: reader.bool("SEND_SYSLOG"),
    server: reader.string("SYSLOG_SERVER") ?? "",
    port: reader.int("SYSLOG_PORT", 1, 65535, "a port 1-65535") ?? 514,
    proto: reader.choice("SYSLOG_PROTO", ["TCP", "UDP"] as const) ?? "TCP",
    format: reader.choice("SYSLOG_FORMAT", ["CEF", "Standard"] as const) ?? "CEF",
  };
  if (syslog.enabled && syslog.server === "") {
    reader.fail("SYSLOG_SERVER", "it is empty while SEND_SYSLOG is true; give the collector");
  }
  return syslog;
}

function parseHealth(reader: Reader): Config["healthListen"] {
  const { value } = reader.raw("HEALTH_LISTEN");
  if (value === "") return null;
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || port > 65535) {
    reader.fail(
      "HEALTH_LISTEN",
      `"${value}" is not host:port; use e.g. 127.0.0.1:8080 or [::1]:8080, or empty to disable`,
    );
    return null;
  }
  const hostname = match[1] ?? match[2] ?? "";
  const address = normalizeIp(hostname);
  const loopback = hostname.toLowerCase() === "localhost" ||
    (address !== null && (address === "::1" || /^127\./.test(address)));
  if (!loopback) {
    reader.warnings.push(
      `HEALTH_LISTEN is ${value}, not a loopback address: /health, /ready and /metrics (brain names, cycle results and counts) are served to the network; use 127.0.0.1 unless a monitoring host must reach them, and then restrict it with a firewall`,
    );
  }
  return { hostname, port };
}

function dirnameOf(path: string): string {
  const index = path.lastIndexOf("/");
  if (index < 0) return ".";
  return index === 0 ? "/" : path.slice(0, index);
}

function resolvePath(base: string, path: string): string {
  if (path.startsWith("/")) return path;
  const dir = dirnameOf(base);
  return dir === "." ? path : `${dir}/${path}`;
}

/** Parses the text of a `var.env` file; throws an {@linkcode AggregateConfigError} listing every problem. */
export function parseConfig(text: string, options: ParseConfigOptions): LoadedConfig {
  const { path, clients } = options;
  const { entries, errors: syntaxErrors } = readEntries(text, path);
  const reader = new Reader(entries, path);

  const clientKeyOwner = new Map<string, ClientDefinition>();
  for (const definition of clients) {
    for (const key of definition.keys) clientKeyOwner.set(key.key, definition);
  }
  for (const entry of entries.values()) {
    if (CORE_KEY_MAP.has(entry.key) || clientKeyOwner.has(entry.key)) continue;
    const suggestion = closest(entry.key, [...CORE_KEY_MAP.keys(), ...clientKeyOwner.keys()]);
    reader.fail(
      entry.key,
      `${entry.key} is not a known key${
        suggestion ? `; did you mean ${suggestion}?` : ""
      } (see \`var config template\`; secrets never go in this file: use \`var secrets set\`)`,
    );
  }

  const brains = parseBrains(reader);
  const clientNames: string[] = [];
  const configured: ClientDefinition[] = [];
  const clientList = reader.list("THIRD_PARTY_CLIENTS");
  for (const name of clientList) {
    const definition = findClientDefinition(name, clients);
    if (definition === undefined) {
      reader.fail(
        "THIRD_PARTY_CLIENTS",
        `"${name}" is not a known client; use ${orList(clients.map((c) => c.name))}`,
      );
    } else if (clientNames.includes(definition.name)) {
      reader.fail("THIRD_PARTY_CLIENTS", `"${name}" is listed twice; list each client once`);
    } else {
      clientNames.push(definition.name);
      configured.push(definition);
    }
  }
  if (clientNames.includes("test_client")) {
    reader.warnings.push(
      "THIRD_PARTY_CLIENTS includes test_client, which enforces nothing: entities are tagged as blocked but no device blocks them",
    );
  }
  if (clientList.length === 0 && reader.raw("THIRD_PARTY_CLIENTS").value === "") {
    reader.fail(
      "THIRD_PARTY_CLIENTS",
      `it is empty; give at least one client: ${orList(clients.map((c) => c.name))}`,
    );
  }

  const blockTypes = new Set<BlockType>();
  for (const type of reader.list("BLOCK_TYPES")) {
    const found = BLOCK_TYPES.find((t) => t === type.toLowerCase());
    if (found === undefined) {
      reader.fail("BLOCK_TYPES", `"${type}" is not a kind of blocking; use ${orList(BLOCK_TYPES)}`);
    } else blockTypes.add(found);
  }
  if (reader.raw("BLOCK_TYPES").value === "") {
    reader.fail("BLOCK_TYPES", `it is empty; give at least one of ${orList(BLOCK_TYPES)}`);
  }

  const sleepMinutes = reader.positive("SLEEP_MINUTES", 1440, "minutes") ?? 5;

  const window = parseWindow(reader);
  const explicitUnblock = reader.bool("EXPLICIT_UNBLOCK");
  const host = parsePolicy(reader, "HOST");
  const account = parsePolicy(reader, "ACCOUNT");
  const detection = {
    hostThreatCertainty: reader.tuple("EXTERNAL_BLOCK_HOST_TC", true),
    blockTag: reader.tag("EXTERNAL_BLOCK_DETECTION_TAG"),
    unblockTag: reader.tag("EXTERNAL_UNBLOCK_DETECTION_TAG"),
    detectionTypes: reader.list("EXTERNAL_BLOCK_DETECTION_TYPES"),
  };
  if (detection.blockTag !== null && detection.blockTag === detection.unblockTag) {
    reader.fail(
      "EXTERNAL_UNBLOCK_DETECTION_TAG",
      `"${detection.unblockTag}" is also EXTERNAL_BLOCK_DETECTION_TAG; the unblock tag must differ from the block tag`,
    );
  }

  const staticValue = reader.raw("STATIC_BLOCK_DESTINATION_IPS").value;
  if (staticValue === "" && blockTypes.has("static")) {
    reader.fail(
      "STATIC_BLOCK_DESTINATION_IPS",
      "it is empty while BLOCK_TYPES includes static; give the file, or remove static from BLOCK_TYPES",
    );
  }
  const staticIpsFile = staticValue === "" ? "" : resolvePath(path, staticValue);

  const neverValue = reader.raw("NEVER_BLOCK_ADDRESSES").value.trim();
  const neverBlockFile = neverValue.startsWith("@")
    ? resolvePath(path, neverValue.slice(1).trim())
    : null;
  const neverBlock = neverBlockFile !== null ? [] : parseNeverBlock(
    neverValue.split(",").map((text) => ({ text, where: "NEVER_BLOCK_ADDRESSES" })),
    (_where, message) => reader.fail("NEVER_BLOCK_ADDRESSES", message),
  );

  const blockExpireHours = {
    host: reader.positive("HOST_BLOCK_EXPIRE_HOURS", MAX_EXPIRE_HOURS, "hours", true),
    account: reader.positive("ACCOUNT_BLOCK_EXPIRE_HOURS", MAX_EXPIRE_HOURS, "hours", true),
    detection: reader.positive("DETECTION_BLOCK_EXPIRE_HOURS", MAX_EXPIRE_HOURS, "hours", true),
  };

  const count = "an integer 0-1000000";
  const limits = {
    maxBlocksPerCycle: reader.int("MAX_BLOCKS_PER_CYCLE", 0, 1_000_000, count) ?? 10,
    maxBlockedTotal: reader.int("MAX_BLOCKED_TOTAL", 0, 1_000_000, count) ?? 100,
    maxUnblocksPerCycle: reader.int("MAX_UNBLOCKS_PER_CYCLE", 0, 1_000_000, count) ?? 25,
  };
  const verifyEveryCycles = reader.int("VERIFY_EVERY_CYCLES", 0, 1_000_000, count) ?? 1;
  const accountGroupRefreshMinutes =
    reader.int("ACCOUNT_GROUP_REFRESH_MINUTES", 0, 10_080, "an integer 0-10080 (a week)") ?? 60;
  const parsedEmail = parseEmail(reader);
  const smtpCaFile = parsedEmail.caFile ?? null;
  const email = {
    ...parsedEmail,
    caFile: smtpCaFile === null ? null : resolvePath(path, smtpCaFile),
  };
  const syslog = parseSyslog(reader);
  const caValue = reader.string("VECTRA_CA_FILE");
  const vectraVerifyTls = reader.bool("VECTRA_VERIFY_TLS");
  if (!vectraVerifyTls) {
    reader.warnings.push(
      "VECTRA_VERIFY_TLS is false: brain certificates are not checked, so anyone on the path can read the API secrets",
    );
  }
  const healthListen = parseHealth(reader);

  const clientConfigs = new Map<string, unknown>();
  for (const definition of configured) {
    const raw: Record<string, string> = {};
    for (const key of definition.keys) {
      const { value } = reader.raw(key.key, key.default);
      raw[key.key] = value;
      if (key.required && value === "") {
        reader.fail(
          key.key,
          `it is empty while THIRD_PARTY_CLIENTS includes ${definition.name}; ${key.help}`,
        );
      }
    }
    const result = definition.configSchema.safeParse(raw);
    if (result.success) {
      clientConfigs.set(definition.name, result.data);
      continue;
    }
    for (const issue of result.error.issues) {
      const key = typeof issue.path[0] === "string" ? issue.path[0] : definition.name;
      const value = raw[key];
      const shown = value === undefined ? "" : `"${value}": `;
      if (definition.keys.some((k) => k.key === key && k.required) && value === "") continue;
      reader.fail(key, `${shown}${issue.message} (client ${definition.name})`);
    }
  }

  const errors = [...syntaxErrors, ...reader.errors].sort((a, b) =>
    (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER)
  );
  if (errors.length > 0) throw new AggregateConfigError(path, errors);

  const config: Config = {
    path,
    brains,
    clients: clientNames,
    clientConfigs,
    sleepMinutes,
    blockTypes,
    explicitUnblock,
    window,
    host,
    account,
    detection,
    staticIpsFile,
    neverBlock,
    neverBlockFile,
    blockExpireHours,
    limits,
    email,
    syslog,
    vectraCaFile: caValue === null ? null : resolvePath(path, caValue),
    vectraVerifyTls,
    healthListen,
    verifyEveryCycles,
    accountGroupRefreshMinutes,
  };
  return { config, warnings: reader.warnings, entries };
}

/** Options of {@linkcode loadConfig}. */
export interface LoadConfigOptions {
  /** The registered client definitions (`CLIENTS` of `clients/mod.ts`). */
  clients: readonly ClientDefinition[];
  /**
   * Check that the files the configuration names exist (the static list, CA files);
   * commands that read none of them (`var secrets`) turn it off.
   * @default {true}
   */
  checkFiles?: boolean;
}

/**
 * Reads and parses a `var.env` file, and checks that the files it names exist (the static
 * destination list when static blocking runs, the CA file). Throws an
 * {@linkcode AggregateConfigError}.
 */
export async function loadConfig(path: string, options: LoadConfigOptions): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (cause) {
    const reason = cause instanceof Deno.errors.NotFound
      ? "the file does not exist; create it with `var config init > var.env` or `var config template > var.env`"
      : `${(cause as Error).message}`;
    throw new AggregateConfigError(path, [
      new ConfigError(`Cannot read ${path}: ${reason}`, {
        file: path,
        line: null,
        key: null,
        cause,
      }),
    ]);
  }
  const loaded = parseConfig(text, { path, clients: options.clients });
  if (options.checkFiles === false) return loaded;
  const problems: ConfigError[] = [];
  const { config, entries } = loaded;
  const smtpCa = config.email.caFile;
  const mustExist: [string, string | null][] = [
    ["STATIC_BLOCK_DESTINATION_IPS", config.blockTypes.has("static") ? config.staticIpsFile : null],
    ["VECTRA_CA_FILE", config.vectraCaFile],
    ["SMTP_CA_FILE", smtpCa === undefined ? null : smtpCa],
  ];
  for (const [key, file] of mustExist) {
    if (file === null || file === "") continue;
    try {
      const info = await Deno.stat(file);
      if (!info.isFile) throw new Deno.errors.NotFound(file);
    } catch {
      const line = entries.get(key)?.line ?? null;
      const where = line === null ? `${path} (default)` : `${path} line ${line}`;
      const hint = key === "STATIC_BLOCK_DESTINATION_IPS"
        ? "create it (a file with only # comments blocks nothing), or remove static from BLOCK_TYPES"
        : "give the path of a PEM file";
      problems.push(
        new ConfigError(`Cannot read ${key} in ${where}: file "${file}" does not exist; ${hint}`, {
          file: path,
          line,
          key,
        }),
      );
    }
  }
  let neverBlock = config.neverBlock;
  const neverFile = config.neverBlockFile;
  if (neverFile !== null) {
    const line = entries.get("NEVER_BLOCK_ADDRESSES")?.line ?? null;
    const fail = (where: string, message: string) =>
      problems.push(
        new ConfigError(`NEVER_BLOCK_ADDRESSES: ${where}: ${message}`, {
          file: path,
          line,
          key: "NEVER_BLOCK_ADDRESSES",
        }),
      );
    try {
      neverBlock = parseNeverBlock(
        neverBlockLines(neverFile, await Deno.readTextFile(neverFile)),
        fail,
      );
    } catch (error) {
      fail(
        neverFile,
        `cannot read the file: ${errorText(error)}`,
      );
    }
  }
  if (problems.length > 0) throw new AggregateConfigError(path, problems);
  return neverFile === null ? loaded : { ...loaded, config: { ...config, neverBlock } };
}

function quoteValue(value: string): string {
  if (!/[#"'`\n]|^\s|\s$/.test(value)) return value;
  return value.includes("'") ? `"${value}"` : `'${value}'`;
}

function commentLines(help: string): string {
  return help.split("\n").map((l) => `# ${l}`).join("\n");
}

/** Options of {@linkcode configTemplate}. */
export interface ConfigTemplateOptions {
  /** Values to write instead of the defaults, by key (used by `var config init`). */
  values?: ReadonlyMap<string, string>;
}

/**
 * A commented `var.env` with every core key and every client's keys, each with its default
 * and help. Keys of clients not in `THIRD_PARTY_CLIENTS` are commented out.
 */
export function configTemplate(
  clients: readonly ClientDefinition[],
  options: ConfigTemplateOptions = {},
): string {
  const values = options.values ?? new Map<string, string>();
  const out: string[] = [
    "# var configuration (dotenv syntax). Generated by `var config template`.",
    "# Lists are comma-separated; an empty value means not set (the original's None).",
    "# Secrets never go in this file: use `var secrets set SERVICE KEY` or --secrets-dir.",
  ];
  let section = "";
  for (const spec of CORE_KEYS) {
    if (spec.section !== section) {
      section = spec.section;
      out.push("", `# ---- ${section} ----`);
    }
    out.push(
      "",
      commentLines(spec.help),
      `${spec.key}=${quoteValue(values.get(spec.key) ?? spec.default)}`,
    );
  }
  const configuredValue = values.get("THIRD_PARTY_CLIENTS") ??
    CORE_KEY_MAP.get("THIRD_PARTY_CLIENTS")?.default ?? "";
  const configured = new Set(
    configuredValue.split(",").map((n) => findClientDefinition(n.trim(), clients)?.name),
  );
  for (const definition of clients) {
    if (definition.keys.length === 0) continue;
    const active = configured.has(definition.name);
    const names = [definition.name, ...definition.aliases].join(", ");
    out.push(
      "",
      `# ---- Client ${definition.name} (${names}; docs/clients/${definition.name}.md)${
        active ? "" : ": remove the leading # to use"
      } ----`,
    );
    for (const key of definition.keys) {
      const value = values.get(key.key) ?? key.default;
      const required = key.required ? " (required)" : "";
      out.push(
        "",
        commentLines(key.help + required),
        `${active ? "" : "# "}${key.key}=${quoteValue(value)}`,
      );
    }
  }
  return out.join("\n") + "\n";
}
