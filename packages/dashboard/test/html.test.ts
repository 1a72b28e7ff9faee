import { describe, expect, it } from "vitest";
import { escapeHtml, html } from "../src/html.js";

describe("html", () => {
  it("escapes every interpolation, in text and in attributes", () => {
    const name = `<script>alert("x")</script>&'`;
    const out = html`<td title="${name}">${name}</td>`.text;
    expect(out).toBe(
      '<td title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;</td>',
    );
    expect(out).not.toContain("<script>");
  });

  it("escapes the items of arrays, keeps nested html as it is and drops null, undefined and false", () => {
    const rows = ["<a>", "b"].map((x) => html`<li>${x}</li>`);
    expect(html`<ul>${rows}${null}${undefined}${false}${["<i>"]}</ul>`.text).toBe(
      "<ul><li>&lt;a&gt;</li><li>b</li>&lt;i&gt;</ul>",
    );
    expect(html`${0}`.text).toBe("0");
  });

  it("escapeHtml leaves plain text alone", () => {
    expect(escapeHtml("host-1 vm 64 MiB")).toBe("host-1 vm 64 MiB");
  });
});
