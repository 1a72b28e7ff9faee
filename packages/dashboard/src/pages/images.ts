/** Images, per store and domain: labels, sizes, new bytes, verified when and how. */
import { imageJson, imagesOfStores, selectImages } from "@xenfleet/fleet";
import { size, when } from "../format.js";
import { html } from "../html.js";
import { LISTING_MAX_AGE_MS, type Page } from "../page.js";

export const imagesPage: Page = {
  path: "/images",
  title: "Images",
  async render({ stores }) {
    const listed = await imagesOfStores(stores, LISTING_MAX_AGE_MS);
    return html`${listed.map((s) => {
      const images = selectImages(s.images).map(imageJson);
      return html`<h2>Store ${s.store}</h2>
${s.problem === undefined ? "" : html`<p class="error">${s.problem}</p>`}
${
  images.length === 0
    ? html`<p>No image.</p>`
    : html`<table><thead><tr><th>Domain</th><th>Image</th><th>Created</th><th>Host</th><th>Labels</th><th>Size</th><th>New</th><th>Verified</th></tr></thead><tbody>
${images.map(
  (
    i,
  ) => html`<tr data-image="${i.imageId}"><td>${i.domain ?? i.uuid ?? "-"}</td><td><code>${i.imageId.slice(0, 12)}</code></td><td>${when(i.created)}</td><td>${i.host ?? "-"}</td>
<td>${i.labels.join(", ")}${i.protected ? " (protected)" : ""}</td><td class="n">${i.bytesTotal === null ? html`<span class="bad">broken</span>` : size(i.bytesTotal)}</td><td class="n">${size(i.bytesNew)}</td>
<td>${i.verified === null ? "never" : html`<span class="${i.verified.ok ? "ok" : "bad"}">${i.verified.ok ? "ok" : "BROKEN"}</span> ${when(i.verified.at)}${i.verified.problem === undefined ? "" : `: ${i.verified.problem}`}`}</td></tr>
`,
)}</tbody></table>`
}`;
    })}`;
  },
};
