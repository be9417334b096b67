/**
 * The Detect API v2.5 (QUX), with a personal API token or OAuth2 client credentials at
 * `/api/v2.5/oauth2/token` (vectra-api.md §2, §8).
 *
 * @module
 */

import type { SecretLookup } from "../secrets.ts";
import { VectraError } from "./api.ts";
import { OAuthAuthenticator, OAuthTokens } from "./oauth.ts";
import {
  type Authenticator,
  brainEndpoint,
  type Flavor,
  SharedVectraApi,
  type VectraApiOptions,
} from "./shared.ts";

/** Host fields the model reads (engine.md §2.1). */
export const HOST_FIELDS: readonly string[] = [
  "id",
  "name",
  "last_source",
  "probable_owner",
  "threat",
  "certainty",
  "key_asset",
  "is_key_asset",
  "targets_key_asset",
  "is_targeting_key_asset",
  "host_artifact_set",
  "ldap",
  "tags",
  "note",
  "last_seen",
];

/** Account fields the model reads (engine.md §2.2). */
export const ACCOUNT_FIELDS: readonly string[] = [
  "id",
  "name",
  "display_name",
  "account_type",
  "threat",
  "certainty",
  "severity",
  "ldap",
  "privilege_level",
  "privilege_category",
  "probable_home",
  "tags",
  "note",
];

/** Detection fields the model reads on v2.5 and v3.3 (engine.md §2.3). */
export const DETECTION_FIELDS: readonly string[] = [
  "id",
  "detection_type",
  "detection",
  "category",
  "detection_category",
  "src_ip",
  "src_host",
  "src_account",
  "summary",
  "state",
  "threat",
  "certainty",
  "t_score",
  "c_score",
  "targets_key_asset",
  "is_targeting_key_asset",
  "triage_rule_id",
  "is_triaged",
  "tags",
  "note",
];

/** How a v2.5 brain authenticates. */
export type V2Auth = "token" | "oauth";

/** Options of {@linkcode createV2Api}. */
export interface V2ApiOptions extends VectraApiOptions {
  /** Looks up `Token`, or `Client_ID` and `Secret_Key`, under the brain's service name. */
  secret: SecretLookup;
  /** The secret-store service name: the `COGNITO_URL` entry as written. */
  service: string;
  /** `token` (personal API token) or `oauth` (client credentials). */
  auth: V2Auth;
}

/** A personal API token: `Authorization: Token <token>`, read once, never renewed. */
export class TokenAuthenticator implements Authenticator {
  #load: () => Promise<string>;
  #token: string | null = null;
  #brain: string;

  constructor(brain: string, load: () => Promise<string>) {
    this.#brain = brain;
    this.#load = load;
  }

  /** Reads the token from the secret store on first use. */
  async prepare(): Promise<void> {
    if (this.#token !== null) return;
    const token = (await this.#load()).trim();
    if (token === "") {
      throw new VectraError(
        this.#brain,
        `Cannot authenticate to brain ${this.#brain}: the API token is empty; store it under the key "Token"`,
      );
    }
    this.#token = token;
  }

  /** `Token <token>`. */
  authorization(): string {
    return `Token ${this.#token ?? ""}`;
  }

  /** A personal token cannot be renewed: a 401 is final. */
  reauthenticate(_authorization: string): Promise<boolean> {
    return Promise.resolve(false);
  }
}

/** The v2.5 flavour. */
export const V2_FLAVOR: Flavor = {
  version: "2.5",
  apiRoot: "/api/v2.5",
  fields: { hosts: HOST_FIELDS, accounts: ACCOUNT_FIELDS, detections: DETECTION_FIELDS },
  groupQuery: {},
};

/** Creates a client for a v2.5 brain at `baseUrl`. */
export function createV2Api(baseUrl: string, options: V2ApiOptions): SharedVectraApi {
  const brain = new URL(baseUrl).host;
  const endpoint = brainEndpoint(baseUrl, options);
  const { secret, service } = options;
  const auth: Authenticator = options.auth === "token"
    ? new TokenAuthenticator(brain, () => secret(service, "Token"))
    : new OAuthAuthenticator(
      new OAuthTokens({
        endpoint,
        brain,
        tokenPath: "/api/v2.5/oauth2/token",
        credentials: async () => ({
          clientId: await secret(service, "Client_ID"),
          secret: await secret(service, "Secret_Key"),
        }),
        useRefresh: false,
        ...(options.now ? { now: options.now } : {}),
      }),
    );
  return new SharedVectraApi(baseUrl, V2_FLAVOR, auth, endpoint, options);
}
