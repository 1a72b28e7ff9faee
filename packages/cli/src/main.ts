#!/usr/bin/env node
import { quietOnClosedPipes } from "./output.js";
import { runCli } from "./program.js";

quietOnClosedPipes();
process.exitCode = await runCli(process.argv.slice(2));
