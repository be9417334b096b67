/**
 * Issues 29 and 31 end to end: the fake brain (API v2.5, token) and a fake firewall or
 * management server that blocks through objects in groups — Check Point, FortiManager in
 * workspace mode, Cisco FMC, Cisco ASA, Sophos. `main.ts run` under `deno run -P` blocks two
 * tagged hosts, a tagged detection's destination and the static list; where the product
 * commits, in one session per cycle, committed once for the entities and once for the
 * static list, and a cycle with nothing to change commits nothing; then it unblocks what
 * lost its tag or line.
 */

import assert from "node:assert/strict";
import { startFakeBrain } from "../../demo/brain.ts";
import { seed } from "../../demo/seed.ts";
import { secretFileName } from "../../engine/secrets.ts";
import { startFakeCheckPoint } from "../fakes/checkpoint.ts";
import { startFakeAsa } from "../fakes/cisco_asa.ts";
import { startFakeFmc } from "../fakes/cisco_fmc.ts";
import { startFakeSophos } from "../fakes/sophos.ts";
import { startFakeFortiManager } from "../fakes/fortimanager.ts";
import { runVar } from "./_harness.ts";

const PASSWORD = "mgmt-e2e-Pa55";
const DST = "93.184.216.34";

/** One management product as the scenario drives it. */
interface Product {
  readonly tagName: string;
  /** `var.env` lines of the client. */
  readonly env: readonly string[];
  /** The secret: service, key. */
  readonly secret: readonly [string, string];
  /** Other secrets: service, key, value. */
  readonly extraSecrets?: readonly (readonly [string, string, string])[];
  /** The requests received so far, as `<command>` strings. */
  sent(): string[];
  readonly login: string;
  /** The last requests of a cycle. */
  readonly ending: readonly string[];
  readonly install: string;
  readonly sessions: () => number;
  /** What each gateway enforces: group → sorted member names (empty groups left out). */
  enforced(gateway: string): Record<string, string[]>;
  readonly gateways: readonly string[];
  /** Host and destination group names. */
  readonly groups: readonly [string, string];
  /** True when var's object of the host is gone from the management database. */
  deleted(name: string): boolean;
  close(): Promise<void>;
}

const sorted = (groups: Iterable<[string, Iterable<string>]>) =>
  Object.fromEntries(
    [...groups].map(([g, m]) => [g, [...m].sort()] as const).filter(([, m]) => m.length > 0),
  );

function checkPoint(): Product {
  const cp = startFakeCheckPoint({
    users: { "var-api": PASSWORD },
    gateways: ["gw-ward", "gw-core"],
  });
  return {
    tagName: "CheckPoint Client",
    env: [
      "THIRD_PARTY_CLIENTS=checkpoint",
      "CHECKPOINT_HOST=http://127.0.0.1",
      `CHECKPOINT_PORT=${cp.port}`,
      "CHECKPOINT_USER=var-api",
      "CHECKPOINT_INSTALL_TARGETS=gw-ward,gw-core",
      "CHECKPOINT_TASK_POLL_SECONDS=0.01",
    ],
    secret: ["CheckPoint", "var-api"],
    sent: () => cp.fake.requests.map((r) => r.command),
    login: "login",
    ending: ["logout"],
    install: "install-policy",
    sessions: () => cp.fake.sessions,
    enforced: (gateway) => sorted(cp.fake.installed(gateway)),
    gateways: ["gw-ward", "gw-core"],
    groups: ["Internal-Block", "External-Block"],
    deleted: (name) => cp.fake.object(name) === undefined,
    close: () => cp.close(),
  };
}

function fortiManager(): Product {
  const fmg = startFakeFortiManager({ users: { apiadmin: PASSWORD }, workspaceMode: true });
  return {
    tagName: "FMG Client",
    env: [
      "THIRD_PARTY_CLIENTS=fortimanager",
      `FORTIMANAGER_URLS=${fmg.url}`,
      "FORTIMANAGER_INSTALL_DEVICES=fgt-ward,fgt-core",
      "FORTIMANAGER_TASK_POLL_SECONDS=0.01",
    ],
    secret: [fmg.url, "password"],
    sent: () => fmg.fake.requests.map((r) => `${r.method} ${r.url}`),
    login: "exec /sys/login/user",
    ending: ["exec /dvmdb/adom/vectra_adom/workspace/unlock", "exec /sys/logout"],
    install: "exec /securityconsole/install/package",
    sessions: () => fmg.fake.sessions,
    enforced: (gateway) => sorted(fmg.fake.installed(gateway)),
    gateways: ["fgt-ward/root", "fgt-core/root"],
    groups: ["Blocked_Vectra_IPs", "Blocked_Vectra_Destinations"],
    deleted: (name) => !fmg.fake.db.addresses.has(name),
    close: () => fmg.close(),
  };
}

function firepower(): Product {
  const fmc = startFakeFmc({
    username: "var-api",
    password: PASSWORD,
    groups: ["Vectra-Block", "External-Block"],
  });
  return {
    tagName: "FMC Client",
    env: [
      "THIRD_PARTY_CLIENTS=fmc",
      `CISCO_FMC_URL=${fmc.url}/`,
      "CISCO_FMC_BLOCK_GROUP=Vectra-Block",
      "CISCO_FMC_DEVICES=ftd-ward,ftd-core",
      "CISCO_FMC_TASK_POLL_SECONDS=0.01",
    ],
    secret: ["Cisco_FMC", "Password"],
    extraSecrets: [["Cisco_FMC", "Username", "var-api"]],
    sent: () => fmc.fake.requests.map((r) => r.path.replace(/^.*\/(auth|deployment)\//, "$1/")),
    login: "auth/generatetoken",
    ending: [],
    install: "deployment/deploymentrequests",
    sessions: () => 0,
    enforced: (gateway) => sorted(fmc.fake.deployed(gateway)),
    gateways: ["ftd-ward", "ftd-core"],
    groups: ["Vectra-Block", "External-Block"],
    deleted: (name) => ![...fmc.fake.objects.values()].some((o) => o.name === name),
    close: () => fmc.close(),
  };
}

function asa(): Product {
  const server = startFakeAsa({ username: "var-admin", password: PASSWORD });
  return {
    tagName: "ASA HTTP Client",
    env: [
      "THIRD_PARTY_CLIENTS=asa_http",
      `CISCO_ASA_HTTP_URL=${server.url}`,
      "CISCO_ASA_HTTP_BLOCK_GROUP=VECTRA-BLOCK",
      "CISCO_ASA_HTTP_EXTERNAL_BLOCK_GROUP=VECTRA-EXTERNAL",
    ],
    secret: ["Cisco_ASA_HTTP", "Password"],
    extraSecrets: [["Cisco_ASA_HTTP", "Username", "var-admin"]],
    sent: () => server.fake.requests.map((r) => r.lines.join(" / ")),
    login: "",
    ending: [],
    install: "write memory",
    sessions: () => 0,
    // The startup configuration: what the ASA enforces after a reload too.
    enforced: () =>
      sorted(
        [...server.fake.saved.groups].map((
          [g, m],
        ) => [g, m.map((l) => l.replace("network-object object ", ""))] as [string, string[]]),
      ),
    gateways: ["asa", "asa"],
    groups: ["VECTRA-BLOCK", "VECTRA-EXTERNAL"],
    deleted: (name) => !server.fake.running.objects.has(name),
    close: () => server.close(),
  };
}

/** Sophos applies changes at once: no commit step, so `install` is empty. */
function sophosFirewall(): Product {
  const server = startFakeSophos({
    username: "var-api",
    password: PASSWORD,
    groups: { "Vectra Blocked Hosts": "IPv4", "Vectra Blocked Destinations": "IPv4" },
  });
  return {
    tagName: "Sophos Client",
    env: [
      "THIRD_PARTY_CLIENTS=sophos",
      "SOPHOS_HOSTNAME=http://127.0.0.1",
      `SOPHOS_PORT=${server.port}`,
    ],
    secret: ["Sophos", "Password"],
    extraSecrets: [["Sophos", "Username", "var-api"]],
    sent: () => server.fake.requests.map((r) => r.method),
    login: "",
    ending: [],
    install: "",
    sessions: () => 0,
    enforced: () =>
      sorted([...server.fake.groups].map(([g, { hosts }]) => [g, hosts] as [string, string[]])),
    gateways: ["sophos", "sophos"],
    groups: ["Vectra Blocked Hosts", "Vectra Blocked Destinations"],
    deleted: (name) => !server.fake.hosts.has(name),
    close: () => server.close(),
  };
}

for (
  const [name, start] of [
    ["Check Point", checkPoint],
    ["FortiManager", fortiManager],
    ["Cisco FMC", firepower],
    ["Cisco ASA", asa],
    ["Sophos Firewall", sophosFirewall],
  ] as const
) {
  Deno.test(`var run blocks and unblocks hosts, a detection and static entries through ${name}, one session per cycle`, async () => {
    await using brain = await startFakeBrain({
      apiVersion: "2.5",
      seed: seed()
        .host({ name: "ward-3-pc", ip: "10.1.2.3", tags: ["vectra_host_block"] })
        .host({ name: "ward-4-pc", ip: "10.1.2.4", tags: ["vectra_host_block"] })
        .host({ name: "quiet-pc", ip: "10.1.2.9" })
        .detection({
          src: "quiet-pc",
          type: "Hidden HTTPS Tunnel",
          category: "COMMAND & CONTROL",
          dstIps: [DST],
          tags: ["block"],
        }),
    });
    const product = start();
    const dir = await Deno.makeTempDir({ prefix: "var_e2e_commit_" });
    try {
      const secrets = `${dir}/secrets`;
      await Deno.mkdir(secrets);
      const secret = (service: string, key: string, value: string) =>
        Deno.writeTextFile(`${secrets}/${secretFileName(service, key)}`, `${value}\n`);
      await secret(brain.url, "Token", brain.credentials.token ?? "");
      await secret(...product.secret, PASSWORD);
      for (const [service, key, value] of product.extraSecrets ?? []) {
        await secret(service, key, value);
      }
      await Deno.writeTextFile(`${dir}/static.txt`, "45.33.32.156\n104.16.0.0/13\n");
      const env = [
        `COGNITO_URL=${brain.url}`,
        "AUTH=TOKEN",
        "VECTRA_API_VERSION=2.5",
        "BLOCK_HOST_URGENCY=",
        "BLOCK_ACCOUNT_URGENCY=",
        "BLOCK_HOST_GROUP_NAME=",
        "NO_BLOCK_HOST_GROUP_NAME=",
        "BLOCK_TYPES=host,detection,static",
        ...product.env,
        "STATIC_BLOCK_DESTINATION_IPS=static.txt",
        "HEALTH_LISTEN=",
      ].join("\n");
      await Deno.writeTextFile(`${dir}/var.env`, `${env}\n`);
      const run = async () => {
        const before = product.sent().length;
        const result = await runVar(`${dir}/var.env`, secrets, { json: false });
        assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
        const sent = product.sent().slice(before);
        if (product.login !== "") {
          assert.equal(sent.filter((c) => c === product.login).length, 1, "one session per cycle");
        }
        if (product.ending.length > 0) {
          assert.deepEqual(sent.slice(-product.ending.length), product.ending);
        }
        assert.equal(product.sessions(), 0);
        return sent;
      };
      const [hostGroup, destinationGroup] = product.groups;

      const first = await run();
      // The entities in one batch, the static list in another.
      if (product.install !== "") {
        assert.equal(first.filter((c) => c === product.install).length, 2);
      }
      assert.deepEqual(brain.tags("host", "ward-3-pc"), [
        "vectra_host_block",
        "VAR Host Blocked",
        `VAR ID:${product.tagName}:10.1.2.3`,
      ]);
      const detectionId = brain.idOf("detection", 5001);
      assert.deepEqual(brain.tags("detection", detectionId), [
        "block",
        "VAR Detection Blocked",
        `VAR ID:${product.tagName}:${DST}`,
      ]);
      for (const gateway of product.gateways) {
        assert.deepEqual(product.enforced(gateway), {
          [hostGroup]: ["var-host-10.1.2.3", "var-host-10.1.2.4"],
          [destinationGroup]: [
            "var-detection-93.184.216.34",
            "var-static-104.16.0.0_13",
            "var-static-45.33.32.156",
          ],
        });
      }

      const quiet = await run();
      if (product.install !== "") {
        assert.ok(
          !quiet.includes(product.install),
          `nothing to change, nothing installed: ${quiet}`,
        );
      }

      brain.setTags("host", "ward-3-pc", brain.tags("host", "ward-3-pc").slice(1));
      brain.setTags("detection", detectionId, brain.tags("detection", detectionId).slice(1));
      await Deno.writeTextFile(`${dir}/static.txt`, "45.33.32.156\n");
      await run();
      assert.deepEqual(brain.tags("host", "ward-3-pc"), []);
      assert.deepEqual(brain.tags("detection", detectionId), []);
      assert.deepEqual(product.enforced(product.gateways[1] ?? ""), {
        [hostGroup]: ["var-host-10.1.2.4"],
        [destinationGroup]: ["var-static-45.33.32.156"],
      });
      assert.ok(product.deleted("var-host-10.1.2.3"), "var deletes what it made");
      assert.match(brain.notes("host", "ward-3-pc").at(-1)?.note ?? "", /^VAR: Unblocked on /);
    } finally {
      await Deno.remove(dir, { recursive: true });
      await product.close();
    }
  });
}
