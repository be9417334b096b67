/**
 * How one brain reads a comma in the value of a list filter (`tags=a,b` on `/hosts`,
 * `id=1,2`, `host_id=1,2` on `/detections`). No public Vectra document settles it: a brain
 * may read the value as a list of which any item matches, as one literal value, by its
 * first item only, or ignore the parameter and return everything. var learns the reading
 * of each filter from the answers to its own queries and uses the combined form only once
 * an answer proved it complete; until then, and when it is not, one value per query.
 *
 * @module
 */

/** A reading of a comma in a filter value, as proven by an answer. */
export type ListReading =
  /** Any item matches: the combined form is complete. */
  | "anyof"
  /** The filter is ignored (everything comes back): complete once re-checked on var's side. */
  | "ignored"
  /** Only the first item is honoured. */
  | "first"
  /** The whole value is one literal item, or a list answers nothing. */
  | "literal"
  /** A list is refused with 400. */
  | "refused";

/** A list filter var may send with several values: the parameter on a resource. */
export type ListFilter =
  | "tags on /hosts"
  | "tags on /accounts"
  | "tags on /detections"
  | "id on /hosts"
  | "id on /accounts"
  | "host_id on /detections";

/** What var sends for a filter: until its reading is known, when ignored, when partial. */
interface Forms {
  readonly unknown: string;
  readonly ignored: string;
  readonly partial: string;
}

const TAG_FORMS: Forms = {
  unknown: "each combined query is checked, and when it answers nothing one tag per query",
  ignored: "one combined query, kept to the tags on var's side",
  partial: "one tag per query",
};

const ID_FORMS: Forms = {
  unknown: "each id list is checked, and the ids it may have missed are read without a list",
  ignored: "one read of the whole list, kept to the ids on var's side",
  partial: "one object per request (the whole list above 20 ids)",
};

const HOST_ID_FORMS: Forms = {
  unknown: "each host list is checked, and when it proves nothing the detections are read " +
    "without a list",
  ignored: "one read without host_id, kept to the hosts on var's side",
  partial: "one query per host (above 20 hosts one read without host_id, kept to the hosts)",
};

/** Every filter, in the order a report lists them, with the query forms var uses. */
const FILTERS: ReadonlyMap<ListFilter, Forms> = new Map<ListFilter, Forms>([
  ["tags on /hosts", TAG_FORMS],
  ["tags on /accounts", TAG_FORMS],
  ["tags on /detections", TAG_FORMS],
  ["id on /hosts", ID_FORMS],
  ["id on /accounts", ID_FORMS],
  ["host_id on /detections", HOST_ID_FORMS],
]);

const LABEL: Readonly<Record<ListReading, string>> = {
  anyof: "any-of list",
  ignored: "ignored (everything returned)",
  first: "first item only",
  literal: "literal value",
  refused: "list refused",
};

/** True when the combined form of a filter returns every match under a reading. */
export function combinedIsComplete(reading: ListReading | undefined): boolean {
  return reading === "anyof" || reading === "ignored";
}

/** What one brain has shown of its readings, filter by filter. */
export class ListReadings {
  #known = new Map<ListFilter, ListReading>();
  #reported: string | null = null;

  /** The proven reading of a filter, or undefined while no answer proved one. */
  get(filter: ListFilter): ListReading | undefined {
    return this.#known.get(filter);
  }

  /** Records a proven reading; the first proof of a filter stands for the process. */
  learn(filter: ListFilter, reading: ListReading): void {
    if (!this.#known.has(filter)) this.#known.set(filter, reading);
  }

  /** One line: each filter's reading and the query form var uses for it. */
  describe(): string {
    return [...FILTERS.keys()].map((filter) => `${filter}: ${this.describeFilter(filter)}`)
      .join("; ");
  }

  /** A filter's reading and the query form var uses for it, e.g. `any-of list: one combined query`. */
  describeFilter(filter: ListFilter): string {
    const forms = FILTERS.get(filter)!;
    const reading = this.#known.get(filter);
    if (reading === undefined) return `not shown yet: ${forms.unknown}`;
    const form = reading === "anyof"
      ? "one combined query"
      : reading === "ignored"
      ? forms.ignored
      : forms.partial;
    return `${LABEL[reading]}: ${form}`;
  }

  /**
   * The report line the first time it is asked for and each time a reading was learned
   * since, else null: one log line per brain and process, and one more per new proof.
   */
  takeReport(): string | null {
    const line = this.describe();
    if (line === this.#reported) return null;
    this.#reported = line;
    return line;
  }
}

/** A tag that no entity carries, framing a tag list so that a partial reading answers nothing. */
export function absentTag(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return `var-comma-check-${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}
