import assert from "node:assert/strict";
import {
  deviceListKeys,
  type DeviceListSpec,
  firstDuplicate,
  parseDeviceList,
} from "../../clients/_devices.ts";

const SPEC: DeviceListSpec = {
  prefix: "ACME",
  port: 8443,
  devices: "appliances",
  product: "Acme",
  listHelp: "Acme appliances.",
};

const raw = (values: Record<string, string>) => ({
  ACME_IP: "",
  ACME_PORT: "8443",
  ACME_CHECK_SSL: "true",
  ACME_CA_FILE: "",
  ACME_ZONE: "a",
  ...values,
});

function parse(values: Record<string, string>) {
  const problems: string[] = [];
  const parsed = parseDeviceList(raw(values), SPEC, (key, message) => {
    problems.push(`${key}: ${message}`);
  });
  return { parsed, problems };
}

Deno.test("deviceListKeys() documents the list, port, certificate check and CA file", () => {
  assert.deepEqual(deviceListKeys(SPEC).map((k) => [k.key, k.default, k.required ?? false]), [
    ["ACME_IP", "", true],
    ["ACME_PORT", "8443", false],
    ["ACME_CHECK_SSL", "true", false],
    ["ACME_CA_FILE", "", false],
  ]);
  assert.match(deviceListKeys(SPEC)[1]!.help, /one per ACME_IP entry/);
});

Deno.test("parseDeviceList() takes one value for all devices or one per device", () => {
  const { parsed, problems } = parse({
    ACME_IP: "10.0.0.1, http://lab.example, [2001:db8::1]",
    ACME_CHECK_SSL: "true,false,yes",
    ACME_CA_FILE: "/etc/ca.pem",
    ACME_ZONE: "a,b,c",
  });
  assert.deepEqual(problems, []);
  assert.deepEqual(parsed?.endpoints, [
    { host: "10.0.0.1", scheme: "https", port: 8443, verifyTls: true, caFile: "/etc/ca.pem" },
    { host: "lab.example", scheme: "http", port: 8443, verifyTls: false, caFile: "/etc/ca.pem" },
    { host: "2001:db8::1", scheme: "https", port: 8443, verifyTls: true, caFile: "/etc/ca.pem" },
  ]);
  assert.deepEqual(parsed?.aligned("ACME_ZONE"), ["a", "b", "c"]);
});

Deno.test("parseDeviceList() names the key and the value of every problem", () => {
  const cases: [Record<string, string>, string][] = [
    [{}, "ACME_IP: ACME_IP is empty; give the Acme management IPs"],
    [
      { ACME_IP: "10.0.0.1:443" },
      'ACME_IP: ACME_IP entry "10.0.0.1:443" carries a port; put the port in ACME_PORT',
    ],
    [{ ACME_IP: "https://" }, 'ACME_IP: ACME_IP entry "https://" names no host'],
    [{ ACME_IP: "a b" }, 'ACME_IP: ACME_IP entry "a b" is not a host name or IP address'],
    [
      { ACME_IP: "a,b", ACME_PORT: "1,2,3" },
      "ACME_PORT: ACME_PORT has 3 values but ACME_IP has 2; give one value for all appliances or one per IP",
    ],
    [
      { ACME_IP: "a", ACME_PORT: "70000" },
      'ACME_PORT: ACME_PORT "70000" is not a port; use 1 to 65535',
    ],
    [
      { ACME_IP: "a", ACME_CHECK_SSL: "maybe" },
      'ACME_CHECK_SSL: ACME_CHECK_SSL is "maybe"; use true or false',
    ],
  ];
  for (const [values, problem] of cases) {
    const { parsed, problems } = parse(values);
    assert.equal(parsed, null, JSON.stringify(values));
    assert.deepEqual(problems, [problem]);
  }
  const { parsed, problems } = parse({ ACME_IP: "a,b", ACME_ZONE: "x,y,z" });
  assert.equal(parsed?.aligned("ACME_ZONE"), null);
  assert.match(problems[0] ?? "", /^ACME_ZONE: ACME_ZONE has 3 values but ACME_IP has 2/);
});

Deno.test("firstDuplicate() finds the first device whose identity came before", () => {
  const devices = [{ id: "a:1" }, { id: "b:1" }, { id: "a:1" }];
  assert.equal(firstDuplicate(devices, (d) => d.id), devices[2]);
  assert.equal(firstDuplicate(devices.slice(0, 2), (d) => d.id), null);
});
