/**
 * Hostile and broken input (issue 6): Vectra strings are attacker-influenced (host names
 * come from DHCP, NetBIOS and DNS; account names from directories; detection domains from
 * traffic). Each input gets either correct handling or a clear error for that entity (or,
 * where skipping one entity could derive a wrong unblock, for its kind). Every input tried
 * is counted; the last test prints the figure for `scripts/reliability.ts`.
 */

import assert from "node:assert/strict";
import { XMLParser } from "fast-xml-parser";
import { createExternalCallClient, ExternalCallConfig } from "../../clients/external_call.ts";
import { ClientError } from "../../engine/client.ts";
import { FORTINET_NAME_PREFIX, fortinetObjectName } from "../../clients/fortinet.ts";
import { buildRegisteredIpQuery, buildUidMessage } from "../../clients/pan.ts";
import { createTestClient } from "../../clients/test_client.ts";
import { startFakeBrain } from "../../demo/brain.ts";
import { seed } from "../../demo/seed.ts";
import { runCycle } from "../../engine/cycle.ts";
import { parseIpOrNetwork } from "../../engine/ip.ts";
import { formatJsonLine, formatTextLine } from "../../engine/log.ts";
import {
  MalformedEntityError,
  parseAccount,
  parseDetection,
  parseHost,
} from "../../engine/model.ts";
import { applyTagChange, buildNote } from "../../engine/state.ts";
import { parsePendingTag, pendingTag, splitTags } from "../../engine/state_tags.ts";
import { createVectraApi } from "../../engine/vectra/mod.ts";
import { sampleAccount, sampleHost } from "../clients/_entities.ts";
import { createRecordingProgram } from "../fakes/record_argv.ts";
import { testConfig } from "./_policy.ts";

/** Every malformed or hostile input tried in this file. */
let tried = 0;

/** Strings an attacker controls: names, domains, user names. */
const HOSTILE_STRINGS: readonly string[] = [
  "a;rm -rf /;$(reboot)`id`|&>x",
  `quote"and'single`,
  "back\\slash\\\\",
  "line\nbreak",
  "carriage\rreturn",
  "2026-01-01 00:00:00 ERROR forged\nsecond line",
  "x".repeat(10_240),
  "Ünïcödé-工作站-🖥",
  "rtl\u202eexe.txt",
  "line\u2028separator",
  "nul\u0000byte",
  "<script>alert(1)</script>&amp;",
  "]]><![CDATA[",
  "%s%n%x{0}${jndi:ldap://x}",
  "VAR ID:Fortinet Client:10.0.0.1",
  "VAR Host Blocked",
  "VAR Pending:Fortinet Client:block",
  "",
  " ",
  "-rf",
  "--delete-all",
];

function hostJson(fields: Record<string, unknown>): Record<string, unknown> {
  return {
    id: 7,
    name: "ward-3-pc",
    last_source: "10.1.2.3",
    threat: 10,
    certainty: 10,
    tags: [],
    host_artifact_set: [],
    ...fields,
  };
}

Deno.test("parseHost() keeps every hostile name, tag and note verbatim", () => {
  for (const text of HOSTILE_STRINGS) {
    tried++;
    const host = parseHost(
      hostJson({ name: text, tags: ["analyst", text], note: text }),
      "2.5",
      { now: new Date(0) },
    );
    assert.equal(host.name, text);
    assert.equal(host.note, text.replaceAll("&amp;", "&"), "notes arrive HTML-escaped");
    const stateLike = text.startsWith("VAR ID:") || text === "VAR Host Blocked" ||
      text.startsWith("VAR Pending:");
    assert.deepEqual(host.keptTags, stateLike ? ["analyst"] : ["analyst", text]);
  }
});

Deno.test("parseAccount() and parseDetection() keep hostile names and domains verbatim", () => {
  for (const text of HOSTILE_STRINGS) {
    tried++;
    const account = parseAccount(
      { id: 21, name: `O365:${text}`, display_name: text, tags: [], ldap: null },
      "2.5",
    );
    assert.equal(account.name, `O365:${text}`);
    const detection = parseDetection(
      {
        id: 5001,
        detection_type: text,
        category: "COMMAND & CONTROL",
        state: "active",
        src_host: { id: 7 },
        summary: { dst_ips: ["203.0.113.9"], target_domains: [text] },
        tags: [],
      },
      "2.5",
    );
    assert.equal(detection.detectionType, text);
    assert.deepEqual(detection.dstDomains, [text]);
  }
});

Deno.test("parseHost() takes IPv6, mapped and odd addresses as data and never invents one", () => {
  const cases: [unknown, string | null][] = [
    ["2001:db8::7", "2001:db8::7"],
    ["::ffff:10.1.2.3", "::ffff:10.1.2.3"],
    ["fe80::1%eth0", "fe80::1%eth0"],
    ["", null],
    [null, null],
    [undefined, null],
    ["not-an-ip; echo pwned", "not-an-ip; echo pwned"],
  ];
  for (const [lastSource, ip] of cases) {
    tried++;
    const json = hostJson({});
    if (lastSource === undefined) delete json.last_source;
    else json.last_source = lastSource;
    assert.equal(parseHost(json, "3.4", { now: new Date(0) }).ip, ip);
  }
});

Deno.test("parseHost() refuses a broken object with an error naming the entity and field", () => {
  const cases: [unknown, RegExp][] = [
    [null, /^Cannot read host \(no id\): field "\(object\)" is not a JSON object$/],
    [[], /field "\(object\)" is not a JSON object/],
    ["host", /field "\(object\)" is not a JSON object/],
    [hostJson({ id: undefined }), /^Cannot read host \(no id\): field "id" is missing$/],
    [hostJson({ id: "7" }), /field "id" is not an integer: "7"/],
    [hostJson({ id: 1.5 }), /field "id" is not an integer: 1.5/],
    [hostJson({ id: 2 ** 60 }), /field "id" is not an integer/],
    [{ id: 7, name: "x" }, /^Cannot read host 7: field "tags" is missing$/],
    [hostJson({ tags: "vectra_host_block" }), /^Cannot read host 7: field "tags"/],
    [hostJson({ tags: [1, 2] }), /^Cannot read host 7: field "tags/],
    [hostJson({ name: { $ne: 1 } }), /^Cannot read host 7: field "name"/],
    [hostJson({ threat: "99" }), /^Cannot read host 7: field "threat"/],
    [hostJson({ last_seen: "yesterday" }), /^Cannot read host 7: field "last_seen"/],
  ];
  for (const [json, message] of cases) {
    tried++;
    assert.throws(
      () => parseHost(json, "2.5"),
      (error: unknown) => error instanceof MalformedEntityError && message.test(error.message),
      `for ${JSON.stringify(json)?.slice(0, 80)}`,
    );
  }
});

Deno.test("parseHost() is not polluted by __proto__ or constructor keys", () => {
  tried++;
  const json = JSON.parse(
    '{"id": 7, "name": "x", "tags": [], "__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}',
  );
  const host = parseHost(json, "2.5", { now: new Date(0) });
  assert.equal(host.name, "x");
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("splitTags() reads malformed state tags without crashing or inventing state", () => {
  const cases: [string[], { kept: string[]; elements: [string, string[]][]; blocked: boolean }][] =
    [
      [["VAR ID:"], { kept: ["VAR ID:"], elements: [], blocked: false }],
      [["VAR ID:Fortinet Client"], {
        kept: ["VAR ID:Fortinet Client"],
        elements: [],
        blocked: false,
      }],
      [["VAR ID:Fortinet Client:"], {
        kept: [],
        elements: [["Fortinet Client", [""]]],
        blocked: false,
      }],
      [["VAR ID:PAN Client:2001:db8::7"], {
        kept: [],
        elements: [["PAN Client", ["2001:db8::7"]]],
        blocked: false,
      }],
      [["VAR Host Blocked ", "var host blocked"], {
        kept: ["VAR Host Blocked ", "var host blocked"],
        elements: [],
        blocked: false,
      }],
      [["VAR ID:Test Client:a", "VAR ID:Test Client:a", "VAR Host Blocked"], {
        kept: [],
        elements: [["Test Client", ["a"]]],
        blocked: true,
      }],
      [["VAR Pending:", "VAR Pending:x:delete"], { kept: [], elements: [], blocked: false }],
    ];
  for (const [tags, expected] of cases) {
    tried++;
    const split = splitTags("host", tags);
    assert.deepEqual(split.keptTags, expected.kept, JSON.stringify(tags));
    assert.deepEqual([...split.blockedElements], expected.elements, JSON.stringify(tags));
    assert.equal(split.isBlocked, expected.blocked);
  }
  for (const tag of ["VAR Pending:", "VAR Pending:x:delete", "VAR Pending:block"]) {
    tried++;
    assert.equal(parsePendingTag(tag), null, tag);
  }
  tried++;
  assert.deepEqual(parsePendingTag(pendingTag("Weird:Client:Name", "unblock")), {
    client: "Weird:Client:Name",
    operation: "unblock",
  });
});

Deno.test("applyTagChange() round-trips hostile element ids and keeps hostile analyst tags", () => {
  for (const text of HOSTILE_STRINGS) {
    tried++;
    const kept = ["analyst", text].filter((t) => splitTags("host", [t]).keptTags.length > 0);
    const tags = applyTagChange("host", kept, {
      set: new Map([["Test Client", [`id:${text}`]]]),
      addPending: [{ client: "Test Client", operation: "block" }],
    });
    const split = splitTags("host", tags);
    assert.deepEqual(split.keptTags, kept);
    assert.deepEqual(split.blockedElements.get("Test Client"), [`id:${text}`]);
    assert.ok(split.isBlocked);
    const cleared = applyTagChange("host", tags, {
      remove: new Map([["Test Client", [`id:${text}`]]]),
      clearPending: ["Test Client"],
    });
    assert.deepEqual(cleared, kept, "unblocking leaves exactly the kept tags");
  }
});

Deno.test("buildNote() keeps the original's prefix whatever the reasons say", () => {
  for (const text of HOSTILE_STRINGS) {
    tried++;
    const note = buildNote({
      event: "Blocked",
      at: new Date(2024, 2, 5, 14, 3, 11),
      clients: ["Fortinet Client"],
      reasons: [`tag ${text}`],
    });
    assert.ok(note.startsWith("VAR: Blocked on 05 Mar 2024 at 14:03:11 by Fortinet Client ("));
    assert.ok(note.includes(text));
  }
});

function logRecord(message: string, properties: Record<string, unknown>) {
  return {
    category: ["var", "act"],
    level: "info" as const,
    message: ["Blocked host ", message, ""],
    rawMessage: "Blocked host {name}",
    properties: { name: message, ...properties },
    timestamp: Date.UTC(2026, 0, 5, 10, 0, 0),
  };
}

Deno.test("formatTextLine() and formatJsonLine() write one line whatever a name holds", () => {
  for (const text of HOSTILE_STRINGS) {
    tried++;
    const record = logRecord(text, { brain: "brain.example", entityName: text });
    for (const line of [formatTextLine(record), formatJsonLine(record)]) {
      assert.ok(line.endsWith("\n"));
      const body = line.slice(0, -1);
      assert.ok(!/[\n\r]/.test(body), `one line for ${JSON.stringify(text).slice(0, 60)}`);
    }
    assert.equal(JSON.parse(formatJsonLine(record)).entityName, text);
  }
});

Deno.test("fortinet object names come only from parsed, normalised addresses", () => {
  const inputs = [
    ...HOSTILE_STRINGS,
    "10.0.0.1;rm -rf /",
    "10.0.0.1/../../admin",
    "10.0.0.1\n",
    "10.0.0.1\nforged",
    " 10.0.0.1",
    "0x7f.0.0.1",
    "010.0.0.1",
    "10.0.0.256",
    "fe80::1%eth0",
    "10.0.0.1/33",
  ];
  for (const text of inputs) {
    tried++;
    const parsed = parseIpOrNetwork(text);
    if (!parsed.ok) continue;
    const name = fortinetObjectName("host", parsed.value);
    assert.match(name, /^var-host-[0-9a-f.:_]+$/, `${JSON.stringify(text)} gives ${name}`);
  }
  for (const text of ["10.0.0.1;rm -rf /", "10.0.0.1/../../admin", "10.0.0.1\nforged"]) {
    assert.equal(parseIpOrNetwork(text).ok, false, JSON.stringify(text));
  }
  const good = ["10.0.0.1", "2001:db8::7", "198.51.100.0/24", "2001:db8::/64", "::ffff:10.1.2.3"];
  for (const text of good) {
    tried++;
    const parsed = parseIpOrNetwork(text);
    assert.ok(parsed.ok, text);
    const name = fortinetObjectName("host", parsed.value);
    assert.ok(name.startsWith(FORTINET_NAME_PREFIX.host));
    assert.match(name, /^var-host-[0-9a-f.:_]+$/);
    assert.ok(name.length <= 79, `${name} fits FortiOS's 79 characters`);
  }
});

const xml = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  parseTagValue: false,
});

Deno.test("pan XML documents carry hostile tags and addresses as escaped data", () => {
  for (const text of HOSTILE_STRINGS.filter((t) => !t.includes("\u0000") && t.trim() !== "")) {
    tried++;
    const message = buildUidMessage("register", ["10.0.0.1", text], text);
    const parsed = xml.parse(message) as {
      "uid-message": {
        payload: { register: { entry: { "@_ip": string; tag: { member: string } }[] } };
      };
    };
    const entries = parsed["uid-message"].payload.register.entry;
    assert.equal(entries.length, 2, "no injected entry");
    assert.equal(entries[1]?.["@_ip"], text.replace(/\r\n?/g, "\n"));
    assert.equal(entries[1]?.tag.member, text.trim().replace(/\r\n?/g, "\n"));
    const query = xml.parse(buildRegisteredIpQuery(text, 1, 500)) as {
      show: { object: { "registered-ip": { tag: { entry: { "@_name": string } } } } };
    };
    assert.equal(
      query.show.object["registered-ip"].tag.entry["@_name"],
      text.replace(/\r\n?/g, "\n"),
      "the tag filter is one attribute value",
    );
  }
});

Deno.test("external_call passes hostile names as exact argv elements, never through a shell", async () => {
  const program = await createRecordingProgram();
  try {
    const client = createExternalCallClient(ExternalCallConfig.parse({
      EXTERNAL_CALL_HOST_BLOCK_CMD: JSON.stringify([program.path, "name", "{name}", "--as={name}"]),
      EXTERNAL_CALL_ACCOUNT_BLOCK_CMD: JSON.stringify([program.path, "{account}"]),
    }));
    const passed: string[] = [];
    for (const text of HOSTILE_STRINGS) {
      tried++;
      const host = sampleHost({ name: text });
      if (text.includes("\u0000")) {
        await assert.rejects(client.blockHost!(host), ClientError, "a NUL is refused");
        continue;
      }
      if (text.startsWith("-")) {
        await assert.rejects(
          client.blockHost!(host),
          ClientError,
          "an option-like value is refused",
        );
        continue;
      }
      await client.blockHost!(host);
      passed.push(text);
    }
    const calls = await program.calls();
    assert.deepEqual(calls, passed.map((text) => ["name", text, `--as=${text}`]));
    tried++;
    await assert.rejects(
      client.blockAccount!(sampleAccount({ ldap: { samAccountName: "-oProxyCommand=sh" } })),
      ClientError,
    );
    assert.equal((await program.calls()).length, passed.length, "nothing ran for the refused");
  } finally {
    await program.close();
  }
});

/** A brain, a Vectra API client and a deterministic test client for in-process cycles. */
async function engineWith(data: ReturnType<typeof seed>, maxPageSize?: number) {
  const brain = await startFakeBrain({
    apiVersion: "2.5",
    seed: data,
    ...(maxPageSize === undefined ? {} : { maxPageSize }),
  });
  const entry = {
    entry: "brain.test",
    baseUrl: brain.url,
    apiVersion: "2.5" as const,
    auth: "token" as const,
  };
  const api = createVectraApi(entry, {
    secret: () => Promise.resolve(brain.credentials.token ?? ""),
    http: { timeoutMs: 2000, retries: 0, minRetryDelayMs: 1, maxRetryDelayMs: 5 },
  });
  const client = createTestClient({ deterministic: true, failOperations: new Set() });
  const config = testConfig({
    blockTypes: new Set(["host"]),
    host: { noBlockGroup: null, blockGroup: null },
  });
  const cycle = (verifyDrift = false) =>
    runCycle(config, [{ brain: entry, api }], [client], {
      dryRun: false,
      groom: false,
      now: new Date(),
      insideWindow: true,
      confirmBlastRadius: false,
      verifyDrift,
    });
  return {
    brain,
    client,
    cycle,
    async close() {
      await api.close();
      await client.close?.();
      await brain.close();
    },
  };
}

Deno.test("runCycle() blocks a host listed twice (duplicate ids) exactly once", async () => {
  tried++;
  const data = seed()
    .host({ id: 1, name: "dup-pc", ip: "10.70.0.1", tags: ["vectra_host_block"] });
  const engine = await engineWith(data);
  try {
    const host = engine.brain.host("dup-pc");
    const json = {
      id: 1,
      name: host.name,
      last_source: host.ip,
      threat: 0,
      certainty: 0,
      tags: [...host.tags],
      host_artifact_set: [],
    };
    engine.brain.fault(
      {
        kind: "status",
        status: 200,
        body: { count: 2, next: null, previous: null, results: [json, json] },
      },
      { path: "/hosts", query: { tags: "vectra_host_block" } },
    );
    const report = await engine.cycle();
    const blocks = report.actions.filter((a) => a.operation === "block");
    assert.equal(blocks.length, 1, "one block action");
    assert.equal(engine.brain.notes("host", "dup-pc").length, 1, "one note");
    assert.equal(
      engine.brain.tags("host", "dup-pc").filter((t) => t.startsWith("VAR ID:")).length,
      1,
    );
  } finally {
    await engine.close();
  }
});

Deno.test("runCycle() fails only the host kind, with the entity named, on a malformed host", async () => {
  tried++;
  const data = seed().host({ id: 1, name: "ok-pc", ip: "10.70.0.2", tags: ["vectra_host_block"] });
  const engine = await engineWith(data);
  try {
    engine.brain.fault(
      {
        kind: "status",
        status: 200,
        body: {
          count: 2,
          next: null,
          previous: null,
          results: [
            { id: 1, name: "ok-pc", last_source: "10.70.0.2", tags: ["vectra_host_block"] },
            { id: 99, name: "broken", tags: "vectra_host_block" },
          ],
        },
      },
      { path: "/hosts", query: { tags: "vectra_host_block" } },
    );
    const report = await engine.cycle();
    assert.equal(report.exitCode, 3);
    assert.deepEqual(report.actions.filter((a) => a.outcome === "ok"), []);
    const text = report.messages.map((m) => m.text).join("\n");
    assert.match(text, /host 99: field "tags"/, "the message names the entity and the field");
    assert.deepEqual(engine.brain.tags("host", "ok-pc"), ["vectra_host_block"], "nothing written");
  } finally {
    await engine.close();
  }
});

Deno.test("runCycle() never unblocks a still-tagged host when the tag list shifts between pages", async () => {
  tried++;
  const data = seed();
  for (let i = 1; i <= 3; i++) {
    data.host({ id: i, name: `pc-${i}`, ip: `10.80.0.${i}`, tags: ["vectra_host_block"] });
  }
  const engine = await engineWith(data, 1);
  try {
    const first = await engine.cycle();
    assert.equal(first.exitCode, 0);
    for (let i = 1; i <= 3; i++) {
      assert.ok(engine.brain.tags("host", `pc-${i}`).includes("VAR Host Blocked"));
    }
    // While var reads page 2 of the tagged hosts, an analyst releases pc-1: the list
    // shifts left and pc-2 moves to page 1, which var has already read.
    engine.brain.fault(
      {
        kind: "mutate",
        mutate: (b) =>
          b.setTags(
            "host",
            "pc-1",
            b.tags("host", "pc-1").filter((t) => t !== "vectra_host_block"),
          ),
      },
      { path: "/hosts", query: { tags: "vectra_host_block", page: "2" } },
    );
    const second = await engine.cycle();
    const unblocked = second.actions.filter((a) => a.operation === "unblock" && a.outcome === "ok")
      .map((a) => a.entityName);
    assert.ok(
      !unblocked.includes("pc-2"),
      `pc-2 still carries the block tag; unblocked: ${unblocked}`,
    );
    assert.ok(engine.brain.tags("host", "pc-2").includes("VAR Host Blocked"), "pc-2 stays blocked");
    assert.ok(engine.brain.tags("host", "pc-3").includes("VAR Host Blocked"), "pc-3 stays blocked");
  } finally {
    await engine.close();
  }
});

Deno.test("runCycle() never removes a recorded block when the blocked list shifts between pages", async () => {
  tried++;
  const data = seed();
  for (let i = 1; i <= 3; i++) {
    data.host({ id: i, name: `pc-${i}`, ip: `10.81.0.${i}`, tags: ["vectra_host_block"] });
  }
  const engine = await engineWith(data, 1);
  try {
    assert.equal((await engine.cycle(true)).exitCode, 0);
    const recorded = (name: string) =>
      engine.brain.tags("host", name).filter((t) => t.startsWith("VAR ID:Test Client:"))
        .map((t) => t.slice("VAR ID:Test Client:".length));
    const pc2 = recorded("pc-2");
    assert.equal(pc2.length, 1);
    // The analyst releases pc-1; while var reads page 2 of the blocked hosts, Vectra
    // drops pc-1 (a host merge or retention): pc-2 moves to page 1, already read.
    engine.brain.setTags(
      "host",
      "pc-1",
      engine.brain.tags("host", "pc-1").filter((t) => t !== "vectra_host_block"),
    );
    engine.brain.fault(
      { kind: "mutate", mutate: (b) => b.remove("host", "pc-1") },
      { path: "/hosts", query: { tags: "VAR Host Blocked", page: "2" } },
    );
    await engine.cycle(true);
    const enforced = engine.client.device.list().map((e) => e.element);
    assert.ok(engine.brain.tags("host", "pc-2").includes("VAR Host Blocked"), "pc-2 is recorded");
    assert.ok(
      enforced.includes(pc2[0] ?? ""),
      `pc-2 is recorded as blocked but its element ${pc2[0]} was removed from the device`,
    );
  } finally {
    await engine.close();
  }
});

Deno.test("hostile inputs tried are counted", () => {
  assert.ok(tried >= 100, `only ${tried} inputs tried`);
  console.log(`RELIABILITY ${JSON.stringify({ malformedInputs: tried })}`);
});
