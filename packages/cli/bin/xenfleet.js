#!/usr/bin/env node
// The `xenfleet` command. npm links a package's bin when it installs, before
// anything is built, so the bin is this committed file rather than the build
// output: it runs the built entry point, or says plainly that there is none yet.
import { existsSync } from "node:fs";

const main = new URL("../dist/main.js", import.meta.url);
if (!existsSync(main)) {
  process.stderr.write("xenfleet is not built yet: run npm run build\n");
  process.exit(2);
}
await import(main.href);
