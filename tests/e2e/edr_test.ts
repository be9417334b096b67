/**
 * Issue 30 end to end: the fake brain (API v2.5, token) and a fake EDR; `main.ts run`
 * under `deno run -P` isolates the endpoint of a tagged host once the product reports it
 * isolated, records the endpoint id, and releases it when the tag goes.
 */

import assert from "node:assert/strict";
import { startFakeBrain } from "../../demo/brain.ts";
import { seed } from "../../demo/seed.ts";
import { secretFileName } from "../../engine/secrets.ts";
import { startFakeGravityZone } from "../fakes/bitdefender.ts";
import { startFakeAmp } from "../fakes/cisco_amp.ts";
import { startFakeCortex } from "../fakes/cortex.ts";
import { startFakeHarmony } from "../fakes/harmony.ts";
import { startFakeSophosCentral } from "../fakes/sophos_central.ts";
import { startFakeApexCentral } from "../fakes/apexone.ts";
import { startFakeVisionOne } from "../fakes/visionone.ts";
import { startFakeCloudOne } from "../fakes/cloudone.ts";
import { startFakeTanium } from "../fakes/tanium.ts";
import { runVar } from "./_harness.ts";

/** One EDR as the scenario drives it. */
interface Edr {
  readonly tagName: string;
  readonly env: readonly string[];
  /** Secrets: service, key, value. */
  readonly secrets: readonly (readonly [string, string, string])[];
  /** The endpoint ids the EDR holds isolated. */
  isolated(): string[];
  close(): Promise<void>;
}

function cortex(): Edr {
  const server = startFakeCortex({
    keyId: "17",
    key: "cortex-e2e-key",
    endpoints: [
      {
        endpoint_id: "e-0003",
        endpoint_name: "ward-3-pc",
        ip: ["10.1.2.3"],
        endpoint_status: "CONNECTED",
        is_isolated: "AGENT_UNISOLATED",
      },
      {
        endpoint_id: "e-0004",
        endpoint_name: "ward-4-pc",
        ip: ["10.1.2.4"],
        endpoint_status: "CONNECTED",
        is_isolated: "AGENT_UNISOLATED",
      },
    ],
  });
  return {
    tagName: "Cortex Client",
    env: [
      "THIRD_PARTY_CLIENTS=cortex",
      `PAN_CORTEX_CORTEX_URL=${server.url}`,
      "PAN_CORTEX_CORTEX_API_TYPE=advanced",
      "PAN_CORTEX_TASK_POLL_SECONDS=0.01",
    ],
    secrets: [["Cortex", "API_Token", "cortex-e2e-key"], ["Cortex", "Key_ID", "17"]],
    isolated: () =>
      [...server.fake.endpoints.values()].filter((e) => e.is_isolated === "AGENT_ISOLATED")
        .map((e) => e.endpoint_id),
    close: () => server.close(),
  };
}

function secureEndpoint(): Edr {
  const computer = (guid: string, hostname: string, ip: string) => ({
    connector_guid: guid,
    hostname,
    internal_ips: [ip],
    online: true,
    isolation: { available: true, status: "not_isolated" as const },
  });
  const server = startFakeAmp({
    clientId: "amp-e2e-id",
    apiKey: "amp-e2e-key",
    computers: [
      computer("guid-3", "WARD-3-PC", "10.1.2.3"),
      computer("guid-4", "WARD-4-PC", "10.1.2.4"),
    ],
  });
  return {
    tagName: "AMP Client",
    env: [
      "THIRD_PARTY_CLIENTS=amp",
      `CISCO_AMP_URL=${server.url}`,
      "CISCO_AMP_TASK_POLL_SECONDS=0.01",
    ],
    secrets: [["Cisco_Amp", "Client_ID", "amp-e2e-id"], ["Cisco_Amp", "API_Key", "amp-e2e-key"]],
    isolated: () =>
      [...server.fake.computers.values()].filter((c) => c.isolation.status === "isolated")
        .map((c) => c.connector_guid),
    close: () => server.close(),
  };
}

function harmonyEndpoint(): Edr {
  const server = startFakeHarmony({
    clientId: "infinity-e2e-id",
    accessKey: "infinity-e2e-key",
    computers: [
      {
        computerId: "c-3",
        computerName: "ward-3-pc",
        computerIP: "10.1.2.3",
        isolationStatus: "Not Isolated",
      },
      {
        computerId: "c-4",
        computerName: "ward-4-pc",
        computerIP: "10.1.2.4",
        isolationStatus: "Not Isolated",
      },
    ],
  });
  return {
    tagName: "Harmony Client",
    env: [
      "THIRD_PARTY_CLIENTS=harmony",
      `HARMONY_AUTH_URL=${server.url}/auth/external`,
      `HARMONY_BASE_URL=${server.url}`,
      "HARMONY_TASK_POLL_SECONDS=0.01",
    ],
    secrets: [["Harmony", "Client_ID", "infinity-e2e-id"], [
      "Harmony",
      "API_Key",
      "infinity-e2e-key",
    ]],
    isolated: () =>
      [...server.fake.computers.values()].filter((c) => c.isolationStatus === "Isolated")
        .map((c) => c.computerId),
    close: () => server.close(),
  };
}

function gravityZone(): Edr {
  const endpoint = (id: string, name: string, ip: string) => ({
    id,
    name,
    ip,
    macs: [],
    online: true,
    isolated: false,
  });
  const server = startFakeGravityZone({
    apiKey: "gz-e2e-key",
    endpoints: [
      endpoint("5f0c0a1b2c3d4e5f60710003", "ward-3-pc", "10.1.2.3"),
      endpoint("5f0c0a1b2c3d4e5f60710004", "ward-4-pc", "10.1.2.4"),
    ],
  });
  return {
    tagName: "Bitdefender Client",
    env: [
      "THIRD_PARTY_CLIENTS=bitdefender",
      `BITDEFENDER_HOSTNAME=${server.url}`,
      "BITDEFENDER_TASK_POLL_SECONDS=0.01",
    ],
    secrets: [["Bitdefender", "API_Key", "gz-e2e-key"]],
    isolated: () => [...server.fake.endpoints.values()].filter((e) => e.isolated).map((e) => e.id),
    close: () => server.close(),
  };
}

function sophosCentral(): Edr {
  const endpoint = (id: string, hostname: string, ip: string) => ({
    id,
    hostname,
    ipv4Addresses: [ip],
    online: true,
    isolated: false,
  });
  const server = startFakeSophosCentral({
    clientId: "central-e2e-id",
    clientSecret: "central-e2e-secret",
    endpoints: [
      endpoint("sc-3", "ward-3-pc", "10.1.2.3"),
      endpoint("sc-4", "ward-4-pc", "10.1.2.4"),
    ],
  });
  return {
    tagName: "SophosEDR Client",
    env: [
      "THIRD_PARTY_CLIENTS=sophos_edr",
      `SOPHOS_EDR_AUTH_URL=${server.url}/api/v2/oauth2/token`,
      `SOPHOS_EDR_WHOAMI_URL=${server.url}/whoami/v1`,
      "SOPHOS_EDR_TASK_POLL_SECONDS=0.01",
    ],
    secrets: [["SophosEDR", "client_id", "central-e2e-id"], [
      "SophosEDR",
      "client_secret",
      "central-e2e-secret",
    ]],
    isolated: () => [...server.fake.endpoints.values()].filter((e) => e.isolated).map((e) => e.id),
    close: () => server.close(),
  };
}

function apexOne(): Edr {
  const agent = (entity_id: string, host_name: string, ip: string) => ({
    entity_id,
    host_name,
    ip_address_list: ip,
    mac_address_list: "",
    isolation_status: "normal" as const,
  });
  const server = startFakeApexCentral({
    applicationId: "apex-e2e-app",
    apiKey: "apex-e2e-key",
    agents: [agent("ag-3", "ward-3-pc", "10.1.2.3"), agent("ag-4", "ward-4-pc", "10.1.2.4")],
  });
  return {
    tagName: "ApexOne Client",
    env: [
      "THIRD_PARTY_CLIENTS=apex_one",
      `TRENDMICRO_APEXONE_BASE_URL=${server.url}`,
      "TRENDMICRO_APEXONE_TASK_POLL_SECONDS=0.01",
    ],
    secrets: [["ApexOne", "Application_ID", "apex-e2e-app"], [
      "ApexOne",
      "API_Key",
      "apex-e2e-key",
    ]],
    isolated: () =>
      [...server.fake.agents.values()].filter((a) => a.isolation_status === "isolated").map((a) =>
        a.entity_id
      ),
    close: () => server.close(),
  };
}

function visionOne(): Edr {
  const endpoint = (agentGuid: string, endpointName: string, ip: string) => ({
    agentGuid,
    endpointName,
    ips: [ip],
    macs: [],
    isolated: false,
  });
  const server = startFakeVisionOne({
    apiKey: "v1-e2e-key",
    endpoints: [
      endpoint("guid-v3", "ward-3-pc", "10.1.2.3"),
      endpoint("guid-v4", "ward-4-pc", "10.1.2.4"),
    ],
  });
  return {
    // The original's tag name, leading space included.
    tagName: " VisionOne Client",
    env: [
      "THIRD_PARTY_CLIENTS=vision_one",
      `TRENDMICRO_VISIONONE_BASE_URL=${server.url}`,
      "TRENDMICRO_VISIONONE_TASK_POLL_SECONDS=0.01",
    ],
    secrets: [["VisionOne", "API_Key", "v1-e2e-key"]],
    isolated: () =>
      [...server.fake.endpoints.values()].filter((e) => e.isolated).map((e) => e.agentGuid),
    close: () => server.close(),
  };
}

function cloudOne(): Edr {
  const server = startFakeCloudOne({
    apiKey: "c1-e2e-key",
    computers: [
      { ID: 3, hostName: "ward-3-pc", lastIPUsed: "10.1.2.3", isolation: "" },
      { ID: 4, hostName: "ward-4-pc", lastIPUsed: "10.1.2.4", isolation: "" },
    ],
  });
  return {
    tagName: "CloudOne Client",
    env: ["THIRD_PARTY_CLIENTS=cloudone", `TRENDMICRO_CLOUDONE_BASE_URL=${server.url}`],
    secrets: [["CloudOne", "API_Key", "c1-e2e-key"]],
    isolated: () =>
      [...server.fake.computers.values()].filter((c) => c.isolation === "true").map((c) =>
        String(c.ID)
      ),
    close: () => server.close(),
  };
}

function taniumServer(): Edr {
  const endpoint = (id: string, name: string, ip: string) => ({
    id,
    name,
    ipAddresses: [ip],
    macAddresses: [],
    platform: "Windows" as const,
    quarantined: false,
  });
  const server = startFakeTanium({
    token: "tanium-e2e-token",
    endpoints: [endpoint("t-3", "ward-3-pc", "10.1.2.3"), endpoint("t-4", "ward-4-pc", "10.1.2.4")],
    packages: { "Apply Windows IPsec Quarantine": true, "Remove Windows IPsec Quarantine": false },
  });
  return {
    tagName: "Tanium Client",
    env: [
      "THIRD_PARTY_CLIENTS=tanium",
      `TANIUM_URL=${server.url}`,
      "TANIUM_BLOCK_PKG=Apply Windows IPsec Quarantine",
      "TANIUM_UNBLOCK_PKG=Remove Windows IPsec Quarantine",
      "TANIUM_TASK_POLL_SECONDS=0.01",
    ],
    secrets: [["Tanium", "Token", "tanium-e2e-token"]],
    isolated: () =>
      [...server.fake.endpoints.values()].filter((e) => e.quarantined).map((e) => e.id),
    close: () => server.close(),
  };
}

for (
  const [name, start, id] of [
    ["Cortex XDR", cortex, "e-0003"],
    ["Cisco Secure Endpoint", secureEndpoint, "guid-3"],
    ["Harmony Endpoint", harmonyEndpoint, "c-3"],
    ["Bitdefender GravityZone", gravityZone, "5f0c0a1b2c3d4e5f60710003"],
    ["Sophos Central", sophosCentral, "sc-3"],
    ["Trend Micro Apex One", apexOne, "ag-3"],
    ["Trend Vision One", visionOne, "guid-v3"],
    ["Trend Micro Cloud One", cloudOne, "3"],
    ["Tanium", taniumServer, "t-3"],
  ] as const
) {
  Deno.test(`var run isolates and releases a host's endpoint through ${name}`, async () => {
    await using brain = await startFakeBrain({
      apiVersion: "2.5",
      seed: seed()
        .host({ name: "ward-3-pc", ip: "10.1.2.3", tags: ["vectra_host_block"] })
        .host({ name: "ward-4-pc", ip: "10.1.2.4" }),
    });
    const edr = start();
    const dir = await Deno.makeTempDir({ prefix: "var_e2e_edr_" });
    try {
      const secrets = `${dir}/secrets`;
      await Deno.mkdir(secrets);
      for (const [service, key, value] of edr.secrets) {
        await Deno.writeTextFile(`${secrets}/${secretFileName(service, key)}`, `${value}\n`);
      }
      await Deno.writeTextFile(
        `${secrets}/${secretFileName(brain.url, "Token")}`,
        `${brain.credentials.token ?? ""}\n`,
      );
      const env = [
        `COGNITO_URL=${brain.url}`,
        "AUTH=TOKEN",
        "VECTRA_API_VERSION=2.5",
        "BLOCK_HOST_URGENCY=",
        "BLOCK_HOST_GROUP_NAME=",
        "NO_BLOCK_HOST_GROUP_NAME=",
        "BLOCK_TYPES=host",
        ...edr.env,
        "HEALTH_LISTEN=",
      ].join("\n");
      await Deno.writeTextFile(`${dir}/var.env`, `${env}\n`);
      const run = async () => {
        const result = await runVar(`${dir}/var.env`, secrets, { json: false });
        assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
      };

      await run();
      assert.deepEqual(edr.isolated(), [id]);
      assert.deepEqual(brain.tags("host", "ward-3-pc"), [
        "vectra_host_block",
        "VAR Host Blocked",
        `VAR ID:${edr.tagName}:${id}`,
      ]);
      assert.deepEqual(brain.tags("host", "ward-4-pc"), []);

      brain.setTags("host", "ward-3-pc", brain.tags("host", "ward-3-pc").slice(1));
      await run();
      assert.deepEqual(edr.isolated(), []);
      assert.deepEqual(brain.tags("host", "ward-3-pc"), []);
      assert.match(brain.notes("host", "ward-3-pc").at(-1)?.note ?? "", /^VAR: Unblocked on /);
    } finally {
      await Deno.remove(dir, { recursive: true });
      await edr.close();
    }
  });
}
