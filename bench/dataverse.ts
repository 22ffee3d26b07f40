import type { Logger } from "../src/log/logger.js";
import { startDataverseForBench } from "./dataverse-setup.js";

export interface DataverseFigures {
  batchSeconds: number;
  upsertMultipleSeconds: number;
  batchBadRecordSurvivors: number;
  upsertMultipleBadRecordSurvivors: number;
}

/**
 * $batch against UpsertMultiple on the Dataverse sandbox: time for `count` records (in-process
 * sandbox, so this compares our encoding and parsing, not Microsoft's servers), and what survives
 * one bad record in a call of 100.
 */
export async function benchDataverse(count: number, log: Logger): Promise<DataverseFigures> {
  const { sandbox, connector } = await startDataverseForBench();
  try {
    const records = (prefix: string) => Array.from({ length: count }, (_, i) => ({ key: `${prefix}-${i}`, fields: { subject: `Lead ${i}`, companyname: "C", cosell_status: 100000000 } }));
    let t0 = process.hrtime.bigint();
    await connector.upsert({ object: "lead", externalIdField: "cosell_referralid", records: records("batch") });
    const batchSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    t0 = process.hrtime.bigint();
    await connector.upsertMultiple({ object: "lead", externalIdField: "cosell_referralid", records: records("multi") });
    const upsertMultipleSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const withBad = (prefix: string) => records(prefix).slice(0, 100).map((r, i) => (i === 50 ? { ...r, fields: { ...r.fields, subject: "x".repeat(400) } } : r));
    const batch = await connector.upsert({ object: "lead", externalIdField: "cosell_referralid", records: withBad("bad-batch") });
    const multi = await connector.upsertMultiple({ object: "lead", externalIdField: "cosell_referralid", records: withBad("bad-multi") });
    log.info({ batchSeconds, upsertMultipleSeconds }, "dataverse bench");
    return {
      batchSeconds,
      upsertMultipleSeconds,
      batchBadRecordSurvivors: batch.filter((r) => r.outcome !== "failed").length,
      upsertMultipleBadRecordSurvivors: multi.filter((r) => r.outcome !== "failed").length,
    };
  } finally {
    await sandbox.close();
  }
}
