import { describe, expect, it } from "vitest";
import { runCli, tempConfig } from "../helpers/cli.js";

interface Due {
  at: string;
  deadline: string;
  overdue: boolean;
  referralId: string;
  pairs: string[];
  owner: string;
  state: string;
}

describe("cosell-sync deadlines", () => {
  it("lists open leads due within the window, soonest first, by pair and owner", async () => {
    const { file } = tempConfig();
    expect((await runCli(["sync", "--once", "--config", file])).code).toBe(0);
    const wide = await runCli(["deadlines", "--within", "61d", "--json", "--config", file]);
    expect(wide.code).toBe(0);
    const { leads } = JSON.parse(wide.stdout) as { leads: Due[] };
    expect(leads.length).toBeGreaterThan(0);
    const times = leads.map((l) => Date.parse(l.at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(new Set(leads.map((l) => l.pairs.join()))).toEqual(new Set(["acme-sf"]));
    for (const lead of leads) expect(lead.deadline).toBe(lead.state === "new" ? "accept" : "act");
    expect(leads.some((l) => l.owner === "unassigned")).toBe(true);

    const narrow = JSON.parse((await runCli(["deadlines", "--within", "1d", "--json", "--config", file])).stdout) as { leads: Due[] };
    expect(narrow.leads.every((l) => Date.parse(l.at) <= Date.now() + 86_400_000)).toBe(true);
    expect(narrow.leads.length).toBeLessThanOrEqual(leads.length);

    const text = await runCli(["deadlines", "--within", "61d", "--config", file]);
    expect(text.stdout).toMatch(/^acme-sf\n {2}\S+/);
    expect(text.stdout).toMatch(/ {4}(OVERDUE )?(accept|act) by \d{4}-\d{2}-\d{2} \d{2}:\d{2}/);
  });

  it("refuses a window that is not a duration with exit 2", async () => {
    const { file } = tempConfig();
    const bad = await runCli(["deadlines", "--within", "soon", "--config", file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--within takes a duration");
  });
});
