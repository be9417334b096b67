/**
 * The client registry: every client definition, statically imported so `deno compile`
 * embeds it (architecture.md). Adding a client is one import and one entry in
 * {@linkcode CLIENTS}; a client is looked up by name with `findClientDefinition` (config.ts).
 *
 * @module
 */

import { bitdefender } from "./bitdefender.ts";
import { checkpoint } from "./checkpoint.ts";
import { ciscoAmp } from "./cisco_amp.ts";
import { ciscoAsaHttp } from "./cisco_asa_http.ts";
import { ciscoFmc } from "./cisco_fmc.ts";
import { externalCall } from "./external_call.ts";
import { fortimanager } from "./fortimanager.ts";
import { fortinet } from "./fortinet.ts";
import { harmony } from "./harmony.ts";
import type { ClientDefinition } from "./interface.ts";
import { pan } from "./pan.ts";
import { sophos } from "./sophos.ts";
import { sophosEdr } from "./sophos_edr.ts";
import { panCortex } from "./pan_cortex.ts";
import { tanium } from "./tanium.ts";
import { testClient } from "./test_client.ts";
import { trendmicroApexOne } from "./trendmicro_apexone.ts";
import { trendmicroCloudOne } from "./trendmicro_cloudone.ts";
import { trendmicroVisionOne } from "./trendmicro_visionone.ts";

/** Every client var can drive, in the order `var config template` lists them. */
export const CLIENTS: readonly ClientDefinition[] = [
  testClient,
  externalCall,
  fortinet,
  pan,
  checkpoint,
  fortimanager,
  panCortex,
  ciscoAmp,
  harmony,
  bitdefender,
  ciscoFmc,
  ciscoAsaHttp,
  sophos,
  sophosEdr,
  trendmicroApexOne,
  trendmicroVisionOne,
  trendmicroCloudOne,
  tanium,
];
