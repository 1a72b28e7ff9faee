/** Batches: progress while they run, then the report (saved, failed with reasons, bytes new). */
import { listBatches, type BatchProgress } from "@xenfleet/fleet";
import { size, when } from "../format.js";
import { html } from "../html.js";
import type { Page } from "../page.js";

function batch(b: BatchProgress) {
  const r = b.report;
  return html`<section class="batch" data-batch="${b.batchId}">
<h2>Batch ${b.batchId}</h2>
<p>Started ${when(b.createdAt)} · <span class="state-${b.state}">${b.state}</span> ·
<progress max="${Math.max(b.total, 1)}" value="${b.finished}"></progress> <span class="count">${b.finished}/${b.total}</span> finished${b.failed > 0 ? html`, <span class="bad">${b.failed} failed</span>` : ""}</p>
${b.error === undefined ? "" : html`<p class="error">${b.error}</p>`}
${
  r === undefined
    ? ""
    : html`<p class="report">Saved ${r.saved}, failed ${r.failed}, ${size(r.bytesTotal)} total, ${size(r.bytesNew)} new, ${r.seconds.toFixed(1)} s</p>
${
  r.failures.length + r.notSaved.length === 0
    ? ""
    : html`<table><thead><tr><th>Host</th><th>Domain</th><th>Why</th></tr></thead><tbody>
${r.failures.map((f) => html`<tr><td>${f.host}</td><td>${f.domain}</td><td class="bad">failed: ${f.reason}</td></tr>`)}
${r.notSaved.map((n) => html`<tr><td>${n.host}</td><td>${n.domain}</td><td class="bad">not saved: ${n.reason}</td></tr>`)}
</tbody></table>`
}`
}
</section>`;
}

export const batchesPage: Page = {
  path: "/batches",
  title: "Batches",
  async render({ redis, prefix }) {
    const batches = await listBatches(redis, prefix, 20);
    return batches.length === 0 ? html`<p>No batch has run yet.</p>` : html`${batches.map(batch)}`;
  },
};
