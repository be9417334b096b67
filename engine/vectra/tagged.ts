/**
 * The entities of one kind carrying a tag exactly, whatever the kind: the query act and
 * drift repair use to confirm what Vectra records.
 *
 * @module
 */

import type { Entity, Kind } from "../model.ts";
import type { VectraApi } from "./api.ts";

/** The entities of `kind` carrying `tag` exactly (all pages; the API re-checks the tag). */
export async function listTagged(api: VectraApi, kind: Kind, tag: string): Promise<Entity[]> {
  switch (kind) {
    case "host":
      return await api.listHosts({ tag });
    case "account":
      return await api.listAccounts({ tag });
    case "detection":
      return await api.listDetections({ tag });
  }
}
