/**
 * The device list of a vendor client in `var.env`: `<PREFIX>_IP` (management addresses,
 * comma-separated; `http://` only in labs), `<PREFIX>_PORT`, `<PREFIX>_CHECK_SSL` and
 * `<PREFIX>_CA_FILE`, each one value for every device or one per device. Parsing checks
 * alignment, ports, booleans and addresses, and every error names the key and the value.
 * Private to `clients/`.
 *
 * @module
 */

import { parseIpOrNetwork } from "../engine/ip.ts";
import { alignedValues, parseBool, splitList } from "./_config.ts";
import type { SecretRef } from "../engine/secrets.ts";
import type { ConfigKey } from "./interface.ts";

/** How a vendor names its device list. */
export interface DeviceListSpec {
  /** The key prefix: `FORTINET` gives `FORTINET_IP`, `FORTINET_PORT`, … */
  readonly prefix: string;
  /** The default management port. */
  readonly port: number;
  /** What the devices are called in messages, e.g. `firewalls`. */
  readonly devices: string;
  /** The product, for messages and help, e.g. `FortiGate`. */
  readonly product: string;
  /** The help of the list key. */
  readonly listHelp: string;
  /**
   * The list key after the prefix, as the original names it (`HOST` gives `CHECKPOINT_HOST`).
   * @default {"IP"}
   */
  readonly listKey?: string;
}

/** The full name of a vendor's device list key, e.g. `FORTINET_IP`. */
function listKeyOf(spec: DeviceListSpec): string {
  return `${spec.prefix}_${spec.listKey ?? "IP"}`;
}

/** One device's endpoint as configured. */
export interface DeviceEndpoint {
  /** The `<PREFIX>_IP` entry without scheme: host name or IP (a secret's key). */
  readonly host: string;
  /** `https`, or `http` when the entry was written `http://…` (labs and tests). */
  readonly scheme: "https" | "http";
  readonly port: number;
  /** Verify the TLS certificate (`<PREFIX>_CHECK_SSL`). */
  readonly verifyTls: boolean;
  /** PEM file of a CA to trust (`<PREFIX>_CA_FILE`), or null. */
  readonly caFile: string | null;
}

/** A parsed device list, and the per-device values of the vendor's other keys. */
export interface ParsedDevices {
  readonly endpoints: readonly DeviceEndpoint[];
  /** One value per device of a per-device key, or null after reporting the key. */
  aligned(key: string): string[] | null;
}

/** The sentence every per-device key's help ends with. */
export function perDeviceHelp(spec: DeviceListSpec): string {
  return `One value for every ${spec.devices.replace(/s$/, "")}, or one per ${listKeyOf(spec)} ` +
    "entry in the same order, comma-separated.";
}

/** The documented device-list keys of a vendor. */
export function deviceListKeys(spec: DeviceListSpec): ConfigKey[] {
  const each = perDeviceHelp(spec);
  const device = spec.devices.replace(/s$/, "");
  return [
    { key: listKeyOf(spec), default: "", required: true, help: spec.listHelp },
    { key: `${spec.prefix}_PORT`, default: String(spec.port), help: `HTTPS admin port. ${each}` },
    {
      key: `${spec.prefix}_CHECK_SSL`,
      default: "true",
      help: `Verify the ${device}'s TLS certificate (true/false). ${each}`,
    },
    {
      key: `${spec.prefix}_CA_FILE`,
      default: "",
      help:
        `PEM file of the CA that signed the ${device}'s certificate; empty: system roots. ${each}`,
    },
  ];
}

/**
 * Turns a URL entry (`https://fw1.example.com:8443`, or a bare host name for https) into a
 * base URL of scheme, host and port, or says why it cannot be used. `apiPath` (`/api`) is
 * the one path accepted and dropped, as the original appended it.
 */
export function parseBaseUrl(
  entry: string,
  apiPath: string,
): { baseUrl: string } | { error: string } {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(entry) ? entry : `https://${entry}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return { error: `"${entry}" is not a URL or host name` };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return { error: `"${entry}" is not http or https` };
  }
  if (url.username !== "" || url.password !== "") {
    return { error: `"${entry}" carries credentials; store them as secrets instead` };
  }
  if (url.search !== "" || url.hash !== "") {
    return { error: `"${entry}" carries a query or fragment; give scheme, host and port only` };
  }
  const path = url.pathname.replace(/\/+$/, "");
  if (path !== "" && path !== apiPath) {
    return { error: `"${entry}" carries a path; give scheme, host and port only` };
  }
  return { baseUrl: `${url.protocol}//${url.host}` };
}

/** Splits a `<PREFIX>_IP` entry into scheme and host, or says why it cannot be used. */
export function parseHostEntry(
  entry: string,
  portKey: string,
): { scheme: "https" | "http"; host: string } | { error: string } {
  let scheme: "https" | "http" = "https";
  let host = entry;
  const schemeMatch = entry.match(/^(https?):\/\/(.*)$/i);
  if (schemeMatch) {
    scheme = (schemeMatch[1] ?? "").toLowerCase() === "http" ? "http" : "https";
    host = (schemeMatch[2] ?? "").replace(/\/$/, "");
  }
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  if (host === "") return { error: `"${entry}" names no host` };
  if (/[\s/?#@]/.test(host)) return { error: `"${entry}" is not a host name or IP address` };
  const colons = host.split(":").length - 1;
  if (colons === 1) return { error: `"${entry}" carries a port; put the port in ${portKey}` };
  if (colons > 1 && parseIpOrNetwork(host).ok === false) {
    return { error: `"${entry}" is not a host name or IP address` };
  }
  return { scheme, host };
}

/**
 * Parses the device list of `raw` (every key present, defaults applied). Each problem is
 * reported through `fail(key, message)`; returns null when the list cannot be used.
 */
export function parseDeviceList(
  raw: Readonly<Record<string, string>>,
  spec: DeviceListSpec,
  fail: (key: string, message: string) => void,
): ParsedDevices | null {
  const key = (name: string) => `${spec.prefix}_${name}`;
  const listKey = listKeyOf(spec);
  const text = raw[listKey] ?? "";
  const entries = text.trim() === "" ? [] : splitList(text);
  if (entries.length === 0) {
    fail(listKey, `${listKey} is empty; give the ${spec.product} management IPs`);
    return null;
  }
  const hosts: { scheme: "https" | "http"; host: string }[] = [];
  for (const entry of entries) {
    const parsed = parseHostEntry(entry, key("PORT"));
    if ("error" in parsed) {
      fail(listKey, `${listKey} entry ${parsed.error}`);
      return null;
    }
    hosts.push(parsed);
  }
  const aligned = (name: string): string[] | null => {
    const values = alignedValues(raw[name] ?? "", entries.length, {
      key: name,
      listKey,
      devices: spec.devices,
      device: spec.listKey ?? "IP",
    });
    if (typeof values !== "string") return values;
    fail(name, values);
    return null;
  };
  const ports = aligned(key("PORT"));
  const checks = aligned(key("CHECK_SSL"));
  const caFiles = aligned(key("CA_FILE"));
  if (!ports || !checks || !caFiles) return null;
  const endpoints: DeviceEndpoint[] = [];
  for (const [i, { scheme, host }] of hosts.entries()) {
    const portText = ports[i] ?? "";
    const port = Number(portText);
    if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) {
      fail(key("PORT"), `${key("PORT")} "${portText}" is not a port; use 1 to 65535`);
      return null;
    }
    const checkText = checks[i] ?? "";
    const verifyTls = parseBool(checkText);
    if (verifyTls === null) {
      fail(key("CHECK_SSL"), `${key("CHECK_SSL")} is "${checkText}"; use true or false`);
      return null;
    }
    const caFile = caFiles[i] ?? "";
    endpoints.push({ host, scheme, port, verifyTls, caFile: caFile === "" ? null : caFile });
  }
  return { endpoints, aligned };
}

/**
 * The first identity that two devices share, or null: `identity` names what makes a device
 * distinct (host and port, plus a VDOM or vsys where one address serves several).
 */
export function firstDuplicate<T>(
  devices: readonly T[],
  identity: (device: T) => string,
): T | null {
  const seen = new Set<string>();
  for (const device of devices) {
    const id = identity(device);
    if (seen.has(id)) return device;
    seen.add(id);
  }
  return null;
}

/** One secret per distinct value (a host, a URL): devices that share it share the secret. */
export function secretsPer(
  values: readonly string[],
  ref: (value: string) => SecretRef,
): SecretRef[] {
  return [...new Set(values)].map(ref);
}

/** A cloud API reached at one base URL: its URL and TLS settings as configured. */
export interface ApiEndpointConfig {
  readonly baseUrl: string;
  readonly verifyTls: boolean;
  readonly caFile: string | null;
}

/** The keys of a cloud API: `<urlKey>` (required), `<PREFIX>_CHECK_SSL`, `<PREFIX>_CA_FILE`. */
export function apiUrlKeys(prefix: string, urlKey: string, urlHelp: string): ConfigKey[] {
  return [
    { key: urlKey, default: "", required: true, help: urlHelp },
    {
      key: `${prefix}_CHECK_SSL`,
      default: "true",
      help: "Verify the API's TLS certificate (true/false).",
    },
    {
      key: `${prefix}_CA_FILE`,
      default: "",
      help: "PEM file of a CA to trust; empty: system roots.",
    },
  ];
}

/** Parses the keys of {@linkcode apiUrlKeys}; each problem reported through `fail`. */
export function parseApiUrl(
  raw: Readonly<Record<string, string>>,
  prefix: string,
  urlKey: string,
  apiPath: string,
  fail: (key: string, message: string) => void,
): ApiEndpointConfig | null {
  const url = (raw[urlKey] ?? "").trim();
  if (url === "") {
    fail(urlKey, `${urlKey} is empty; give the API URL`);
    return null;
  }
  const parsed = parseBaseUrl(url, apiPath);
  if ("error" in parsed) {
    fail(urlKey, `${urlKey} ${parsed.error}`);
    return null;
  }
  const checkKey = `${prefix}_CHECK_SSL`;
  const verifyTls = parseBool(raw[checkKey] ?? "true");
  if (verifyTls === null) {
    fail(checkKey, `${checkKey} is "${raw[checkKey]}"; use true or false`);
    return null;
  }
  const caFile = (raw[`${prefix}_CA_FILE`] ?? "").trim();
  return { baseUrl: parsed.baseUrl, verifyTls, caFile: caFile === "" ? null : caFile };
}

/** Parses a key holding a whole http(s) URL (a token or who-am-I endpoint, path included). */
export function parseFullUrl(
  raw: Readonly<Record<string, string>>,
  key: string,
  fail: (key: string, message: string) => void,
): URL | null {
  const text = (raw[key] ?? "").trim();
  const url = URL.parse(text);
  if (
    url !== null && /^https?:$/.test(url.protocol) && url.username === "" && url.password === ""
  ) {
    return url;
  }
  fail(key, `${key} "${text}" is not an http or https URL without credentials`);
  return null;
}
