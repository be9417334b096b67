/**
 * `var secrets set SERVICE KEY`, `var secrets list` and `var secrets check`: store a secret
 * in the keychain, and show where every secret the configuration needs is found (never the
 * value).
 *
 * @module
 */

import { CLIENTS } from "../clients/mod.ts";
import type { SecretRef } from "../engine/secrets.ts";
import {
  howToSet,
  platformKeychain,
  secretFileName,
  type SecretResolver,
  terminalPrompt,
} from "../engine/secrets.ts";
import { type CommonOptions, openContext } from "./context.ts";
import { UsageError } from "./exit_codes.ts";
import { requiredSecrets } from "./required_secrets.ts";

const encoder = new TextEncoder();

async function readAllStdin(): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of Deno.stdin.readable) chunks.push(chunk);
  const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return new TextDecoder().decode(bytes);
}

/** `var secrets set SERVICE KEY`: reads the value from stdin (no echo on a terminal) and stores it. */
export async function secretsSetCommand(service: string, key: string): Promise<number> {
  const keychain = platformKeychain();
  if (keychain === null) {
    throw new UsageError(
      `Cannot store ${key} for ${service}: var knows no keychain on ${Deno.build.os}; write the value to DIR/${
        secretFileName(service, key)
      } and run with --secrets-dir DIR`,
    );
  }
  const prompt = terminalPrompt();
  const value = prompt === null
    ? (await readAllStdin()).replace(/[\r\n]+$/, "")
    : await prompt(`Enter the ${service} ${key}: `);
  if (value === null || value === "") {
    throw new UsageError(`Cannot store ${key} for ${service}: the value is empty`);
  }
  await keychain.set(service, key, value);
  await Deno.stderr.write(encoder.encode(`Stored ${key} for ${service} in ${keychain.name}\n`));
  return 0;
}

/** One row of `var secrets list`. */
export interface SecretRow {
  readonly service: string;
  readonly key: string;
  readonly description: string;
  /** `file`, `keychain` or `missing`. */
  readonly found: "file" | "keychain" | "missing";
  /** The file name in the secrets directory (always shown, so it can be created). */
  readonly fileName: string;
  /** Why it is missing. */
  readonly reason?: string;
}

async function secretRows(options: CommonOptions): Promise<SecretRow[]> {
  const { config, secrets } = await openContext(options, {
    logStream: "stderr",
    checkFiles: false,
  });
  const rows: SecretRow[] = [];
  for (const ref of requiredSecrets(config, CLIENTS)) {
    const source = await secrets.locate(ref.service, ref.key);
    if (source.kind === "missing") {
      const stand = await alternativeRows(ref, secrets);
      if (stand !== null) {
        rows.push(...stand);
        continue;
      }
    }
    rows.push({
      service: ref.service,
      key: ref.key,
      description: ref.description,
      found: source.kind,
      fileName: secretFileName(ref.service, ref.key),
      ...(source.kind === "missing" ? { reason: source.reason } : {}),
    });
  }
  return rows;
}

/** Rows for the first alternative key set of `ref` that is stored whole, or null. */
async function alternativeRows(
  ref: SecretRef,
  secrets: SecretResolver,
): Promise<SecretRow[] | null> {
  for (const keys of ref.alternatives ?? []) {
    const rows: SecretRow[] = [];
    for (const key of keys) {
      const source = await secrets.locate(ref.service, key);
      if (source.kind === "missing") break;
      rows.push({
        service: ref.service,
        key,
        description: `instead of ${ref.key}: ${ref.description}`,
        found: source.kind,
        fileName: secretFileName(ref.service, key),
      });
    }
    if (rows.length === keys.length) return rows;
  }
  return null;
}

function table(rows: SecretRow[]): string {
  const header = ["SERVICE", "KEY", "FOUND", "FILE NAME IN --secrets-dir", "USED FOR"];
  const cells = rows.map((r) => [r.service, r.key, r.found, r.fileName, r.description]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? "").length)));
  const fmt = (c: string[]) => c.map((v, i) => v.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  return [fmt(header), ...cells.map(fmt)].join("\n") + "\n";
}

/** `var secrets list`: every secret the configuration needs and where it was found. */
export async function secretsListCommand(options: CommonOptions): Promise<number> {
  const rows = await secretRows(options);
  const text = options.json
    ? rows.map((r) => JSON.stringify(r)).join("\n") + (rows.length > 0 ? "\n" : "")
    : rows.length === 0
    ? "This configuration needs no secrets\n"
    : table(rows);
  await Deno.stdout.write(encoder.encode(text));
  return 0;
}

/** `var secrets check`: like `list`, and exits 1 when any secret is missing. */
export async function secretsCheckCommand(options: CommonOptions): Promise<number> {
  const rows = await secretRows(options);
  const missing = rows.filter((r) => r.found === "missing");
  const lines = missing.map((r) =>
    `Cannot find the secret ${r.key} for ${r.service}: ${r.reason ?? "missing"}; ${
      howToSet(r.service, r.key, options.secretsDir ?? null)
    }`
  );
  const summary = `${rows.length - missing.length} of ${rows.length} secret(s) found\n`;
  await Deno.stdout.write(encoder.encode(summary));
  if (lines.length > 0) await Deno.stderr.write(encoder.encode(lines.join("\n") + "\n"));
  return missing.length === 0 ? 0 : 1;
}
