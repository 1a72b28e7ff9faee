#!/usr/bin/env node
// Docker's healthcheck of a xenfleet container: healthy when the /healthz of
// each service it runs (one port each, given as arguments) answers 200 within
// three seconds. A service's /healthz fails while Redis or its store is out
// of reach, or once it is shutting down.
//   node deploy/healthcheck.mjs 9464 9465 9466
const ports = process.argv.slice(2);
if (ports.length === 0) {
  process.stderr.write("usage: healthcheck.mjs PORT...\n");
  process.exit(2);
}
const answers = await Promise.all(
  ports.map((port) =>
    fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(3000) }).then(
      async (res) => ({ port, ok: res.ok, body: (await res.text()).trim() }),
      (err) => ({ port, ok: false, body: String(err.message ?? err) }),
    ),
  ),
);
for (const a of answers.filter((x) => !x.ok)) process.stderr.write(`port ${a.port}: ${a.body}\n`);
process.exit(answers.every((a) => a.ok) ? 0 : 1);
