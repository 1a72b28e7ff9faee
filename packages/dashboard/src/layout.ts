/** The frame every page shares: title, navigation, the live region the page script refreshes. */
import { html, type Html } from "./html.js";

export interface NavItem {
  path: string;
  title: string;
}

export interface LayoutOptions {
  title: string;
  path: string;
  nav: readonly NavItem[];
  /** The logout form's CSRF token; no logout form without one (a bearer caller has no session). */
  csrf?: string;
  /** Refresh the live region every this many ms (0: never). */
  refreshMs?: number;
}

export function layout(o: LayoutOptions, body: Html): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>xenfleet · ${o.title}</title>
<link rel="stylesheet" href="/static/style.css">
<script src="/static/live.js" defer></script>
</head>
<body>
<nav>
<strong>xenfleet</strong>
${o.nav.map((n) => html` <a href="${n.path}"${n.path === o.path ? html` aria-current="page"` : ""}>${n.title}</a>`)}
${o.csrf === undefined ? "" : html`<form method="post" action="/logout" class="logout"><input type="hidden" name="_csrf" value="${o.csrf}"><button>Log out</button></form>`}
</nav>
<h1>${o.title}</h1>
<main id="live" data-refresh-ms="${o.refreshMs ?? 2000}">
${body}
</main>
</body>
</html>
`;
}

export function loginPage(message?: string): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>xenfleet · Log in</title>
<link rel="stylesheet" href="/static/style.css">
</head>
<body>
<h1>xenfleet dashboard</h1>
${message === undefined ? "" : html`<p class="error">${message}</p>`}
<form method="post" action="/login">
<label>Token <input type="password" name="token" autocomplete="current-password" autofocus></label>
<button>Log in</button>
</form>
</body>
</html>
`;
}
