import { readFileSync } from "node:fs";
import fc from "fast-check";
import { stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { parseMappingText } from "../../src/mapping/load.js";
import { CosellError } from "../../src/shared/errors.js";

const SHIPPED = ["salesforce", "hubspot", "dynamics"].map((name) => readFileSync(`mappings/${name}.yaml`, "utf8"));

/** Either a loaded mapping or a MAPPING_INVALID error with located issues: never anything else. */
function loadsOrRefusesCleanly(text: string): void {
  try {
    const { mapping } = parseMappingText(text, "fuzz.yaml");
    expect(mapping.describeObjects().length).toBeGreaterThan(0);
  } catch (error) {
    expect(error).toBeInstanceOf(CosellError);
    expect((error as CosellError).code).toBe("MAPPING_INVALID");
    const issues = (error as CosellError).details.issues as unknown[];
    expect(issues.length).toBeGreaterThan(0);
  }
}

describe("mapping loader under fuzzing", () => {
  it("survives arbitrary text", () => {
    fc.assert(fc.property(fc.string({ maxLength: 400 }), loadsOrRefusesCleanly), { numRuns: 1000 });
  });

  it("survives arbitrary YAML structures", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => loadsOrRefusesCleanly(stringify(value))),
      { numRuns: 1000 },
    );
  });

  it("survives the shipped files with random bytes cut, inserted or replaced", () => {
    const edit = fc.tuple(fc.constantFrom(...SHIPPED), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 20 }), fc.string({ maxLength: 8 })), { minLength: 1, maxLength: 5 }));
    fc.assert(
      fc.property(edit, ([text, edits]) => {
        let mutated = text;
        for (const [at, cut, insert] of edits) {
          const position = at % (mutated.length + 1);
          mutated = mutated.slice(0, position) + insert + mutated.slice(position + cut);
        }
        loadsOrRefusesCleanly(mutated);
      }),
      { numRuns: 1500 },
    );
  });

  it("survives structurally plausible mappings with random values in every slot", () => {
    const scalar = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.boolean(), fc.constant(null), fc.constantFrom("lead.name", "sync.acceptBy", "referral.x", "lead.nope", "{lead.name}"));
    const rule = fc.oneof(scalar, fc.dictionary(fc.constantFrom("from", "template", "value", "transform", "default", "required", "owner", "bogus"), fc.oneof(scalar, fc.dictionary(fc.constantFrom("map", "date", "truncate", "lookup", "timeZone", "join"), scalar))));
    const object = fc.record({ object: scalar, externalId: fc.record({ field: scalar, from: scalar }), fields: fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), rule) });
    const file = fc.record({ version: fc.constantFrom(1, 2, "1"), crm: fc.constantFrom("salesforce", "hubspot", "sap"), objects: fc.dictionary(fc.constantFrom("lead", "contact", "Bad Name"), object), inbound: fc.option(fc.record({ object: scalar, status: fc.record({ field: scalar, values: fc.dictionary(fc.string(), scalar) }) }), { nil: undefined }) });
    fc.assert(fc.property(file, (value) => loadsOrRefusesCleanly(stringify(value))), { numRuns: 1500 });
  });
});
