/** Hosts: state, memory, domains, how long since each was heard from; drain and undrain. */
import { hostReadingAges, listHosts } from "@xenfleet/jobs";
import { age, size } from "../format.js";
import { html } from "../html.js";
import type { Page } from "../page.js";

export const hostsPage: Page = {
  path: "/hosts",
  title: "Hosts",
  async render({ redis, prefix, csrf }) {
    const hosts = await listHosts(redis, prefix);
    const ages = await hostReadingAges(
      redis,
      prefix,
      hosts.map((h) => h.id),
    );
    if (hosts.length === 0) return html`<p>No host is registered.</p>`;
    const button = (host: string, action: "drain" | "undrain", label: string) =>
      html`<form method="post" action="/hosts/${action}" class="inline"><input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="host" value="${host}"><button>${label}</button></form>`;
    return html`<table>
<thead><tr><th>Host</th><th>State</th><th>Free</th><th>Total</th><th>Domains</th><th>Tags</th><th>Last heard</th><th></th></tr></thead>
<tbody>
${hosts.map(
  (h) => html`<tr data-host="${h.id}">
<td>${h.id}</td>
<td class="state-${h.state}">${h.state}${h.problem === undefined ? "" : html` <span class="bad">(${h.problem})</span>`}</td>
<td class="n">${size(h.info?.memoryFree)}</td>
<td class="n">${size(h.info?.memoryTotal)}</td>
<td class="n">${h.info?.domains.length ?? 0}</td>
<td>${h.info?.tags.join(", ") ?? ""}</td>
<td>${age(ages.get(h.id))}</td>
<td>${h.draining ? button(h.id, "undrain", `Undrain ${h.id}`) : button(h.id, "drain", `Drain ${h.id}`)}</td>
</tr>
`,
)}</tbody>
</table>`;
  },
};
