/**
 * Which secrets a configuration needs (engine.md §8.2): the brains' credentials, the SMTP
 * password, and each configured client's secrets.
 *
 * @module
 */

import type { SecretRef } from "../engine/secrets.ts";
import type { ClientDefinition } from "../clients/interface.ts";
import type { Config } from "../config_types.ts";
import { findClientDefinition } from "../config.ts";

/** The secrets of one brain: `Client_ID` and `Secret_Key` (OAuth, every v3 brain) or `Token`. */
export function brainSecrets(brain: Config["brains"][number]): SecretRef[] {
  const where = `brain ${brain.entry}`;
  if (brain.apiVersion === "2.5" && brain.auth === "token") {
    return [{ service: brain.entry, key: "Token", description: `API token of ${where}` }];
  }
  return [
    { service: brain.entry, key: "Client_ID", description: `OAuth client id of ${where}` },
    { service: brain.entry, key: "Secret_Key", description: `OAuth client secret of ${where}` },
  ];
}

/** The SMTP password `VAR`/`Email`, when email is sent with authentication. */
export function emailSecrets(config: Config, always = false): SecretRef[] {
  if (!config.email.auth || (!always && !config.email.enabled)) return [];
  return [{
    service: "VAR",
    key: "Email",
    description: `SMTP password of ${config.email.user}`,
  }];
}

/** Every secret `config` needs, brains first, then email, then clients in order; no duplicates. */
export function requiredSecrets(
  config: Config,
  clients: readonly ClientDefinition[],
): SecretRef[] {
  const refs: SecretRef[] = [...config.brains.flatMap(brainSecrets), ...emailSecrets(config)];
  for (const name of config.clients) {
    const definition = findClientDefinition(name, clients);
    if (definition === undefined) continue;
    refs.push(...definition.secrets(config.clientConfigs.get(name)));
  }
  const seen = new Set<string>();
  return refs.filter((ref) => {
    const id = JSON.stringify([ref.service, ref.key]);
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}
