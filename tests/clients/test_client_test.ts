import assert from "node:assert/strict";
import { ClientError } from "../../engine/client.ts";
import {
  createTestClient,
  testClient,
  TestClientConfig,
  TestDevice,
} from "../../clients/test_client.ts";
import { type ContractHarness, runClientContract } from "./_contract.ts";
import { sampleAccount, sampleDetection, sampleHost, sampleStaticIps } from "./_entities.ts";

/** A deterministic test client on a fresh simulated device. */
function startTestClient(): Promise<ContractHarness> {
  const device = new TestDevice();
  const client = createTestClient({ deterministic: true, device });
  return Promise.resolve({
    client,
    samples: {
      host: sampleHost(),
      movedHost: sampleHost({ ip: "10.1.2.4" }),
      account: sampleAccount(),
      detection: sampleDetection(),
      staticIps: sampleStaticIps(),
    },
    enforced: (kind) => Promise.resolve(device.enforced(kind)),
    vanish: (kind) => Promise.resolve(device.vanish(kind)),
    faults: {
      serverError: () => device.fail("error", 503),
      down: () => device.fail("down"),
    },
    another: () => Promise.resolve(createTestClient({ deterministic: true, device })),
    close: async () => await client.close?.(),
  });
}

Deno.test("test_client client", async (t) => {
  await runClientContract(t, {
    start: startTestClient,
    startTwo: { none: "test_client drives one simulated device" },
  });
});

Deno.test("createTestClient() issues random v4 UUIDs by default, the same one for a blocked host", async () => {
  const client = createTestClient();
  const [first] = await client.blockHost!(sampleHost());
  assert.match(
    first ?? "",
    /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  );
  assert.deepEqual(await client.blockHost!(sampleHost()), [first]);
  const [other] = await client.blockHost!(sampleHost({ id: 8, ip: "10.1.2.9" }));
  assert.notEqual(other, first);
});

Deno.test("createTestClient() with deterministic ids derives them from the entity", async () => {
  const client = createTestClient({ deterministic: true });
  assert.deepEqual(await client.blockHost!(sampleHost({ id: 7, ip: "10.1.2.3" })), [
    "host-7-10.1.2.3",
  ]);
  await assert.rejects(
    client.blockHost!(sampleHost({ id: 9, ip: null })),
    /Cannot block host 9 \("ward-3-pc"\) with test_client: no address is known/,
  );
  assert.deepEqual(await client.blockAccount!(sampleAccount({ id: 21 })), ["account-21"]);
  assert.deepEqual(await client.blockDetection!(sampleDetection({ id: 301 })), [
    "detection-301",
  ]);
});

Deno.test("createTestClient() records every call with its subject and recorded ids", async () => {
  const client = createTestClient({ deterministic: true });
  await client.blockHost!(sampleHost());
  await client.unblockHost!(sampleHost(), ["host-7-10.1.2.3"]);
  assert.deepEqual(client.calls, [
    { operation: "blockHost", subject: "host 7", failed: false },
    {
      operation: "unblockHost",
      subject: "host 7",
      recorded: ["host-7-10.1.2.3"],
      failed: false,
    },
  ]);
});

Deno.test("unblockAccount() returns recorded ids it never issued, never null", async () => {
  const client = createTestClient();
  const recorded = ["6f1c2d3e-0000-4000-8000-000000000000"];
  assert.deepEqual(await client.unblockAccount!(sampleAccount(), recorded), recorded);
  assert.deepEqual(await client.unblockDetection!(sampleDetection(), []), []);
});

Deno.test("groomHost() re-blocks from a deterministic id a previous process issued", async () => {
  const client = createTestClient({ deterministic: true });
  const result = await client.groomHost!(sampleHost({ ip: "10.1.2.4" }), ["host-7-10.1.2.3"]);
  assert.deepEqual(result, {
    changed: true,
    unblocked: ["host-7-10.1.2.3"],
    blocked: ["host-7-10.1.2.4"],
  });
  assert.deepEqual(client.device.enforced("host"), new Set(["host-7-10.1.2.4"]));
});

Deno.test("groomHost() leaves a random id from a previous process alone", async () => {
  const client = createTestClient();
  const recorded = ["6f1c2d3e-0000-4000-8000-000000000000"];
  assert.deepEqual(await client.groomHost!(sampleHost({ ip: "10.1.2.4" }), recorded), {
    changed: false,
  });
});

Deno.test("createTestClient() with failOperations throws a ClientError for those only", async () => {
  const client = createTestClient({ failOperations: new Set(["blockAccount"]) });
  await assert.rejects(
    client.blockAccount!(sampleAccount()),
    (error: unknown) => {
      assert.ok(error instanceof ClientError);
      assert.equal(error.client, "test_client");
      assert.equal(error.operation, "blockAccount");
      assert.equal(
        error.message,
        'Cannot blockAccount account 21 on test_client: TEST_CLIENT_FAIL_OPERATIONS lists "blockAccount" (test aid)',
      );
      return true;
    },
  );
  assert.equal((await client.blockHost!(sampleHost())).length, 1);
  assert.deepEqual(client.device.enforced("account"), new Set());
});

Deno.test("TestDevice.idOf() follows holds, re-holds under another key, releases and vanishing", () => {
  const device = new TestDevice();
  const host = (key: string) => ({ kind: "host" as const, key, ip: "10.0.0.1" });
  assert.equal(device.idOf("host:1:10.0.0.1"), null);
  device.hold("a", host("host:1:10.0.0.1"));
  device.hold("b", host("host:1:10.0.0.1"));
  device.hold("c", host("host:2:10.0.0.2"));
  assert.equal(device.idOf("host:1:10.0.0.1"), "a", "the first id held under a key");
  assert.equal(device.idOf("host:2:10.0.0.2"), "c");
  device.hold("a", host("host:3:10.0.0.3"));
  assert.equal(device.idOf("host:1:10.0.0.1"), "b", "a re-held id leaves its old key");
  assert.equal(device.idOf("host:3:10.0.0.3"), "a");
  assert.equal(device.release("b"), true);
  assert.equal(device.release("b"), false);
  assert.equal(device.idOf("host:1:10.0.0.1"), null);
  device.hold("d", { kind: "account", key: "account:4", ip: null });
  device.vanish("host");
  assert.equal(device.idOf("host:2:10.0.0.2"), null);
  assert.equal(device.idOf("host:3:10.0.0.3"), null);
  assert.equal(device.idOf("account:4"), "d");
  assert.deepEqual(device.enforced("host"), new Set());
});

Deno.test("TestClientConfig parses booleans and operation lists from var.env", () => {
  assert.deepEqual(TestClientConfig.parse({}), {
    deterministic: false,
    failOperations: new Set(),
  });
  assert.deepEqual(
    TestClientConfig.parse({
      TEST_CLIENT_DETERMINISTIC: "True",
      TEST_CLIENT_FAIL_OPERATIONS: "blockHost, unblockAccount",
    }),
    { deterministic: true, failOperations: new Set(["blockHost", "unblockAccount"]) },
  );
});

Deno.test("TestClientConfig rejects an unknown boolean and operation with what is allowed", () => {
  const result = TestClientConfig.safeParse({
    TEST_CLIENT_DETERMINISTIC: "yes please",
    TEST_CLIENT_FAIL_OPERATIONS: "blockHost,explode",
  });
  assert.equal(result.success, false);
  assert.deepEqual(
    result.error?.issues.map((issue) => [issue.path.join("."), issue.message]),
    [
      ["TEST_CLIENT_DETERMINISTIC", "not a boolean; use true or false"],
      [
        "TEST_CLIENT_FAIL_OPERATIONS",
        '"explode" is not an operation; use blockHost, unblockHost, groomHost, blockAccount, ' +
        "unblockAccount, blockDetection, unblockDetection, blockStaticIps, unblockStaticIps, " +
        "listStaticIps, list, removeElements",
      ],
    ],
  );
});

Deno.test("testClient definition creates a client with the identifiers of engine.md §10.5", async () => {
  const client = await testClient.create(
    testClient.configSchema.parse({ TEST_CLIENT_DETERMINISTIC: "true" }),
  );
  assert.equal(client.name, "test_client");
  assert.equal(client.tagName, "Test Client");
  assert.equal(client.routingKey, "test_client");
  assert.deepEqual(await client.blockAccount!(sampleAccount()), ["account-21"]);
  assert.deepEqual(testClient.secrets(), []);
});
