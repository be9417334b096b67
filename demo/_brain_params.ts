/**
 * The query parameters each list endpoint of the fake brain accepts, per API version
 * (vectra-api.md §4), and which of them the fake actually implements. Private to `demo/`.
 *
 * @module
 */

/** The API versions the fake speaks. */
export type FakeApiVersion = "2.5" | "3.3" | "3.4";

/** The list and object endpoints that take query parameters. */
export type ParamEndpoint =
  | "hosts"
  | "host"
  | "accounts"
  | "account"
  | "detections"
  | "detection"
  | "groups"
  | "entities"
  | "entity";

function words(text: string): ReadonlySet<string> {
  return new Set(text.split(/\s+/).filter((w) => w !== ""));
}

const HOSTS_V2 = words(`
  tags threat threat_gte certainty certainty_gte state name last_source mac_address
  is_key_asset is_targeting_key_asset key_asset targets_key_asset active_traffic
  has_active_traffic privilege_level privilege_level_gte privilege_category
  last_detection_timestamp last_detection_timestamp_gte last_detection_timestamp_lte
  note_modified_timestamp_gte min_id max_id include_detection_summaries fields ordering
  page page_size all t_score t_score_gte c_score c_score_gte id
`);

const HOSTS_V3 = words(`
  fields page page_size ordering name state last_source threat threat_gte certainty
  certainty_gte t_score t_score_gte c_score c_score_gte last_detection_timestamp tags
  key_asset min_id max_id mac_address note_modified_timestamp_gte privilege_level
  privilege_level_gte privilege_category id
`);

const ACCOUNTS_V2 = words(`
  tags threat threat_gte certainty certainty_gte state name uid privilege_level
  privilege_level_gte privilege_category first_seen last_seen last_source
  last_detection_timestamp_gte last_detection_timestamp_lte note_modified_timestamp_gte
  min_id max_id include_detection_summaries fields ordering page page_size all t_score
  t_score_gte c_score c_score_gte id
`);

const ACCOUNTS_V3 = words(`
  fields page page_size ordering name state threat_gte certainty_gte t_score t_score_gte
  c_score c_score_gte tags all min_id max_id note_modified_timestamp_gte privilege_level
  privilege_level_gte privilege_category id uid
`);

const DETECTIONS_V2 = words(`
  tags detection_type detection_category category state is_triaged host_id src_ip threat
  threat_gte certainty certainty_gte is_targeting_key_asset targets_key_asset
  last_timestamp last_timestamp_gte note_modified_timestamp_gte min_id max_id description
  detection fields ordering page page_size t_score t_score_gte c_score c_score_gte
  destination proto id
`);

const DETECTIONS_V34 = words(`
  fields page page_size ordering min_id max_id state detection_type detection_category
  src_ip threat_gte certainty certainty_gte last_timestamp last_timestamp_gte
  last_timestamp_lte host_id tags destination proto is_targeting_key_asset is_triaged
  note_modified_timestamp_gte src_account id
`);

const DETECTIONS_V33 = new Set([
  ...DETECTIONS_V34,
  ...words("c_score t_score c_score_gte t_score_gte category targets_key_asset canonicalize"),
]);

const GROUPS_V2 = words(`
  name type description host_ids host_names account_ids account_names domains ips
  importance last_modified_by last_modified_timestamp membership_action page page_size
`);

const GROUPS_V3 = words(`
  name type description host_ids account_ids account_names importance last_modified_by
  last_modified_timestamp page page_size is_regex is_membership_evaluation_ongoing
  include_members
`);

const ENTITIES_V33 = words(`
  type entity_type ordering is_prioritized state tags name last_detection_timestamp_gte
  last_detection_timestamp_lte last_modified_timestamp_gte last_modified_timestamp_lte
  note_modified_timestamp_gte page page_size
`);

const ENTITIES_V34 = new Set([
  ...[...ENTITIES_V33].filter((p) => p !== "entity_type"),
  "fields",
  "exclude_fields",
]);

const ACCEPTED: Readonly<Record<FakeApiVersion, Record<ParamEndpoint, ReadonlySet<string>>>> = {
  "2.5": {
    hosts: HOSTS_V2,
    host: words("fields include_ldap include_external"),
    accounts: ACCOUNTS_V2,
    account: words("fields"),
    detections: DETECTIONS_V2,
    detection: words("fields"),
    groups: GROUPS_V2,
    entities: new Set(),
    entity: new Set(),
  },
  "3.3": {
    hosts: HOSTS_V3,
    host: words("fields"),
    accounts: ACCOUNTS_V3,
    account: words("fields"),
    detections: DETECTIONS_V33,
    detection: words("fields"),
    groups: GROUPS_V3,
    entities: ENTITIES_V33,
    entity: words("type entity_type"),
  },
  "3.4": {
    hosts: HOSTS_V3,
    host: words("fields"),
    accounts: ACCOUNTS_V3,
    account: words("fields"),
    detections: DETECTIONS_V34,
    detection: words("fields"),
    groups: GROUPS_V3,
    entities: ENTITIES_V34,
    entity: words("type fields exclude_fields"),
  },
};

/**
 * Parameters the fake implements. An accepted parameter outside this set is answered with
 * 501, so no test silently relies on a filter the fake ignores. `all`,
 * `include_detection_summaries`, `include_ldap` and `include_external` are accepted and
 * have no effect (the fake always returns every matching object, with no extras).
 */
const IMPLEMENTED = words(`
  page page_size fields exclude_fields ordering tags id min_id max_id state name
  threat threat_gte certainty certainty_gte t_score t_score_gte c_score c_score_gte
  last_source key_asset is_key_asset uid detection_type detection_category category
  is_triaged host_id src_account src_ip is_targeting_key_asset targets_key_asset
  type entity_type include_members is_prioritized
  all include_detection_summaries include_ldap include_external
`);

/** Parameters of a request that the endpoint does not accept, and accepted ones the fake lacks. */
export function checkParams(
  version: FakeApiVersion,
  endpoint: ParamEndpoint,
  names: Iterable<string>,
): { invalid: string[]; unimplemented: string[] } {
  const accepted = ACCEPTED[version][endpoint];
  const invalid: string[] = [];
  const unimplemented: string[] = [];
  for (const name of new Set(names)) {
    if (!accepted.has(name)) invalid.push(name);
    else if (!IMPLEMENTED.has(name)) unimplemented.push(name);
  }
  return { invalid, unimplemented };
}
