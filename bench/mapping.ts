import { readFileSync } from "node:fs";
import type { Logger } from "../src/log/logger.js";
import type { MappingSource } from "../src/mapping/index.js";
import { mappingSource, parseMappingText } from "../src/mapping/index.js";
import { adaptReferral } from "../src/partner-center/adapter.js";
import { generateLeads } from "../src/sandbox/partner-center/generator.js";

export interface MappingFigures {
  crm: string;
  leadsPerSecond: number;
  fieldsPerLead: number;
}

/**
 * Applies each shipped mapping to `count` realistic leads (built once beforehand, so only the
 * mapping is timed) and reports leads per second on this one thread.
 */
export function benchMappings(count: number, log: Logger): MappingFigures[] {
  const now = new Date();
  const sources: MappingSource[] = generateLeads({ count, seed: "bench-mapping", now, acceptedShare: 0.4 }).map((raw) => {
    const { lead, referral } = adaptReferral(raw);
    return mappingSource(referral as Record<string, unknown>, lead, now);
  });
  const figures: MappingFigures[] = [];
  for (const crm of ["salesforce", "hubspot", "dynamics"]) {
    const { mapping } = parseMappingText(readFileSync(`mappings/${crm}.yaml`, "utf8"), `mappings/${crm}.yaml`);
    // Warm up so the JIT has compiled the closures before the clock starts.
    for (let i = 0; i < Math.min(2_000, count); i += 1) mapping.outbound(sources[i] as MappingSource, { create: true });
    let fields = 0;
    const started = process.hrtime.bigint();
    for (const source of sources) {
      for (const record of mapping.outbound(source, { create: true }).records) fields += Object.keys(record.fields).length;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    figures.push({ crm, leadsPerSecond: count / seconds, fieldsPerLead: fields / count });
    log.info({ crm, leadsPerSecond: Math.round(count / seconds) }, "mapping bench");
  }
  return figures;
}
