/**
 * Logging (engine.md §9.1): logtape configured for var. Text lines
 * `YYYY-MM-DD HH:MM:SS LEVEL [brain] message {props}` (local time, the original's level
 * names), or with `--json` one JSON object per line. Every line passes through
 * `@logtape/redaction`: every secret value looked up so far (see `engine/secrets.ts`) and
 * every `Authorization` header or `Bearer`/`Token` credential is replaced by `[REDACTED]`.
 *
 * Loggers live under the category `var` (`getLogger(["var", "cycle"])`); a `brain` property
 * (directly or through `withContext({ brain })`) is shown as `[brain]`.
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";
import { configure, type LogLevel, type LogRecord, reset, type Sink } from "@logtape/logtape";
import {
  JWT_PATTERN,
  redactByField,
  redactByPattern,
  type RedactionPattern,
} from "@logtape/redaction";
import { type SecretValues, secretValues } from "./secrets.ts";
import { escapeUnsafe, escapeUnsafeInJson, URL_CREDENTIALS } from "./text.ts";

/** What replaces a redacted value. */
export const REDACTED = "[REDACTED]";

const LEVEL_NAMES: Record<LogLevel, string> = {
  trace: "TRACE",
  debug: "DEBUG",
  info: "INFO",
  warning: "WARNING",
  error: "ERROR",
  fatal: "CRITICAL",
};

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * A redaction pattern that matches every value in `values` as it is now (the pattern is
 * rebuilt when a secret is added), in plain and JSON-escaped form.
 */
export function secretValuesPattern(values: SecretValues): RedactionPattern {
  let version = -1;
  let regex = /(?!)/g;
  return {
    get pattern(): RegExp {
      if (values.version !== version) {
        version = values.version;
        const forms = new Set<string>();
        for (const value of values.values()) {
          forms.add(value);
          forms.add(JSON.stringify(value).slice(1, -1));
        }
        const sorted = [...forms].sort((a, b) => b.length - a.length);
        regex = sorted.length === 0 ? /(?!)/g : new RegExp(sorted.map(escapeRegExp).join("|"), "g");
      }
      return regex;
    },
    replacement: REDACTED,
  };
}

/** `Authorization: <scheme> <credentials>` in any quoting, header or JSON form. */
export const AUTHORIZATION_PATTERN: RedactionPattern = {
  pattern: /(authorization["']?\s*[:=]\s*["']?)(?:(?:bearer|token|basic|digest)\s+)?[^\s"',;}]+/gi,
  replacement: (_match: string, prefix: string) => `${prefix}${REDACTED}`,
};

/** `Bearer xxx`, `Token xxx`, `Basic xxx` credentials anywhere in a line. */
export const CREDENTIAL_PATTERN: RedactionPattern = {
  pattern: /\b(Bearer|Token|Basic)(\s+)[A-Za-z0-9._~+/=-]{8,}/g,
  replacement: (_match: string, scheme: string, space: string) => `${scheme}${space}${REDACTED}`,
};

/** `scheme://user:password@` in a URL: the credentials masked. */
export const URL_CREDENTIALS_PATTERN: RedactionPattern = {
  pattern: URL_CREDENTIALS,
  replacement: (_match: string, scheme: string) => `${scheme}***@`,
};

/**
 * Field names whose values are always redacted, at any depth of a log record's properties:
 * `authorization`, `proxy-authorization`, `api_key` (`x-api-key`, `apikey`), `password`,
 * `passwd`, `secret`, `secret_key`, `client_secret`, `access_token`, `refresh_token`,
 * `id_token`, `token`, `cookie`, `set-cookie`, in any case. One expression, not one per
 * name: the redaction tests it against every property name and placeholder of every line.
 */
export const SECRET_FIELD: RegExp = new RegExp(
  "^(?:authorization|proxy-authorization|(?:x-)?api[-_]?key|password|passwd|secret" +
    "|secret[-_]?key|client[-_]?secret|(?:access|refresh|id)[-_]?token|token|cookie|set-cookie)$",
  "i",
);

function renderValue(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Error) return value.message;
  if (value === undefined) return "undefined";
  try {
    return JSON.stringify(value, jsonReplacer) ?? String(value);
  } catch {
    return String(value);
  }
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (value instanceof Set) return [...value];
  if (value instanceof Map) return Object.fromEntries(value);
  if (typeof value === "bigint") return value.toString();
  return value;
}

function renderMessage(record: LogRecord): string {
  return record.message.map((part, i) => (i % 2 === 0 ? String(part) : renderValue(part))).join(
    "",
  );
}

function placeholders(record: LogRecord): Set<string> {
  const raw = typeof record.rawMessage === "string" ? record.rawMessage : "";
  return new Set([...raw.matchAll(/\{([^{}]+)\}/g)].map((m) => (m[1] ?? "").trim()));
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

function localTime(timestamp: number): string {
  const d = new Date(timestamp);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${
    pad(d.getMinutes())
  }:${pad(d.getSeconds())}`;
}

/**
 * Makes control, line-separator and bidirectional characters visible (see `text.ts`), so a
 * hostile value can neither forge a line nor disguise one.
 */
export function escapeControls(text: string): string {
  return escapeUnsafe(text);
}

/** Formats a record as one text line: `YYYY-MM-DD HH:MM:SS LEVEL [brain] message {props}`. */
export function formatTextLine(record: LogRecord): string {
  const brain = typeof record.properties.brain === "string" ? ` [${record.properties.brain}]` : "";
  const used = placeholders(record);
  const extra = Object.entries(record.properties).filter(([k]) => k !== "brain" && !used.has(k));
  const props = extra.length === 0
    ? ""
    : ` ${JSON.stringify(Object.fromEntries(extra), jsonReplacer)}`;
  const line = `${localTime(record.timestamp)} ${LEVEL_NAMES[record.level]}${brain} ${
    renderMessage(record)
  }${props}`;
  return `${escapeControls(line)}\n`;
}

/** Formats a record as one JSON object on one line. */
export function formatJsonLine(record: LogRecord): string {
  const object: Record<string, unknown> = {
    time: new Date(record.timestamp).toISOString(),
    level: record.level,
    logger: record.category.join("."),
    message: renderMessage(record),
  };
  for (const [key, value] of Object.entries(record.properties)) {
    if (!(key in object)) object[key] = value;
  }
  return `${escapeUnsafeInJson(JSON.stringify(object, jsonReplacer))}\n`;
}

/** Options of {@linkcode setupLogging}. */
export interface LogOptions {
  /**
   * One JSON object per line instead of text.
   * @default {false}
   */
  json?: boolean;
  /**
   * Log DEBUG records too.
   * @default {false}
   */
  debug?: boolean;
  /**
   * Where lines go.
   * @default {"stdout"}
   */
  stream?: "stdout" | "stderr";
  /** Receives each finished line instead of the stream (tests). */
  write?: (line: string) => void;
  /**
   * The secret values to redact.
   * @default {secretValues}
   */
  secrets?: SecretValues;
}

function writeAll(stream: typeof Deno.stdout | typeof Deno.stderr, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) offset += stream.writeSync(bytes.subarray(offset));
}

/** Builds the redacting sink {@linkcode setupLogging} installs. */
export function createLogSink(options: LogOptions = {}): Sink {
  const { json = false, stream = "stdout", secrets = secretValues } = options;
  const encoder = new TextEncoder();
  const target = stream === "stdout" ? Deno.stdout : Deno.stderr;
  const write = options.write ?? ((line: string) => writeAll(target, encoder.encode(line)));
  const formatter = redactByPattern(json ? formatJsonLine : formatTextLine, [
    secretValuesPattern(secrets),
    AUTHORIZATION_PATTERN,
    CREDENTIAL_PATTERN,
    URL_CREDENTIALS_PATTERN,
    JWT_PATTERN,
  ]);
  const sink: Sink = (record) => write(formatter(record));
  return redactByField(sink, { fieldPatterns: [SECRET_FIELD], action: () => REDACTED });
}

/** Configures logtape for the whole process (replacing any earlier setup). */
export async function setupLogging(options: LogOptions = {}): Promise<void> {
  const lowestLevel: LogLevel = options.debug ? "debug" : "info";
  await configure({
    reset: true,
    contextLocalStorage: new AsyncLocalStorage<Record<string, unknown>>(),
    sinks: { main: createLogSink(options) },
    loggers: [
      { category: ["var"], lowestLevel, sinks: ["main"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["main"] },
    ],
  });
}

/** Removes the logging setup (tests). */
export async function resetLogging(): Promise<void> {
  await reset();
}

/**
 * Redacts a text outside the logger (error messages printed by `main.ts`) with the same
 * patterns as the log lines.
 */
export function redactText(text: string, values: SecretValues = secretValues): string {
  let out = text;
  for (
    const p of [
      secretValuesPattern(values),
      AUTHORIZATION_PATTERN,
      CREDENTIAL_PATTERN,
      URL_CREDENTIALS_PATTERN,
    ]
  ) {
    const replacement = p.replacement;
    out = typeof replacement === "string"
      ? out.replaceAll(p.pattern, replacement)
      : out.replaceAll(p.pattern, replacement);
  }
  return out;
}

/**
 * A copy of `value` in which every string inside plain objects and arrays has its control
 * characters escaped (see {@linkcode escapeControls}); other objects are kept as they are.
 * Used before printing reports whose names come from Vectra.
 */
export function escapeControlsDeep<T>(value: T): T {
  if (typeof value === "string") return escapeControls(value) as T;
  if (Array.isArray(value)) return value.map((v) => escapeControlsDeep(v)) as T;
  if (
    value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype
  ) {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, escapeControlsDeep(v)]),
    ) as T;
  }
  return value;
}
