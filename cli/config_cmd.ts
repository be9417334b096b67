/**
 * `var config check` (validate and print the effective configuration; secrets are never in
 * it) and `var config template` (a commented `var.env` with every key and its default).
 *
 * @module
 */

import { CLIENTS } from "../clients/mod.ts";
import { configTemplate, CORE_KEYS, findClientDefinition } from "../config.ts";
import type { Config } from "../config_types.ts";
import { type CommonOptions, openContext } from "./context.ts";

const encoder = new TextEncoder();

function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Set) return [...value];
  if (value instanceof Map) return Object.fromEntries(value);
  return value;
}

/** The effective configuration as `KEY=value` lines, each with where it came from. */
export function describeConfig(
  config: Config,
  entries: ReadonlyMap<string, { value: string; line: number }>,
): string {
  const lines: string[] = [`# Effective configuration of ${config.path}`];
  const show = (key: string, fallback: string) => {
    const entry = entries.get(key);
    const value = entry?.value ?? fallback;
    lines.push(`${key}=${value}`.padEnd(60) + `  # ${entry ? `line ${entry.line}` : "default"}`);
  };
  for (const spec of CORE_KEYS) show(spec.key, spec.default);
  for (const name of config.clients) {
    const definition = findClientDefinition(name, CLIENTS);
    if (definition === undefined) continue;
    lines.push(`# client ${definition.name} (tag name "${definition.tagName}")`);
    for (const key of definition.keys) show(key.key, key.default);
  }
  lines.push("# brains");
  for (const brain of config.brains) {
    const auth = brain.apiVersion === "2.5" ? brain.auth : "oauth";
    lines.push(`#   ${brain.entry} -> ${brain.baseUrl} (API v${brain.apiVersion}, ${auth})`);
  }
  if (config.blockTypes.has("static")) lines.push(`# static list: ${config.staticIpsFile}`);
  return lines.join("\n") + "\n";
}

/** `var config check`: 0 when the file is valid (problems throw, so main exits 1). */
export async function configCheckCommand(options: CommonOptions): Promise<number> {
  const { config, entries } = await openContext(options, { logStream: "stderr" });
  const text = options.json
    ? JSON.stringify(config, jsonReplacer) + "\n"
    : describeConfig(config, entries) + `${config.path} is valid\n`;
  await Deno.stdout.write(encoder.encode(text));
  return 0;
}

/** `var config template`: prints the commented template on stdout. */
export async function configTemplateCommand(): Promise<number> {
  await Deno.stdout.write(encoder.encode(configTemplate(CLIENTS)));
  return 0;
}
