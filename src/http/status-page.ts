import type { LeadView, PairStatus, StatusSnapshot } from "./status-model.js";

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

/** "3 min ago", "in 2 h 5 min": what ops read at a glance; the exact time is in the title. */
export function relative(at: Date | undefined, now: Date): string {
  if (!at) return "never";
  const ms = at.getTime() - now.getTime();
  if (Math.abs(ms) < 1000) return "just now";
  const text = duration(Math.abs(ms));
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}

export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

function time(at: Date | undefined, now: Date): string {
  return at ? `<time datetime="${at.toISOString()}" title="${at.toISOString()}">${escape(relative(at, now))}</time>` : "never";
}

function page(title: string, body: string, refreshSeconds?: number): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${refreshSeconds ? `<meta http-equiv="refresh" content="${refreshSeconds}">` : ""}
<title>${escape(title)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1200px;padding:1rem 1.5rem;color:#1b1b1b}
h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.1rem;margin:1.6rem 0 .4rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eee;vertical-align:top}
th{background:#f6f6f6;font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.bad{color:#a4262c;font-weight:600}.warn{color:#8a5a00}.ok{color:#107c10}.muted{color:#666}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;padding:.5rem .9rem;min-width:9rem}
.card b{display:block;font-size:1.5rem}a{color:#0f62c8}code{font-size:.9em}
</style>
</head>
<body>
${body}
</body>
</html>
`;
}

/** Pulls and polls are stamped in real time (`opsNow`); CRM writes and pushes are lead events (`now`). */
function pairRow(pair: PairStatus, opsNow: Date, now: Date): string {
  const stale = pair.pullIntervalMs !== undefined && (!pair.lastPullAt || opsNow.getTime() - pair.lastPullAt.getTime() > 3 * pair.pullIntervalMs);
  const failure = pair.lastPullFailure ?? pair.lastPollFailure;
  const open = Object.entries(pair.leadsByState).filter(([state]) => ["new", "accepted", "qualified", "evaluated"].includes(state)).reduce((sum, [, n]) => sum + n, 0);
  return `<tr>
<td><b>${escape(pair.name)}</b><br><span class="muted">${escape(pair.account)} → ${escape(pair.crm)}</span></td>
<td class="num">${open}</td>
<td class="${stale ? "bad" : ""}">${time(pair.lastPullAt, opsNow)}</td>
<td>${time(pair.lastPollAt, opsNow)}</td>
<td>${time(pair.lastCrmWriteAt, now)}</td>
<td>${time(pair.lastPushAt, now)}</td>
<td class="num ${pair.lagMs > 10 * 60_000 ? "bad" : pair.lagMs > 60_000 ? "warn" : ""}">${pair.lagMs > 0 ? escape(duration(pair.lagMs)) : "0"}</td>
<td>${failure ? `<span class="bad">${escape(failure.code)}</span> ${time(failure.at, opsNow)}<br><span class="muted">${escape(failure.message.slice(0, 200))}</span>` : '<span class="ok">ok</span>'}</td>
</tr>`;
}

/** The status page: pairs, outbox and failure index, deadlines due soonest, reminders, API use. */
export function renderStatusPage(s: StatusSnapshot): string {
  const now = s.at;
  const targets = Object.entries(s.outbox.byTarget).sort(([a], [b]) => a.localeCompare(b));
  const body = `
<header>
<h1>cosell-sync</h1>
<p class="muted">version ${escape(s.version)} · ${escape(s.state)}${s.startedAt ? ` · up ${escape(duration(now.getTime() - s.startedAt.getTime()))}` : ""} · as of <time datetime="${now.toISOString()}">${escape(now.toISOString())}</time> · <a href="/metrics">metrics</a> · <a href="/readyz">readiness</a></p>
</header>
<section class="cards" aria-label="summary">
<div class="card">due within 24 h<b class="${s.deadlines.dueWithin24h > 0 ? "warn" : ""}">${s.deadlines.dueWithin24h}</b></div>
<div class="card">due within 7 d<b>${s.deadlines.dueWithin7d}</b></div>
<div class="card">reminders today<b>${s.reminders.sentToday}</b></div>
<div class="card">expired<b>${s.deadlines.expired}</b></div>
<div class="card">closed by the 60-day rule<b>${s.deadlines.closedBy60DayRule}</b></div>
<div class="card">failed jobs<b class="${Object.values(s.outbox.deadByCode).some((n) => n > 0) ? "bad" : ""}">${Object.values(s.outbox.deadByCode).reduce((a, b) => a + b, 0)}</b></div>
<div class="card">webhooks<b>${s.webhooks.accepted}</b><span class="muted">${s.webhooks.refused} refused</span></div>
</section>

<h2 id="pairs">Pairs</h2>
<table>
<thead><tr><th>pair</th><th class="num">open leads</th><th>last pull</th><th>last CRM poll</th><th>last CRM write</th><th>last push to Partner Center</th><th class="num">lag</th><th>health</th></tr></thead>
<tbody>${s.pairs.map((p) => pairRow(p, s.opsAt, now)).join("\n") || '<tr><td colspan="8">No enabled pairs.</td></tr>'}</tbody>
</table>

<h2 id="due">Leads due soonest</h2>
<table>
<thead><tr><th>lead</th><th>deadline</th><th>due</th><th>owner</th><th>state</th></tr></thead>
<tbody>${
    s.deadlines.dueSoon
      .map(
        (d) => `<tr><td><a href="/leads/${d.leadId}">${escape(d.name)}</a><br><span class="muted">${escape(d.referralId)}</span></td><td>${d.deadline === "accept" ? "accept by" : "act by"}</td><td class="${d.at.getTime() <= now.getTime() ? "bad" : d.at.getTime() - now.getTime() < 86_400_000 ? "warn" : ""}">${time(d.at, now)}</td><td>${d.owner ? escape(d.owner) : '<span class="muted">unassigned</span>'}</td><td>${escape(d.state)}</td></tr>`,
      )
      .join("\n") || '<tr><td colspan="5">Nothing due within 7 days.</td></tr>'
  }</tbody>
</table>

<h2 id="outbox">Outbox</h2>
<table>
<thead><tr><th>target</th><th class="num">pending</th><th class="num">running</th><th class="num">failed</th><th class="num">oldest due waited</th></tr></thead>
<tbody>${
    targets
      .map(([target, states]) => {
        const waited = s.outbox.oldestDueAgeMs[target];
        return `<tr><td>${escape(target)}</td><td class="num">${states.pending ?? 0}</td><td class="num">${states.running ?? 0}</td><td class="num ${(states.dead ?? 0) > 0 ? "bad" : ""}">${states.dead ?? 0}</td><td class="num">${waited ? escape(duration(waited)) : "—"}</td></tr>`;
      })
      .join("\n") || '<tr><td colspan="5">Empty.</td></tr>'
  }</tbody>
</table>

<h2 id="failures">Failure index: top reasons</h2>
<table>
<thead><tr><th>code</th><th class="num">jobs</th><th>last</th><th>example</th></tr></thead>
<tbody>${
    s.outbox.topFailures.map((f) => `<tr><td><code>${escape(f.code)}</code></td><td class="num">${f.count}</td><td>${time(f.lastAt, now)}</td><td>${escape(f.message.slice(0, 300))}</td></tr>`).join("\n") ||
    '<tr><td colspan="4" class="ok">No failed jobs.</td></tr>'
  }</tbody>
</table>
<p class="muted">Inspect them with <code>cosell-sync outbox list --state dead</code>, redrive a code with <code>cosell-sync outbox redrive --code CODE</code>.</p>

<h2 id="apis">API calls since start</h2>
<table>
<thead><tr><th>target</th><th class="num">calls</th><th class="num">throttled</th><th class="num">daily quota used</th></tr></thead>
<tbody>${s.targets.map((t) => `<tr><td>${escape(t.target)}</td><td class="num">${t.requests}</td><td class="num ${t.throttled > 0 ? "warn" : ""}">${t.throttled}</td><td class="num">${t.dailyLimit ? `${t.dailyUsed ?? 0} / ${t.dailyLimit}` : "—"}</td></tr>`).join("\n")}</tbody>
</table>
`;
  return page("cosell-sync status", body, 30);
}

/** One lead: where it is, its deadlines, its CRM records and its whole timeline. */
export function renderLeadPage(lead: LeadView): string {
  const now = lead.at;
  const body = `
<p><a href="/">← status</a></p>
<h1>${escape(lead.name)}</h1>
<p class="muted">referral <code>${escape(lead.referralId)}</code> · account ${escape(lead.account)} · <a href="${escape(lead.partnerCenterUrl)}">open in Partner Center</a></p>
<table>
<tbody>
<tr><th>state</th><td>${escape(lead.state)}</td></tr>
<tr><th>owner</th><td>${lead.owner ? escape(lead.owner) : '<span class="muted">unassigned</span>'}</td></tr>
${lead.state === "new" && lead.acceptBy ? `<tr><th>accept by</th><td>${time(lead.acceptBy, now)} (${escape(lead.acceptBy.toISOString())})</td></tr>` : ""}
${lead.actBy ? `<tr><th>act by</th><td>${time(lead.actBy, now)} (${escape(lead.actBy.toISOString())})</td></tr>` : ""}
</tbody>
</table>
<h2>CRM records</h2>
<table>
<thead><tr><th>pair</th><th>object</th><th>record</th><th>sync error</th></tr></thead>
<tbody>${lead.records.map((r) => `<tr><td>${escape(r.pair)}</td><td>${escape(r.object)}</td><td>${r.url ? `<a href="${escape(r.url)}">${escape(r.id)}</a>` : escape(r.id)}</td><td class="${r.syncError ? "bad" : ""}">${r.syncError ? escape(r.syncError) : ""}</td></tr>`).join("\n") || '<tr><td colspan="4">Not in any CRM yet.</td></tr>'}</tbody>
</table>
<h2 id="timeline">Timeline</h2>
<table>
<thead><tr><th>when</th><th>side</th><th>what</th><th>pair</th><th>why</th></tr></thead>
<tbody>${lead.timeline.map((e) => `<tr><td>${time(e.at, now)}</td><td>${escape(e.side)}</td><td><code>${escape(e.kind)}</code></td><td>${e.pair ? escape(e.pair) : ""}</td><td>${e.cause ? escape(e.cause) : ""}</td></tr>`).join("\n")}</tbody>
</table>
`;
  return page(`${lead.name} · cosell-sync`, body);
}
