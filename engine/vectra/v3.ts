/**
 * The Platform API v3.3 / v3.4 (RUX), with OAuth2 client credentials and the refresh
 * grant at `/oauth2/token`, and urgency scores from `/entities` (vectra-api.md §2, §4.7, §8).
 *
 * @module
 */

import { z } from "zod";
import type { SecretLookup } from "../secrets.ts";
import { MalformedEntityError } from "../model.ts";
import { type UrgentEntity, VectraError } from "./api.ts";
import { OAuthAuthenticator, OAuthTokens } from "./oauth.ts";
import { brainEndpoint, type Flavor, SharedVectraApi, type VectraApiOptions } from "./shared.ts";
import type { HttpEndpoint } from "../http.ts";
import { ACCOUNT_FIELDS, DETECTION_FIELDS, HOST_FIELDS } from "./v2.ts";

/** Detection fields v3.4 removed (vectra-api.md §8). */
const REMOVED_IN_V34 = new Set(["category", "t_score", "c_score", "targets_key_asset"]);

/** Options of {@linkcode createV3Api}. */
export interface V3ApiOptions extends VectraApiOptions {
  /** Looks up `Client_ID` and `Secret_Key` under the brain's service name. */
  secret: SecretLookup;
  /** The secret-store service name: the `COGNITO_URL` entry as written. */
  service: string;
  /**
   * `3.4` or `3.3`.
   * @default {"3.4"}
   */
  version?: "3.3" | "3.4";
  /**
   * Seconds before expiry at which tokens are renewed (capped at a tenth of the lifetime).
   * @default {100}
   */
  renewEarlySeconds?: number;
}

const EntityJson = z.looseObject({
  id: z.number().int(),
  urgency_score: z.number().nullish(),
  type: z.string().nullish(),
  entity_type: z.union([z.string(), z.array(z.string())]).nullish(),
});

/** A v3 brain: the shared implementation plus `/entities`. */
export class V3VectraApi extends SharedVectraApi {
  #tokens: OAuthTokens;

  constructor(
    baseUrl: string,
    flavor: Flavor,
    tokens: OAuthTokens,
    endpoint: HttpEndpoint,
    options: VectraApiOptions,
  ) {
    super(baseUrl, flavor, new OAuthAuthenticator(tokens), endpoint, options);
    this.#tokens = tokens;
  }

  /** The token source (tests and metrics). */
  get tokens(): OAuthTokens {
    return this.#tokens;
  }

  /**
   * Entities of a type with `urgency_score >= min`, reading `/entities` in descending
   * urgency and stopping at the first below `min`. An answer not in descending order is an
   * error: stopping early on it could miss entities.
   */
  override async urgentEntities(type: "host" | "account", min: number): Promise<UrgentEntity[]> {
    let previous = Number.POSITIVE_INFINITY;
    let disorder: number | null = null;
    const what = `list ${type} entities by urgency`;
    const entities = await this.list(
      "entities",
      {
        type,
        ordering: "-urgency_score",
        ...(this.version === "3.4" ? { fields: "id,type,urgency_score" } : {}),
      },
      (json) => {
        const parsed = EntityJson.safeParse(json);
        if (!parsed.success) {
          const id = typeof json === "object" && json !== null
            ? (json as Record<string, unknown>)["id"]
            : undefined;
          const issue = parsed.error.issues[0];
          throw new MalformedEntityError(
            type,
            typeof id === "number" ? id : null,
            issue?.path.map(String).join(".") || "(object)",
            "is missing or malformed",
            { cause: parsed.error },
          );
        }
        const legacy = parsed.data.entity_type;
        const entityType = parsed.data.type ??
          (Array.isArray(legacy) ? legacy[0] : legacy) ?? type;
        const urgencyScore = parsed.data.urgency_score ?? 0;
        if (urgencyScore > previous && disorder === null) disorder = parsed.data.id;
        previous = urgencyScore;
        return { id: parsed.data.id, urgencyScore, type: entityType };
      },
      what,
      (entity) => entity.urgencyScore < min || disorder !== null,
    );
    if (disorder !== null) {
      throw new VectraError(
        this.brain,
        `Cannot ${what} on brain ${this.brain}: GET /entities did not answer in descending urgency (entity ${disorder})`,
      );
    }
    return entities
      .filter((entity) => entity.type === type)
      .map(({ id, urgencyScore }) => ({ id, urgencyScore }));
  }
}

/** Creates a client for a v3 brain at `baseUrl`. */
export function createV3Api(baseUrl: string, options: V3ApiOptions): V3VectraApi {
  const version = options.version ?? "3.4";
  const brain = new URL(baseUrl).host;
  const endpoint = brainEndpoint(baseUrl, options);
  const { secret, service } = options;
  const tokens = new OAuthTokens({
    endpoint,
    brain,
    tokenPath: "/oauth2/token",
    credentials: async () => ({
      clientId: await secret(service, "Client_ID"),
      secret: await secret(service, "Secret_Key"),
    }),
    useRefresh: true,
    ...(options.renewEarlySeconds !== undefined
      ? { renewEarlySeconds: options.renewEarlySeconds }
      : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  const flavor: Flavor = {
    version,
    apiRoot: `/api/v${version}`,
    fields: {
      hosts: HOST_FIELDS,
      accounts: ACCOUNT_FIELDS,
      detections: version === "3.4"
        ? DETECTION_FIELDS.filter((field) => !REMOVED_IN_V34.has(field))
        : DETECTION_FIELDS,
    },
    groupQuery: { include_members: "true" },
  };
  return new V3VectraApi(baseUrl, flavor, tokens, endpoint, options);
}
