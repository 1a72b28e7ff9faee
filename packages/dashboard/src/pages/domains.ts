/** Domains: where each runs, its last good image and when, its last failure in a recent batch. */
import { imagesOfStores, lastGoodImages, listBatches } from "@xenfleet/fleet";
import { listHosts } from "@xenfleet/jobs";
import { size, when } from "../format.js";
import { html } from "../html.js";
import { LISTING_MAX_AGE_MS, type Page } from "../page.js";

export const domainsPage: Page = {
  path: "/domains",
  title: "Domains",
  async render({ redis, prefix, stores }) {
    const [hosts, batches, listed] = await Promise.all([
      listHosts(redis, prefix),
      listBatches(redis, prefix, 20),
      imagesOfStores(stores, LISTING_MAX_AGE_MS),
    ]);
    const good = lastGoodImages(listed.flatMap((s) => s.images));
    // Batches come newest first: the first failure met is a domain's last.
    const lastFailure = new Map<string, { at: number; reason: string }>();
    for (const b of batches)
      for (const f of b.report?.failures ?? [])
        if (!lastFailure.has(f.domain)) lastFailure.set(f.domain, { at: b.createdAt, reason: f.reason });
    const domains = hosts.flatMap((h) => (h.info?.domains ?? []).map((d) => ({ host: h, domain: d })));
    return html`${listed
      .filter((s) => s.problem !== undefined)
      .map((s) => html`<p class="error">store ${s.store}: ${s.problem}</p>`)}
${
  domains.length === 0
    ? html`<p>No host reports a domain.</p>`
    : html`<table>
<thead><tr><th>Domain</th><th>Host</th><th>State</th><th>Memory</th><th>Last good image</th><th>Saved</th><th>Last failure</th></tr></thead>
<tbody>
${domains.map(({ host, domain }) => {
  const image = good.get(domain.uuid);
  const failure = lastFailure.get(domain.uuid);
  return html`<tr data-domain="${domain.name}">
<td>${domain.name}<br><small>${domain.uuid}</small></td>
<td class="state-${host.state}">${host.id}</td>
<td>${domain.state}</td>
<td class="n">${size(domain.memory)}</td>
<td>${image === undefined ? html`<span class="bad">none</span>` : html`<code>${image.id.slice(0, 12)}</code>`}</td>
<td>${when(image?.created)}</td>
<td>${failure === undefined ? "-" : html`<span class="bad">${when(failure.at)}: ${failure.reason}</span>`}</td>
</tr>
`;
})}</tbody>
</table>`
}`;
  },
};
