import type { Config } from "../config/index.js";
import type { CompiledMapping, MappingRegistry } from "../mapping/index.js";
import { CosellError, toCosellError } from "../shared/errors.js";

/**
 * Loads the mapping of every enabled pair and checks it was written for the pair's CRM. All
 * problems are gathered, so an admin fixes them in one pass.
 */
export async function loadPairMappings(config: Config, registry: MappingRegistry): Promise<Map<string, CompiledMapping>> {
  const loaded = new Map<string, CompiledMapping>();
  const problems: string[] = [];
  for (const [index, pair] of config.pairs.entries()) {
    if (!pair.enabled) continue;
    const crm = config.crms[pair.crm];
    try {
      const mapping = await registry.load(pair.mapping);
      if (crm && mapping.crm !== crm.type) {
        problems.push(`pairs[${index}] (${pair.name}): ${pair.mapping} is a ${mapping.crm} mapping, but CRM "${pair.crm}" is ${crm.type}. Point the pair at a ${crm.type} mapping.`);
        continue;
      }
      loaded.set(pair.name, mapping);
    } catch (error) {
      problems.push(`pairs[${index}] (${pair.name}): ${toCosellError(error).message}`);
    }
  }
  if (problems.length > 0) {
    throw new CosellError("MAPPING_INVALID", `The mappings of ${problems.length} pair(s) cannot be used; nothing was started:\n${problems.join("\n")}`, { details: { problems } });
  }
  return loaded;
}
