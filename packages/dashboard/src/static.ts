/**
 * The two static files: the style sheet, and the script that keeps a page
 * live by fetching its region again (the server answers `X-Fragment: 1`
 * with the region alone) and swapping it in when it changed.
 */
export const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:0 1.5em 2em;color:#222}
nav{display:flex;gap:1em;align-items:center;padding:.6em 0;border-bottom:1px solid #ccc}
nav a{text-decoration:none;color:#036}nav a[aria-current]{font-weight:bold;text-decoration:underline}
.logout{margin-left:auto}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{padding:.25em .7em;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
td.n{text-align:right}.state-up,.state-done,.state-completed,.ok{color:#070}.state-down,.state-failed,.bad,.error{color:#a00}
.state-draining,.state-migrating,.state-active{color:#a60}progress{width:10em}h2{margin-top:1.2em}
form.inline{display:inline;margin:0}`;

export const LIVE_SCRIPT = `(() => {
  const region = document.getElementById("live");
  if (!region) return;
  const every = Number(region.dataset.refreshMs || "0");
  if (!(every > 0)) return;
  let last = null;
  const refresh = async () => {
    try {
      const r = await fetch(location.pathname + location.search, { headers: { "x-fragment": "1" }, credentials: "same-origin" });
      if (r.ok) {
        const text = await r.text();
        if (text !== last) { region.innerHTML = text; last = text; }
      }
    } catch {}
    setTimeout(refresh, every);
  };
  setTimeout(refresh, every);
})();
`;
