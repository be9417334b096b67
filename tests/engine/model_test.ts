import assert from "node:assert/strict";
import {
  MalformedEntityError,
  parseAccount,
  parseDetection,
  parseGroup,
  parseHost,
  parseUtcTimestamp,
} from "../../engine/model.ts";

const HOST_V25 = {
  id: 472,
  name: "Vectra-Test",
  state: "active",
  threat: 30,
  certainty: 45,
  last_source: "192.168.51.6",
  ip: "192.168.51.9",
  key_asset: false,
  is_key_asset: true,
  targets_key_asset: true,
  is_targeting_key_asset: false,
  probable_owner: null,
  last_seen: "2022-07-09T19:38:34Z",
  tags: ["vectra_host_block", "VAR Host Blocked", "VAR ID:PAN Client:192.168.51.6"],
  note: "analyst note",
  host_artifact_set: [
    { type: "dhcp", value: "Vectra-Test", source: null, siem: false },
    { type: "mac", value: "00:04:ac:12:a6:19", vendor: "Ibm Corp" },
    { type: "rdns", value: "z.rdns.example" },
    { type: "dns", value: "b.corp.example" },
    { type: "dns", value: "a.corp.example" },
    { type: "mac", value: "00:04:ac:12:a6:19" },
    { type: "mac", value: "00:00:5e:00:53:01" },
    { type: "vmachine_info", value: "vm-one" },
    { type: "vm_uuid", value: "4207-aaaa" },
    { type: "aws_vm_uuid", value: "i-0abc" },
  ],
  ldap: null,
  detection_set: ["https://brain.example.com/api/v2.5/detections/33"],
};

Deno.test("parseHost() reads a v2.5 host as engine.md §2.1 describes", () => {
  const host = parseHost(HOST_V25, "2.5");
  assert.equal(host.kind, "host");
  assert.equal(host.id, 472);
  assert.equal(host.name, "Vectra-Test");
  assert.equal(host.ip, "192.168.51.6");
  assert.equal(host.threat, 30);
  assert.equal(host.certainty, 45);
  assert.equal(host.isKeyAsset, false);
  assert.equal(host.targetsKeyAsset, true);
  assert.deepEqual(host.macAddresses, ["00:00:5e:00:53:01", "00:04:ac:12:a6:19"]);
  assert.deepEqual(host.artifactTypes, [
    "dhcp",
    "mac",
    "rdns",
    "dns",
    "vmachine_info",
    "vm_uuid",
    "aws_vm_uuid",
  ]);
  assert.equal(host.vmwareVmName, "vm-one");
  assert.equal(host.vmwareVmUuid, "4207-aaaa");
  assert.equal(host.awsVmUuid, "i-0abc");
  assert.equal(host.fullName, "a.corp.example");
  assert.equal(host.lastSeen, "2022-07-09T19:38:34Z");
  assert.equal(host.lastSeenTsUtc, Date.UTC(2022, 6, 9, 19, 38, 34) / 1000);
  assert.deepEqual(host.keptTags, ["vectra_host_block"]);
  assert.equal(host.isBlocked, true);
  assert.deepEqual([...host.blockedElements], [["PAN Client", ["192.168.51.6"]]]);
  assert.equal(host.note, "analyst note");
  assert.equal(host.urgencyScore, null);
  assert.equal(host.probableOwner, null);
});

Deno.test("parseHost() falls back to is_key_asset and tolerates absent fields", () => {
  const now = new Date(Date.UTC(2024, 2, 5, 14, 3, 11, 500));
  const host = parseHost(
    { id: 9, tags: [], is_key_asset: true, is_targeting_key_asset: true },
    "3.4",
    {
      now,
    },
  );
  assert.equal(host.isKeyAsset, true);
  assert.equal(host.targetsKeyAsset, true);
  assert.equal(host.ip, null);
  assert.equal(host.name, "");
  assert.equal(host.fullName, "");
  assert.deepEqual(host.macAddresses, []);
  assert.equal(host.vmwareVmUuid, null);
  assert.equal(host.lastSeen, "2024-03-05T14:03:11Z");
  assert.equal(host.lastSeenTsUtc, Date.UTC(2024, 2, 5, 14, 3, 11) / 1000);
  assert.equal(host.threat, 0);
  assert.equal(host.note, null);
});

Deno.test("parseHost() resolves the full name in order, deterministically", () => {
  const withArtifacts = (artifacts: { type: string; value: string }[], ldap: unknown = null) =>
    parseHost({ id: 1, name: "plain", tags: [], host_artifact_set: artifacts, ldap }, "2.5")
      .fullName;
  assert.equal(
    withArtifacts([
      { type: "dns", value: "dns.example" },
      { type: "windows_defender_name", value: "wd-b" },
      { type: "windows_defender_name", value: "wd-a" },
    ]),
    "wd-a",
  );
  assert.equal(
    withArtifacts([{ type: "rdns", value: "r2" }, { type: "rdns", value: "r1" }]),
    "r1",
  );
  assert.equal(withArtifacts([], { dns_hostname: ["ldap.example", "other"] }), "ldap.example");
  assert.equal(withArtifacts([]), "plain");
  const reversed = withArtifacts([
    { type: "dns", value: "b" },
    { type: "dns", value: "a" },
  ]);
  const ordered = withArtifacts([
    { type: "dns", value: "a" },
    { type: "dns", value: "b" },
  ]);
  assert.equal(reversed, ordered);
});

Deno.test("parseHost() parses last_seen as UTC, with fractional seconds", () => {
  const at = (lastSeen: string) => parseHost({ id: 1, tags: [], last_seen: lastSeen }, "2.5");
  assert.equal(at("2022-07-09T19:38:34.123456Z").lastSeenTsUtc, 1657395514);
  assert.equal(at("2022-07-09T19:38:34").lastSeenTsUtc, 1657395514);
  assert.equal(at("2022-07-09T19:38:34").lastSeen, "2022-07-09T19:38:34.000Z");
  assert.equal(at("2022-07-09T21:38:34+02:00").lastSeenTsUtc, 1657395514);
  assert.equal(parseUtcTimestamp("2022-07-09T19:38:34.5Z"), 1657395514500);
  assert.equal(parseUtcTimestamp("yesterday"), null);
  assert.throws(
    () => at("09/07/2022"),
    new MalformedEntityError("host", 1, "last_seen", 'is not an ISO-8601 timestamp: "09/07/2022"'),
  );
});

Deno.test("parseHost() refuses a host without id or tags, naming the field", () => {
  assert.throws(() => parseHost({ name: "x", tags: [] }, "2.5"), (error: unknown) => {
    assert.ok(error instanceof MalformedEntityError);
    assert.equal(error.message, 'Cannot read host (no id): field "id" is missing');
    return true;
  });
  assert.throws(() => parseHost({ id: 7, name: "x" }, "2.5"), (error: unknown) => {
    assert.ok(error instanceof MalformedEntityError);
    assert.equal(error.entityId, 7);
    assert.equal(error.field, "tags");
    assert.equal(error.message, 'Cannot read host 7: field "tags" is missing');
    return true;
  });
  assert.throws(() => parseHost({ id: "7", tags: [] }, "2.5"), MalformedEntityError);
  assert.throws(() => parseHost(null, "2.5"), MalformedEntityError);
  assert.throws(() => parseHost({ id: 7, tags: "a,b" }, "2.5"), MalformedEntityError);
  assert.throws(() => parseHost({ id: 7, tags: [], threat: "high" }, "2.5"), (error: unknown) => {
    assert.ok(error instanceof MalformedEntityError);
    assert.equal(error.field, "threat");
    assert.equal(
      error.message,
      'Cannot read host 7: field "threat" has an unexpected value: "high"',
    );
    return true;
  });
  assert.throws(
    () => parseHost({ id: 7, tags: [], host_artifact_set: [{ value: "x" }] }, "2.5"),
    (error: unknown) =>
      error instanceof MalformedEntityError && error.field === "host_artifact_set.0.type",
  );
});

Deno.test("parseAccount() reads LDAP, context and names as engine.md §2.2 describes", () => {
  const account = parseAccount({
    id: 36,
    name: "O365:darcy@corp.example.com",
    display_name: "",
    account_type: "o365",
    threat: 60,
    certainty: 35,
    severity: "High",
    privilege_level: 4,
    privilege_category: "Medium",
    probable_home: null,
    ldap: {
      description: "Nurse",
      location: "Ward 3",
      sAMAccountName: "darcy",
      title: "RN",
      user_principal_name: "darcy@corp.example.com",
      common_name: "Darcy",
      email: "darcy@corp.example.com",
    },
    tags: [
      "Context:first:x",
      "block",
      "Context:second",
      "VAR Account Blocked",
      "VAR ID:Test Client:u1",
    ],
    note: null,
  }, "2.5");
  assert.equal(account.kind, "account");
  assert.equal(account.displayName, "O365:darcy@corp.example.com");
  assert.deepEqual(account.accountType, ["o365"]);
  assert.deepEqual(account.ldap, {
    description: "Nurse",
    location: "Ward 3",
    samAccountName: "darcy",
    title: "RN",
    upn: "darcy@corp.example.com",
    commonName: "Darcy",
    email: "darcy@corp.example.com",
  });
  assert.equal(account.context, "second");
  assert.equal(account.normalizedName, "darcy@corp.example.com");
  assert.equal(account.fakeSam, "darcy");
  assert.equal(account.isBlocked, true);
  assert.deepEqual(account.keptTags, ["Context:first:x", "block", "Context:second"]);
  assert.deepEqual(account.blockedElements.get("Test Client"), ["u1"]);
  assert.equal(account.privilegeLevel, 4);
  assert.equal(account.severity, "High");
});

Deno.test("parseAccount() accepts account_type lists and no LDAP", () => {
  const account = parseAccount({
    id: 2,
    name: "kerberos:svc_backup",
    display_name: "Backup service",
    account_type: ["kerberos", "o365"],
    ldap: null,
    tags: [],
  }, "3.4");
  assert.deepEqual(account.accountType, ["kerberos", "o365"]);
  assert.deepEqual(account.ldap, {});
  assert.equal(account.displayName, "Backup service");
  assert.equal(account.normalizedName, "Backup service");
  assert.equal(account.fakeSam, "Backup service");
  assert.equal(account.context, "");
  assert.throws(
    () => parseAccount({ id: 2, tags: [], account_type: 3 }, "3.4"),
    MalformedEntityError,
  );
  assert.throws(() => parseAccount({ id: 2 }, "3.4"), /field "tags" is missing/);
});

Deno.test("parseDetection() reads a v2.5 detection and keeps only public destinations", () => {
  const detection = parseDetection({
    id: 31,
    detection_type: "Hidden DNS Tunnel",
    category: "EXFILTRATION",
    detection_category: "EXFILTRATION",
    state: "active",
    is_triaged: false,
    triage_rule_id: null,
    threat: 41,
    certainty: 79,
    t_score: 40,
    c_score: 78,
    targets_key_asset: true,
    is_targeting_key_asset: false,
    src_ip: "192.168.51.6",
    src_host: { id: 472, ip: "192.168.51.6" },
    src_account: null,
    summary: {
      dst_ips: [
        "198.51.100.7",
        "8.8.8.8",
        "8.8.8.8",
        "10.1.1.1",
        "100.64.1.1",
        "not-an-ip",
        42,
        "2606:4700:0::1111",
        "224.0.0.5",
      ],
      target_domains: ["snakeoil.biz", "snakeoil.biz", "b.example"],
    },
    tags: ["block", "VAR Detection Blocked"],
    note: null,
  }, "2.5");
  assert.equal(detection.kind, "detection");
  assert.equal(detection.name, "Hidden DNS Tunnel");
  assert.equal(detection.hostId, 472);
  assert.equal(detection.accountId, null);
  assert.equal(detection.category, "EXFILTRATION");
  assert.deepEqual(detection.dstIps, ["8.8.8.8", "2606:4700::1111"]);
  assert.deepEqual(detection.dstDomains, ["snakeoil.biz", "b.example"]);
  assert.equal(detection.threat, 40);
  assert.equal(detection.certainty, 78);
  assert.equal(detection.targetsKeyAsset, true);
  assert.equal(detection.triage, null);
  assert.equal(detection.isBlocked, true);
  assert.deepEqual(detection.keptTags, ["block"]);
  assert.equal(detection.src, "192.168.51.6");
});

Deno.test("parseDetection() applies the v3.4 fallbacks", () => {
  const detection = parseDetection({
    id: 1933,
    detection_type: "Suspicious Remote Desktop",
    detection_category: "info",
    state: "inactive",
    threat: 12,
    certainty: 34,
    is_targeting_key_asset: true,
    is_triaged: true,
    triage_rule_id: 5,
    src_host: null,
    src_account: { id: 36 },
    tags: [],
  }, "3.4");
  assert.equal(detection.category, "info");
  assert.equal(detection.threat, 12);
  assert.equal(detection.certainty, 34);
  assert.equal(detection.targetsKeyAsset, true);
  assert.equal(detection.hostId, null);
  assert.equal(detection.accountId, 36);
  assert.deepEqual(detection.dstIps, []);
  assert.deepEqual(detection.dstDomains, []);
  assert.equal(detection.src, null);
  assert.equal(detection.isTriaged, true);
  assert.equal(detection.triage, 5);
  assert.throws(
    () => parseDetection({ id: 5, tags: [], src_host: { id: "x" } }, "3.4"),
    (error: unknown) => error instanceof MalformedEntityError && error.field === "src_host.id",
  );
});

Deno.test("parseGroup() reads host ids and account uids, and refuses unknown membership", () => {
  const hosts = parseGroup({
    id: 2,
    type: "host",
    name: "NoBlock",
    members: [
      { id: 3, name: "IP-0.0.0.3", url: "https://b/api/v2.5/hosts/3" },
      { name: "x", url: "https://b/api/v2.5/hosts/8" },
      { id: 3 },
    ],
  }, "2.5");
  assert.deepEqual(hosts, {
    id: 2,
    name: "NoBlock",
    type: "host",
    hostIds: [3, 8],
    accountUids: [],
  });
  const accounts = parseGroup({
    id: 3,
    type: "account",
    name: "NoBlock",
    members: [{ uid: "darcy@corp.example.com" }, "account_2", { uid: "account_2" }],
  }, "2.5");
  assert.deepEqual(accounts?.accountUids, ["darcy@corp.example.com", "account_2"]);
  assert.equal(
    parseGroup({ id: 4, type: "ip", name: "ips", members: ["10.0.0.0/8"] }, "2.5"),
    null,
  );
  assert.throws(
    () => parseGroup({ id: 5, type: "host", name: "NoBlock" }, "3.4"),
    (error: unknown) => {
      assert.ok(error instanceof MalformedEntityError);
      assert.equal(error.field, "members");
      return true;
    },
  );
  assert.throws(
    () => parseGroup({ id: 5, type: "account", name: "B", members: [{ id: 3 }] }, "3.4"),
    /field "members.0" has no account uid in group "B"/,
  );
});

Deno.test("parseHost() unescapes the HTML the API applies to notes", () => {
  const host = parseHost(
    { id: 1, tags: [], note: "a &lt;b&gt; &amp; &quot;c&quot; &#x27;d&#39;" },
    "2.5",
  );
  assert.equal(host.note, `a <b> & "c" 'd'`);
});
