/**
 * Notifications (engine.md §9; decisions.md #8): syslog, one event per action plus one
 * summary per cycle, in well-formed CEF or `Standard` text with RFC 5424 headers over UDP or
 * TCP (octet-counting framing); and the per-cycle email in sections Info, Warning, Error,
 * over SMTP with implicit TLS or mandatory STARTTLS (certificate verified).
 *
 * Delivery never throws: a notification that cannot be delivered is logged and returned as
 * a failed {@linkcode Delivery}; it never fails the cycle.
 *
 * Works with net and read permissions only: the local host name comes from an option or
 * `/proc/sys/kernel/hostname` / `/etc/hostname` (never `os.hostname()`, which needs `sys`),
 * and SMTP server names are resolved here so that nodemailer never reads the interface table.
 *
 * @module
 */

import { spaceUnsafe } from "./text.ts";
import { getLogger } from "@logtape/logtape";
import { createSocket } from "node:dgram";
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import nodemailer from "nodemailer";
import type { EmailConfig, SyslogConfig } from "../config_types.ts";
import type { SecretLookup } from "./secrets.ts";
import type { ActionRecord, Category, CycleReport } from "./report.ts";
import { errorText } from "./error_text.ts";

const logger = getLogger(["var", "notify"]);

/** The subject of every cycle email. */
export const EMAIL_SUBJECT = "Vectra Automated Response";
/** The subject of `var test-smtp` (the original's, trailing space included). */
export const TEST_EMAIL_SUBJECT = "TEST - Vectra Automated Response - TEST ";
/** The body of `var test-smtp`. */
export const TEST_EMAIL_BODY = "Info: TEST TEST TEST";
/** The text of `var test-syslog`. */
export const TEST_SYSLOG_TEXT = "INFO: TEST TEST TEST";

/** CEF severity per category, as the original (2/5/8). */
export const CEF_SEVERITY: Readonly<Record<Category, number>> = { Info: 2, Warning: 5, Error: 8 };
/** Syslog severity per category (RFC 5424: informational, warning, error). */
const SYSLOG_SEVERITY: Readonly<Record<Category, number>> = { Info: 6, Warning: 4, Error: 3 };
/** Facility `user`. */
const FACILITY_USER = 1;

/** The outcome of one delivery (a syslog batch or one email). */
export type Delivery =
  | { readonly ok: true; readonly sent: number }
  | { readonly ok: false; readonly error: string };

/** One syslog event before formatting. */
export interface SyslogEvent {
  readonly category: Category;
  /** CEF Signature ID, e.g. `host-block`, `cycle-summary`. */
  readonly signatureId: string;
  /** CEF extension pairs, in order (values unescaped). */
  readonly extension: readonly (readonly [string, string])[];
  /** The `Standard` format text. */
  readonly text: string;
}

/**
 * Escapes a CEF header field: `\` and `|`; line breaks and the other characters of
 * `text.ts` (controls, separators, bidirectional overrides) become spaces.
 */
export function escapeCefHeader(value: string): string {
  return spaceUnsafe(
    value.replaceAll("\\", "\\\\").replaceAll("|", "\\|").replace(/\r\n|[\r\n]/g, " "),
  );
}

/**
 * Escapes a CEF extension value: `\`, `=`, and line breaks as `\n` / `\r`; the other
 * characters of `text.ts` (controls, separators, bidirectional overrides) become spaces.
 */
export function escapeCefExtension(value: string): string {
  return spaceUnsafe(
    value
      .replaceAll("\\", "\\\\")
      .replaceAll("=", "\\=")
      .replaceAll("\r\n", "\\n")
      .replaceAll("\n", "\\n")
      .replaceAll("\r", "\\r"),
  );
}

/**
 * Formats an event as
 * `CEF:0|Vectra Networks|X Series|var|<signature id>|Vectra Automated Response|<sev>|<extension>`.
 */
export function formatCef(event: SyslogEvent): string {
  const header = [
    "CEF:0",
    "Vectra Networks",
    "X Series",
    "var",
    event.signatureId,
    "Vectra Automated Response",
    String(CEF_SEVERITY[event.category]),
  ].map((field, i) => (i === 0 ? field : escapeCefHeader(field)));
  const extension = event.extension.map(([key, value]) => `${key}=${escapeCefExtension(value)}`);
  return `${header.join("|")}|${extension.join(" ")}`;
}

/** Replaces the characters of `text.ts` (line breaks included) by spaces, for one-line text. */
function oneLine(text: string): string {
  return spaceUnsafe(text);
}

/** Formats an event in `SYSLOG_FORMAT` (`CEF` or `Standard`). */
export function formatEvent(event: SyslogEvent, format: "CEF" | "Standard"): string {
  return format === "CEF" ? formatCef(event) : oneLine(event.text);
}

/** Fields of the RFC 5424 header. */
export interface Rfc5424Header {
  readonly category: Category;
  readonly timestamp: Date;
  /** HOSTNAME; `-` when unknown. */
  readonly hostname: string;
  /** PROCID. */
  readonly procId: string;
}

/** Formats `<PRI>1 TIMESTAMP HOSTNAME var PROCID - - MSG` with facility `user`. */
export function formatRfc5424(message: string, header: Rfc5424Header): string {
  const pri = FACILITY_USER * 8 + SYSLOG_SEVERITY[header.category];
  return `<${pri}>1 ${header.timestamp.toISOString()} ${header.hostname} var ${header.procId} - - ${message}`;
}

/** The CEF Signature ID of an action: `<kind>-<operation>` (`host-block`, `static-block`). */
function signatureOf(action: ActionRecord): string {
  return action.kind === "static" ? action.operation : `${action.kind}-${action.operation}`;
}

/** The CEF `act` value of an operation. */
function actOf(action: ActionRecord): string {
  return action.operation.startsWith("static-") ? action.operation.slice(7) : action.operation;
}

/** The event for one action. */
export function actionEvent(action: ActionRecord, at: Date): SyslogEvent {
  const extension: [string, string][] = [
    ["rt", String(at.getTime())],
    ["cat", action.category],
    ["act", actOf(action)],
    ["outcome", action.outcome],
  ];
  if (action.brain !== null) extension.push(["dvchost", action.brain]);
  extension.push(["cs1Label", "kind"], ["cs1", action.kind]);
  extension.push(["cs2Label", "client"], ["cs2", action.client]);
  if (action.entityId !== null) {
    extension.push(["cs3Label", "entity id"], ["cs3", String(action.entityId)]);
  }
  extension.push(["cs4Label", "entity name"], ["cs4", action.entityName]);
  if (action.elements.length > 0) {
    extension.push(["cs5Label", "elements"], ["cs5", action.elements.join(",")]);
  }
  if (action.error !== undefined) extension.push(["cs6Label", "error"], ["cs6", action.error]);
  if (action.reasons.length > 0) extension.push(["reason", action.reasons.join("; ")]);
  extension.push(["msg", action.message]);
  const details = [`outcome ${action.outcome}`];
  if (action.reasons.length > 0) details.push(`reason ${action.reasons.join(", ")}`);
  if (action.brain !== null) details.push(`brain ${action.brain}`);
  return {
    category: action.category,
    signatureId: signatureOf(action),
    extension,
    text: `${action.category}: ${action.message}; ${details.join("; ")}`,
  };
}

function countBy<T extends string>(values: readonly T[], keys: readonly T[]): string {
  return keys.map((key) => `${key} ${values.filter((value) => value === key).length}`).join(", ");
}

/** The category of a cycle as a whole: Error when it failed, Warning when anything warned. */
function cycleCategory(report: CycleReport): Category {
  const categories = [
    ...report.actions.map((action) => action.category),
    ...report.messages.map((message) => message.category),
  ];
  if (report.exitCode !== 0 || categories.includes("Error")) return "Error";
  if (categories.includes("Warning")) return "Warning";
  return "Info";
}

/** The summary event of a cycle (counts only). */
export function summaryEvent(report: CycleReport, at: Date): SyslogEvent {
  const category = cycleCategory(report);
  const brains = countBy(report.brains.map((brain) => brain.result), ["ok", "partial", "failed"]);
  const outcomes = countBy(report.actions.map((action) => action.outcome), [
    "ok",
    "failed",
    "planned",
    "warning",
  ]);
  const text = `Cycle finished: ${report.brains.length} brain(s) (${brains}); ` +
    `${report.actions.length} action(s) (${outcomes}); acted ${report.acted ? "yes" : "no"}; ` +
    `exit code ${report.exitCode}`;
  return {
    category,
    signatureId: "cycle-summary",
    extension: [
      ["rt", String(at.getTime())],
      ["cat", category],
      ["act", "summary"],
      ["cnt", String(report.actions.length)],
      ["cn1Label", "exit code"],
      ["cn1", String(report.exitCode)],
      ["msg", text],
    ],
    text: `${category}: ${text}`,
  };
}

/** The event of `var test-syslog`. */
export function testEvent(at: Date): SyslogEvent {
  return {
    category: "Info",
    signatureId: "test",
    extension: [["rt", String(at.getTime())], ["msg", TEST_SYSLOG_TEXT]],
    text: TEST_SYSLOG_TEXT,
  };
}

/** The events of a cycle: one per action, then the summary. */
export function cycleEvents(report: CycleReport, at: Date): SyslogEvent[] {
  return [...report.actions.map((action) => actionEvent(action, at)), summaryEvent(report, at)];
}

/** Options shared by the senders. */
export interface NotifyOptions {
  /**
   * The clock (syslog timestamps, email `Date`).
   * @default {() => new Date()}
   */
  now?: () => Date;
  /**
   * HOSTNAME in syslog headers and the name given in SMTP `EHLO`.
   * @default {the content of /proc/sys/kernel/hostname or /etc/hostname; else "-" for syslog and "[127.0.0.1]" for EHLO}
   */
  hostname?: string;
  /**
   * Connect, send and answer timeout, in milliseconds.
   * @default {10000}
   */
  timeoutMs?: number;
  /** PEM text of a CA to trust for SMTP TLS, in addition to the system roots (tests). */
  caPem?: string;
  /** Email `Message-ID` (tests); nodemailer makes a random one by default. */
  messageId?: string;
}

const HOSTNAME_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** The local host name without the `sys` permission: the option, then the kernel's files. */
async function localHostname(option: string | undefined): Promise<string | null> {
  if (option !== undefined) return HOSTNAME_PATTERN.test(option) ? option : null;
  for (const path of ["/proc/sys/kernel/hostname", "/etc/hostname"]) {
    try {
      const name = (await Deno.readTextFile(path)).trim();
      if (HOSTNAME_PATTERN.test(name)) return name;
    } catch {
      // not on this system (macOS has neither file), or not readable: try the next
    }
  }
  return null;
}

function describe(error: unknown): string {
  return errorText(error);
}

async function resolveAddress(host: string): Promise<{ address: string; family: number }> {
  const family = isIP(host);
  if (family !== 0) return { address: host, family };
  return await lookup(host);
}

async function sendUdp(
  host: string,
  port: number,
  frames: Uint8Array[],
  timeoutMs: number,
): Promise<void> {
  const { address, family } = await resolveAddress(host);
  const socket = createSocket(family === 6 ? "udp6" : "udp4");
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      (async () => {
        for (const frame of frames) {
          await new Promise<void>((resolve, reject) =>
            socket.send(frame, port, address, (error) => (error ? reject(error) : resolve()))
          );
        }
      })(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    socket.close();
  }
}

async function sendTcp(
  host: string,
  port: number,
  frames: Uint8Array[],
  timeoutMs: number,
): Promise<void> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new Error(`no answer within ${timeoutMs} ms`)),
    timeoutMs,
  );
  let conn: Deno.TcpConn | null = null;
  const onAbort = () => {
    try {
      conn?.close();
    } catch {
      // already closed
    }
  };
  controller.signal.addEventListener("abort", onAbort, { once: true });
  try {
    conn = await Deno.connect({
      hostname: host,
      port,
      transport: "tcp",
      signal: controller.signal,
    });
    const writer = conn.writable.getWriter();
    for (const frame of frames) await writer.write(frame);
    await writer.close();
    conn = null;
  } catch (error) {
    if (controller.signal.aborted) throw controller.signal.reason;
    throw error;
  } finally {
    clearTimeout(timer);
    controller.signal.removeEventListener("abort", onAbort);
    onAbort();
  }
}

/**
 * Sends events to the syslog collector in `config`, one RFC 5424 message each (UDP: one
 * datagram each; TCP: one connection, octet-counting frames `<length> <message>`).
 */
export async function sendSyslog(
  config: SyslogConfig,
  events: readonly SyslogEvent[],
  options: NotifyOptions = {},
): Promise<Delivery> {
  const { now = () => new Date(), timeoutMs = 10_000 } = options;
  const target = `${config.proto} ${config.server}:${config.port}`;
  try {
    if (config.server === "") throw new Error("SYSLOG_SERVER is empty");
    const hostname = (await localHostname(options.hostname)) ?? "-";
    const encoder = new TextEncoder();
    const timestamp = now();
    const frames = events.map((event) => {
      const message = encoder.encode(
        formatRfc5424(formatEvent(event, config.format), {
          category: event.category,
          timestamp,
          hostname,
          procId: String(Deno.pid),
        }),
      );
      if (config.proto === "UDP") return message;
      const prefix = encoder.encode(`${message.byteLength} `);
      const frame = new Uint8Array(prefix.byteLength + message.byteLength);
      frame.set(prefix);
      frame.set(message, prefix.byteLength);
      return frame;
    });
    if (config.proto === "UDP") await sendUdp(config.server, config.port, frames, timeoutMs);
    else await sendTcp(config.server, config.port, frames, timeoutMs);
    return { ok: true, sent: frames.length };
  } catch (error) {
    const reason = describe(error);
    logger.error("Cannot send syslog to {target}: {reason}", { target, reason });
    return { ok: false, error: `Cannot send syslog to ${target}: ${reason}` };
  }
}

/**
 * The cycle email body: for each non-empty category, in the order Info, Warning, Error, a
 * line with the category name, then one line per message (cycle messages first, then one
 * per action, prefixed with the brain). Sections are separated by a blank line. Empty when
 * there is nothing to report.
 */
export function emailBody(report: CycleReport): string {
  const sections: string[] = [];
  for (const category of ["Info", "Warning", "Error"] as const) {
    const lines = [
      ...report.messages.filter((message) => message.category === category).map((message) =>
        message.text
      ),
      ...report.actions.filter((action) => action.category === category).map((action) =>
        action.brain === null ? action.message : `${action.brain}: ${action.message}`
      ),
    ].map(oneLine);
    if (lines.length > 0) sections.push([category, ...lines].join("\n") + "\n");
  }
  return sections.join("\n");
}

/**
 * Sends one email as configured: implicit TLS or mandatory STARTTLS with the certificate
 * verified; with `SMTP_AUTH`, logs in as `SMTP_USER` with the secret `VAR`/`Email`, and
 * never over an unencrypted session (`SMTP_TLS=none` with auth is refused unsent).
 */
export async function sendEmail(
  config: EmailConfig,
  secret: SecretLookup,
  subject: string,
  body: string,
  options: NotifyOptions = {},
): Promise<Delivery> {
  const { now = () => new Date(), timeoutMs = 10_000 } = options;
  const target = `${config.server}:${config.port}`;
  try {
    if (config.server === "") throw new Error("SMTP_SERVER is empty");
    if (config.auth && config.tls === "none") {
      throw new Error(
        "SMTP_AUTH needs an encrypted session and SMTP_TLS is none; set SMTP_TLS to implicit or starttls",
      );
    }
    const hostname = await localHostname(options.hostname);
    const pass = config.auth ? await secret("VAR", "Email") : null;
    const { address } = await resolveAddress(config.server);
    const ca = [
      ...(options.caPem !== undefined ? [options.caPem] : []),
      ...(config.caFile ? [await Deno.readTextFile(config.caFile)] : []),
    ];
    const transport = nodemailer.createTransport({
      host: address,
      port: config.port,
      secure: config.tls === "implicit",
      requireTLS: config.tls === "starttls",
      ignoreTLS: config.tls === "none",
      name: hostname !== null && hostname.includes(".") ? hostname : "[127.0.0.1]",
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
      ...(pass !== null ? { auth: { user: config.user, pass } } : {}),
      tls: {
        rejectUnauthorized: true,
        minVersion: "TLSv1.2",
        ...(isIP(config.server) === 0 ? { servername: config.server } : {}),
        ...(ca.length > 0 ? { ca } : {}),
      },
    });
    try {
      await transport.sendMail({
        from: config.from,
        to: config.to,
        subject,
        text: body,
        date: now(),
        ...(options.messageId !== undefined ? { messageId: options.messageId } : {}),
      });
    } finally {
      transport.close();
    }
    return { ok: true, sent: 1 };
  } catch (error) {
    const reason = describe(error);
    logger.error("Cannot send email to {to} through {target}: {reason}", {
      to: config.to,
      target,
      reason,
    });
    return { ok: false, error: `Cannot send email to ${config.to} through ${target}: ${reason}` };
  }
}

/** What {@linkcode notifyCycle} did per channel; null when the channel is off or had nothing to send. */
export interface CycleNotifications {
  readonly syslog: Delivery | null;
  readonly email: Delivery | null;
}

/**
 * Sends a cycle's notifications as configured: syslog (one event per action and a summary)
 * and the email (only when the body is not empty). Never throws.
 */
export async function notifyCycle(
  report: CycleReport,
  config: { readonly syslog: SyslogConfig; readonly email: EmailConfig },
  secret: SecretLookup,
  options: NotifyOptions = {},
): Promise<CycleNotifications> {
  const { now = () => new Date() } = options;
  const failed = (error: unknown): Delivery => {
    const reason = `Cannot format the notification: ${describe(error)}`;
    logger.error("{reason}", { reason });
    return { ok: false, error: reason };
  };
  const syslogDelivery = async () => {
    if (!config.syslog.enabled) return null;
    let events: SyslogEvent[];
    try {
      events = cycleEvents(report, now());
    } catch (error) {
      return failed(error);
    }
    return await sendSyslog(config.syslog, events, options);
  };
  const emailDelivery = async () => {
    if (!config.email.enabled) return null;
    let body: string;
    try {
      body = emailBody(report);
    } catch (error) {
      return failed(error);
    }
    return body === "" ? null : await sendEmail(config.email, secret, EMAIL_SUBJECT, body, options);
  };
  const [syslog, email] = await Promise.all([syslogDelivery(), emailDelivery()]);
  return { syslog, email };
}

/** `var test-syslog`: sends the test event (`INFO: TEST TEST TEST`, CEF severity 2). */
export function sendTestSyslog(
  config: SyslogConfig,
  options: NotifyOptions = {},
): Promise<Delivery> {
  const { now = () => new Date() } = options;
  return sendSyslog(config, [testEvent(now())], options);
}

/** `var test-smtp`: sends the test email (engine.md §9.3). */
export function sendTestEmail(
  config: EmailConfig,
  secret: SecretLookup,
  options: NotifyOptions = {},
): Promise<Delivery> {
  return sendEmail(config, secret, TEST_EMAIL_SUBJECT, TEST_EMAIL_BODY, options);
}
