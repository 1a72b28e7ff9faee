/** Evacuations: each domain queued, migrating (percent, bytes), done or failed with the reason; then where each went. */
import { listEvacuations, type EvacuationStatus } from "@xenfleet/fleet";
import { size, when } from "../format.js";
import { html } from "../html.js";
import type { Page } from "../page.js";

function evacuation(e: EvacuationStatus) {
  const p = e.progress;
  const r = e.report;
  return html`<section class="evacuation" data-evacuation="${e.evacuationId}">
<h2>Evacuation of ${e.hosts.join(", ")}</h2>
<p><code>${e.evacuationId}</code> · started ${when(e.createdAt)} · <span class="state-${e.state}">${e.state}</span>${p === undefined ? "" : html` · ${p.done}/${p.total} done${p.failed > 0 ? html`, <span class="bad">${p.failed} failed</span>` : ""}`}</p>
${e.error === undefined ? "" : html`<p class="error">${e.error}</p>`}
${
  p === undefined || p.domains.length === 0
    ? ""
    : html`<table><thead><tr><th>Domain</th><th>From</th><th>To</th><th>State</th><th>Progress</th><th>Attempts</th></tr></thead><tbody>
${p.domains.map(
  (
    d,
  ) => html`<tr data-domain="${d.name}"><td>${d.name}</td><td>${d.source}</td><td>${d.target ?? "-"}${d.mode === "cold" ? " (cold)" : ""}</td>
<td class="state-${d.state}">${d.state}${d.reason === undefined ? "" : html`: ${d.reason}`}</td>
<td>${d.percent === undefined ? "" : `${d.percent}%`}${d.bytes === undefined ? "" : ` ${size(d.bytes)} of ${size(d.memoryBytes)}`}</td>
<td class="n">${d.attempts}</td></tr>
`,
)}</tbody></table>`
}
${
  r === undefined
    ? ""
    : html`<p class="report">Moved ${r.moved} (${r.cold} cold), failed ${r.failed.length}; emptied: ${r.emptied.join(", ") || "none"}${r.seconds === undefined ? "" : `, ${r.seconds.toFixed(1)} s`}</p>
<table><thead><tr><th>Domain</th><th>Final placement</th></tr></thead><tbody>
${r.placements.map((x) => html`<tr><td>${x.domain}</td><td>${x.from} → ${x.to} (${x.mode})</td></tr>`)}
${r.failed.map((f) => html`<tr><td>${f.domain}</td><td class="bad">stays on ${f.host}: ${f.reason}</td></tr>`)}
</tbody></table>`
}
</section>`;
}

export const evacuationsPage: Page = {
  path: "/evacuations",
  title: "Evacuations",
  async render({ redis, prefix }) {
    const all = await listEvacuations(redis, prefix, 20);
    return all.length === 0 ? html`<p>No evacuation has run yet.</p>` : html`${all.map(evacuation)}`;
  },
};
