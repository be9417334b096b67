import assert from "node:assert/strict";
import {
  INTERNAL_RANGES,
  isInternalAddress,
  netmaskOf,
  normalizeIp,
  parseBlockableEntry,
  parseIpOrNetwork,
  prefixOfNetmask,
  singleHostAddress,
} from "../../engine/ip.ts";

Deno.test("parseIpOrNetwork() normalises addresses and networks", () => {
  const cases: [string, string, boolean][] = [
    ["1.2.3.4", "1.2.3.4", false],
    [" 1.2.3.4 ", "1.2.3.4", false],
    ["1.2.3.4/32", "1.2.3.4", false],
    ["2.2.2.0/24", "2.2.2.0/24", true],
    ["0.0.0.0/0", "0.0.0.0/0", true],
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1", false],
    ["2001:db8::/32", "2001:db8::/32", true],
    ["2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1", false],
    ["::", "::", false],
    ["::1/128", "::1", false],
    ["::ffff:1.2.3.4", "::ffff:1.2.3.4", false],
    ["1:0:0:1:0:0:0:1", "1:0:0:1::1", false],
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0", false],
  ];
  for (const [text, entry, isNetwork] of cases) {
    const parsed = parseIpOrNetwork(text);
    assert.ok(parsed.ok, `${text} should parse`);
    assert.equal(parsed.value.entry, entry, text);
    assert.equal(parsed.value.isNetwork, isNetwork, text);
  }
});

Deno.test("parseIpOrNetwork() rejects host bits set with the corrected form", () => {
  const parsed = parseIpOrNetwork("2.2.2.1/24");
  assert.deepEqual(parsed, {
    ok: false,
    reason: '"2.2.2.1/24" has host bits set; use "2.2.2.0/24"',
    corrected: "2.2.2.0/24",
  });
  const v6 = parseIpOrNetwork("2001:db8::1/64");
  assert.equal(v6.ok, false);
  assert.equal(!v6.ok && v6.corrected, "2001:db8::/64");
});

Deno.test("parseIpOrNetwork() rejects text that is not an address", () => {
  for (
    const text of [
      "",
      "# comment",
      "1.2.3",
      "1.2.3.4.5",
      "256.1.1.1",
      "01.2.3.4",
      "1.2.3.4/33",
      "1.2.3.4/",
      "1.2.3.4/-1",
      "::1/129",
      "1:::2",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7:8::",
      "12345::",
      "fe80::1%eth0",
      "host.example.com",
      "1.2.3.4:80",
    ]
  ) {
    const parsed = parseIpOrNetwork(text);
    assert.equal(parsed.ok, false, `${text} should be refused`);
  }
  assert.deepEqual(parseIpOrNetwork("1.2.3.4/33"), {
    ok: false,
    reason: '"1.2.3.4/33" has an invalid prefix length; use 0 to 32',
  });
});

Deno.test("isInternalAddress() follows the table of decisions.md #1", () => {
  const internal = [
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "127.0.0.1",
    "169.254.1.1",
    "100.64.0.1",
    "100.127.255.255",
    "224.0.0.1",
    "239.255.255.255",
    "192.0.2.7",
    "198.51.100.7",
    "203.0.113.9",
    "198.18.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "0.0.0.0",
    "::1",
    "::",
    "fe80::1",
    "fd00::1",
    "ff02::1",
    "2001:db8::1",
    "::ffff:10.0.0.1",
  ];
  const external = [
    "8.8.8.8",
    "1.1.1.1",
    "172.32.0.1",
    "100.128.0.1",
    "100.63.255.255",
    "11.0.0.1",
    "223.255.255.255",
    "2606:4700::1111",
    "::ffff:8.8.8.8",
  ];
  for (const ip of internal) assert.equal(isInternalAddress(ip), true, ip);
  for (const ip of external) assert.equal(isInternalAddress(ip), false, ip);
  assert.equal(isInternalAddress("not an ip"), false);
  assert.ok(INTERNAL_RANGES.length > 20);
});

Deno.test("normalizeIp() returns canonical text or null", () => {
  assert.equal(normalizeIp("2001:DB8::0:1"), "2001:db8::1");
  assert.equal(normalizeIp("8.8.8.8"), "8.8.8.8");
  assert.equal(normalizeIp("8.8.8"), null);
  assert.equal(normalizeIp("1.2.3.0/24"), null);
});

Deno.test("singleHostAddress() accepts one host address and names why anything else is refused", () => {
  assert.deepEqual(singleHostAddress(" 10.1.2.3 "), { ok: true, address: "10.1.2.3" });
  assert.deepEqual(singleHostAddress("10.1.2.3/32"), { ok: true, address: "10.1.2.3" });
  assert.deepEqual(singleHostAddress("2001:DB8::1"), { ok: true, address: "2001:db8::1" });
  const refused: [string | null, string][] = [
    ["0.0.0.0/0", "address 0.0.0.0/0 is not a single host address"],
    ["::/0", "address ::/0 is not a single host address"],
    ["10.0.0.0/8", "address 10.0.0.0/8 is not a single host address"],
    ["10.1.2.3/24", "address 10.1.2.3/24 is not a single host address"],
    ["0.0.0.0", "address 0.0.0.0 is the unspecified address, not a host address"],
    ["::", "address :: is the unspecified address, not a host address"],
    ["0.9.9.9", "address 0.9.9.9 is in 0.0.0.0/8 (this network), not a host address"],
    ["255.255.255.255", "address 255.255.255.255 is the broadcast address, not a host address"],
    ["239.1.2.3", "address 239.1.2.3 is a multicast address, not a host address"],
    ["ff05::2", "address ff05::2 is a multicast address, not a host address"],
    ["127.0.0.2", "address 127.0.0.2 is a loopback address, not a host address"],
    ["::1", "address ::1 is a loopback address, not a host address"],
    ["::ffff:127.0.0.1", "address ::ffff:127.0.0.1 is a loopback address, not a host address"],
    ["250.1.1.1", "address 250.1.1.1 is a reserved address, not a host address"],
    ["pc-1", 'address "pc-1" is not an IPv4 or IPv6 address'],
    ["1.2.3.4; rm -rf /", 'address "1.2.3.4; rm -rf /" is not an IPv4 or IPv6 address'],
    ['1.2.3.4"\n', 'address "1.2.3.4\\"" is not an IPv4 or IPv6 address'],
    ["", "the address is empty"],
    [null, "no address is known"],
  ];
  for (const [value, reason] of refused) {
    assert.deepEqual(singleHostAddress(value), { ok: false, reason }, String(value));
  }
});

Deno.test("parseBlockableEntry() allows networks up to /8 and /16, never everything or no-host ranges", () => {
  for (const entry of ["203.0.113.7", "198.51.100.0/24", "10.0.0.0/8", "2001:db8::/32"]) {
    assert.ok(parseBlockableEntry(entry).ok, entry);
  }
  const refused: [string, RegExp][] = [
    ["0.0.0.0/0", /network 0\.0\.0\.0\/0 is broader than \/8/],
    ["::/0", /network ::\/0 is broader than \/16/],
    ["128.0.0.0/1", /broader than \/8/],
    ["2000::/3", /broader than \/16/],
    ["224.0.0.0/4", /broader than \/8/],
    ["127.0.0.0/8", /network 127\.0\.0\.0\/8 starts at 127\.0\.0\.0, a loopback address/],
    ["239.0.0.0/8", /multicast/],
    ["ff00::/16", /multicast/],
    ["0.0.0.0", /unspecified/],
    ["255.255.255.255", /broadcast/],
    ["2.2.2.1/24", /host bits set; use "2\.2\.2\.0\/24"/],
  ];
  for (const [entry, reason] of refused) {
    const parsed = parseBlockableEntry(entry);
    assert.equal(parsed.ok, false, entry);
    if (!parsed.ok) assert.match(parsed.reason, reason, entry);
  }
});

Deno.test("netmaskOf() and prefixOfNetmask() convert IPv4 prefixes and refuse broken masks", () => {
  for (
    const [prefix, mask] of [[0, "0.0.0.0"], [8, "255.0.0.0"], [24, "255.255.255.0"], [
      32,
      "255.255.255.255",
    ]] as const
  ) {
    assert.equal(netmaskOf(prefix), mask);
    assert.equal(prefixOfNetmask(mask), prefix);
  }
  for (const mask of ["255.0.255.0", "255.255.255", "256.0.0.0", "a.b.c.d"]) {
    assert.equal(prefixOfNetmask(mask), null, mask);
  }
});
