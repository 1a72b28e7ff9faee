/**
 * One convention for every command, in one table: each command of the
 * program, run as a process (the built CLI, as a user runs it) with bad
 * flag values, unknown subjects, a Redis on a closed port and a store path
 * that does not exist, and with --json. Every run must end with the
 * documented exit code, a message naming the problem, no line of a stack
 * trace, and, with --json, exactly one JSON document on stdout with `ok`
 * (and `error: {code, message}` when not ok). The commands are enumerated
 * from the commander program itself: a command without a row fails the test.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { writeSampleStream } from "@xenfleet/format";
import { importImage } from "@xenfleet/image";
import { createRedis, heartbeat, type HostInfo } from "@xenfleet/jobs";
import { deletePrefix, REDIS_URL, testPrefix } from "@xenfleet/jobs/testing";
import { createKeyFile, initStore, LocalStore, openInnerStore, parseStoreUrl, unlockStore } from "@xenfleet/store";
import type { Command } from "commander";
import { reportError } from "../src/output.js";
import { allCommands, buildProgram } from "../src/program.js";
import { closedPort, type Outcome, buildCli, xenfleet } from "./helpers.js";

interface Case {
  args: string[];
  /** The documented exit code. */
  code: 0 | 1 | 2 | 3;
  /** What the output (stdout and stderr) must say. */
  says?: RegExp;
  env?: Record<string, string>;
}

const UUID = "6f1e2d3c-0000-4000-8000-00000000000a";
const prefix = testPrefix("xfcli");
/**
 * The fixtures, made in beforeAll; the table is built when the tests are
 * collected, before that, so it names them by placeholders.
 */
const fixtures = { DIR: "", PORT: "", IMAGE: "", PREFIX: prefix, OLDKEY: "" };
const expand = (arg: string) =>
  arg.replace(/\{(DIR|PORT|IMAGE|PREFIX|OLDKEY)\}/g, (_, name: keyof typeof fixtures) => fixtures[name]);
const f = {
  redis: () => ["--redis", REDIS_URL, "--prefix", "{PREFIX}"],
  closed: () => ["--redis", "redis://127.0.0.1:{PORT}", "--prefix", "{PREFIX}"],
  store: () => ["--store", "{DIR}/store"],
  missingStore: () => ["--store", "{DIR}/no-such-store"],
  stream: () => "{DIR}/vm.xl",
  text: () => "{DIR}/notes.txt",
  out: (name: string) => `{DIR}/${name}`,
  image: () => "{IMAGE}",
};

/** A Xen dom0 (the rig) would run the xen backend's workers for real. */
const IN_DOM0 = existsSync("/dev/xen/privcmd") || existsSync("/proc/xen/privcmd");
const UNREACHABLE = /cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+/;
const NO_STORE = /no store at .*no-such-store: no such directory/;

/** The rows: every command of the program, by its path. */
function table(): Record<string, Case[]> {
  const { redis, closed, store, missingStore, stream, text, out, image } = f;
  return {
    "(program)": [
      { args: ["no-such-command"], code: 2, says: /unknown command 'no-such-command'/ },
      { args: ["--no-such-flag"], code: 2, says: /unknown option '--no-such-flag'/ },
      { args: ["--version"], code: 0 },
    ],
    "stream inspect": [
      { args: ["stream", "inspect", stream(), "--json"], code: 0 },
      { args: ["stream", "inspect", out("absent.xl"), "--json"], code: 2, says: /no such file: .*absent\.xl/ },
      { args: ["stream", "inspect", stream(), "--format", "xml"], code: 2, says: /argument 'xml' is invalid/ },
      { args: ["stream", "inspect", text(), "--json"], code: 1, says: /bad-magic/ },
    ],
    "stream verify": [
      { args: ["stream", "verify", stream(), "--json"], code: 0 },
      { args: ["stream", "verify", text(), "--json"], code: 1, says: /bad-magic/ },
      { args: ["stream", "verify", text()], code: 1, says: /bad-magic/ },
      { args: ["stream", "verify"], code: 2, says: /missing required argument 'file'/ },
    ],
    "stream convert-legacy": [
      { args: ["stream", "convert-legacy", text(), out("v2.xl"), "--json"], code: 1, says: /XF_LEGACY/ },
      { args: ["stream", "convert-legacy", stream(), out("v2.xl"), "--width", "48", "--json"], code: 2, says: /'48'/ },
      {
        args: ["stream", "convert-legacy", out("absent"), out("v2.xl")],
        code: 2,
        says: /no such file: .*absent/,
      },
    ],
    "sim sample": [
      { args: ["sim", "sample", out("s.xl"), "--type", "pv", "--memory", "4M", "--json"], code: 0 },
      {
        args: ["sim", "sample", out("s.xl"), "--type", "pv", "--memory", "lots", "--json"],
        code: 2,
        says: /not a size/,
      },
      { args: ["sim", "sample", out("s.xl"), "--type", "arm", "--memory", "4M"], code: 2, says: /'arm' is invalid/ },
      { args: ["sim", "sample", out("s.xl"), "--memory", "4M"], code: 2, says: /required option '--type <type>'/ },
      { args: ["sim", "sample", "-", "--type", "pv", "--memory", "4M", "--json"], code: 2, says: /--json prints to/ },
      {
        args: ["sim", "sample", out("no/dir/s.xl"), "--type", "pv", "--memory", "4M", "--json"],
        code: 2,
        says: /cannot write .*s\.xl: no such directory/,
      },
    ],
    "sim restore": [
      { args: ["sim", "restore", stream(), "--json"], code: 0 },
      { args: ["sim", "restore", text(), "--json"], code: 1, says: /bad-magic/ },
      { args: ["sim", "restore", out("absent")], code: 2, says: /no such file/ },
    ],
    "image import": [
      { args: ["image", "import", stream(), "--domain", "web", "--json", ...store()], code: 0 },
      { args: ["image", "import", text(), "--domain", "web", "--json", ...store()], code: 1, says: /bad-magic/ },
      { args: ["image", "import", stream(), "--json", ...store()], code: 2, says: /required option '--domain <name>'/ },
      {
        args: ["image", "import", stream(), "--domain", "web", "--compression", "gzip", "--json", ...store()],
        code: 2,
        says: /'gzip' is invalid/,
      },
      {
        args: ["image", "import", stream(), "--domain", "web", "--label", "Not OK", "--json", ...store()],
        code: 2,
        says: /label must be/,
      },
      { args: ["image", "import", stream(), "--domain", "web", "--store", "gs://bucket"], code: 2, says: /gs:/ },
    ],
    "image export": [
      { args: ["image", "export", image(), out("e.xl"), "--json", ...store()], code: 0 },
      { args: ["image", "export", "0123456789abcdef", out("e.xl"), "--json", ...store()], code: 2, says: /not found/ },
      { args: ["image", "export", "zz", out("e.xl"), ...store()], code: 2, says: /not an image id/ },
      {
        args: ["image", "export", image(), out("no/dir/e.xl"), "--json", ...store()],
        code: 2,
        says: /cannot write .*e\.xl: no such directory/,
      },
      { args: ["image", "export", image(), out("e.xl"), "--json", ...missingStore()], code: 3, says: NO_STORE },
    ],
    "image ls": [
      { args: ["image", "ls", "--json", ...store()], code: 0 },
      { args: ["image", "ls", "--json", ...missingStore()], code: 3, says: NO_STORE },
      { args: ["image", "ls", ...missingStore()], code: 3, says: NO_STORE },
      { args: ["image", "ls", "--since", "soon", "--json", ...store()], code: 2, says: /'soon' is invalid/ },
      { args: ["image", "ls", "--label", "A B", ...store()], code: 2, says: /label must be/ },
    ],
    "image show": [
      { args: ["image", "show", image(), "--json", ...store()], code: 0 },
      { args: ["image", "show", "abcdef0123", "--json", ...store()], code: 2, says: /image abcdef0123 not found/ },
      { args: ["image", "show", image(), "--json", ...missingStore()], code: 3, says: NO_STORE },
    ],
    "image verify": [
      { args: ["image", "verify", image(), "--json", ...store()], code: 0 },
      { args: ["image", "verify", "nothex", "--json", ...store()], code: 2, says: /not an image id/ },
      { args: ["image", "verify", image(), ...missingStore()], code: 3, says: NO_STORE },
    ],
    "image protect": [
      { args: ["image", "protect", image(), "--json", ...store()], code: 0 },
      { args: ["image", "protect", "abcdef0123", "--json", ...store()], code: 2, says: /not found/ },
      { args: ["image", "protect", image(), "--json", ...missingStore()], code: 3, says: NO_STORE },
    ],
    "image unprotect": [
      { args: ["image", "unprotect", image(), "--json", ...store()], code: 0 },
      { args: ["image", "unprotect", "nothex", "--json", ...store()], code: 2, says: /not an image id/ },
      { args: ["image", "unprotect", image(), ...missingStore()], code: 3, says: NO_STORE },
    ],
    "image rm": [
      { args: ["image", "rm", "abcdef0123", "--json", ...store()], code: 2, says: /not found/ },
      { args: ["image", "rm", image(), "--json", ...missingStore()], code: 3, says: NO_STORE },
    ],
    prune: [
      { args: ["prune", "--keep-last", "100", "--dry-run", "--json", ...store()], code: 0 },
      { args: ["prune", "--keep-last", "-1", "--json", ...store()], code: 2, says: /'-1' is invalid/ },
      { args: ["prune", "--json", ...store()], code: 2, says: /give a policy/ },
      { args: ["prune", "--keep-last", "1", "--label", "Not OK", ...store()], code: 2, says: /label must be/ },
      { args: ["prune", "--keep-last", "1", ...missingStore()], code: 3, says: NO_STORE },
    ],
    check: [
      { args: ["check", "--read-data", "--json", ...store()], code: 0 },
      { args: ["check", "--read-data-subset", "10%", "--json", ...store()], code: 0 },
      { args: ["check", "--read-data-subset", "8/7", "--json", ...store()], code: 2, says: /not a subset: "8\/7"/ },
      { args: ["check", "--json", ...missingStore()], code: 3, says: NO_STORE },
    ],
    gc: [
      { args: ["gc", "--dry-run", "--json", ...store()], code: 0 },
      { args: ["gc", "--grace", "1x", "--json", ...store()], code: 2, says: /not a duration: "1x"/ },
      { args: ["gc", "--grace", "3600", ...store()], code: 2, says: /not a duration: "3600"/ },
      { args: ["gc", "--json", ...missingStore()], code: 3, says: NO_STORE },
    ],
    "image copy": [
      { args: ["image", "copy", "--all", "--to", out("copy"), "--json", ...store()], code: 0 },
      { args: ["image", "copy", "--to", out("copy"), "--json", ...store()], code: 2, says: /name what to copy/ },
      {
        args: ["image", "copy", "--all", "--to", out("copy"), "--to-key-file", out("enc.key"), "--json", ...store()],
        code: 2,
        says: /is not encrypted, but the key file/,
      },
      { args: ["image", "copy", "--all", "--to", out("copy"), "--json", ...missingStore()], code: 3, says: NO_STORE },
    ],
    init: [
      { args: ["init", "--encrypt", "--key-file", out("new.key"), "--store", out("new-store"), "--json"], code: 0 },
      {
        args: ["init", "--encrypt", "--store", out("other-store"), "--json"],
        code: 2,
        says: /--encrypt needs --key-file/,
      },
      { args: ["init", "--json", ...store()], code: 2, says: /already holds objects/ },
    ],
    "key list": [
      { args: ["key", "list", "--store", out("enc"), "--json"], code: 0 },
      { args: ["key", "list", "--json", ...store()], code: 2, says: /is not encrypted: it has no keys/ },
      { args: ["key", "list", "--json", ...missingStore()], code: 3, says: NO_STORE },
    ],
    "key add": [
      {
        args: ["key", "add", "--store", out("enc"), "--key-file", out("enc.key"), "--new-key-file", out("added.key")],
        code: 0,
      },
      {
        args: [
          "key",
          "add",
          "--store",
          out("enc"),
          "--key-file",
          out("nokey"),
          "--new-key-file",
          out("x.key"),
          "--json",
        ],
        code: 2,
        says: /key file .*nokey: no such file/,
      },
      {
        args: ["key", "add", "--store", out("enc"), "--new-key-file", out("x.key"), "--json"],
        code: 2,
        says: /unlock the store with --key-file/,
      },
    ],
    "key remove": [
      { args: ["key", "remove", "{OLDKEY}", "--store", out("enc"), "--key-file", out("enc.key"), "--json"], code: 0 },
      {
        args: ["key", "remove", "0000000000000000", "--store", out("enc"), "--key-file", out("enc.key"), "--json"],
        code: 2,
        says: /has no key 0000000000000000/,
      },
      {
        args: ["key", "remove", "0000000000000000", "--key-file", out("enc.key"), "--json", ...missingStore()],
        code: 3,
        says: NO_STORE,
      },
    ],
    "hosts list": [
      { args: ["hosts", "--json", ...redis()], code: 0 },
      { args: ["hosts", "list", "--json", ...redis()], code: 0 },
      { args: ["hosts", "--json", ...closed()], code: 3, says: UNREACHABLE },
      { args: ["hosts", "--redis", "http://x", "--json"], code: 2, says: /--redis <url>/ },
      { args: ["hosts", "--prefix", "Bad Prefix"], code: 2, says: /--prefix <prefix>/ },
    ],
    "hosts drain": [
      { args: ["hosts", "drain", "host-2", "--json", ...redis()], code: 0 },
      { args: ["hosts", "drain", "host-9", "--json", ...redis()], code: 2, says: /no host host-9 is registered/ },
      { args: ["hosts", "drain", "../x", ...redis()], code: 2, says: /invalid host id/ },
      { args: ["hosts", "drain", "host-2", "--json", ...closed()], code: 3, says: UNREACHABLE },
    ],
    "hosts undrain": [
      { args: ["hosts", "undrain", "host-2", "--json", ...redis()], code: 0 },
      { args: ["hosts", "undrain", "host-9", "--json", ...redis()], code: 2, says: /no host host-9 is registered/ },
      { args: ["hosts", "undrain", "../x", ...redis()], code: 2, says: /invalid host id/ },
      { args: ["hosts", "undrain", "--json", ...redis()], code: 2, says: /missing required argument 'host'/ },
      { args: ["hosts", "undrain", "host-2", "--json", ...closed()], code: 3, says: UNREACHABLE },
    ],
    "hosts forget": [
      { args: ["hosts", "forget", "host-1", "--json", ...redis()], code: 2, says: /host host-1 is up/ },
      { args: ["hosts", "forget", "host-9", "--json", ...redis()], code: 2, says: /no host host-9 is registered/ },
      { args: ["hosts", "forget", "host-2", "--json", ...closed()], code: 3, says: UNREACHABLE },
    ],
    domains: [
      { args: ["domains", "--json", ...redis()], code: 0 },
      { args: ["domains", "--host", "host-9", "--json", ...redis()], code: 2, says: /no host host-9 is registered/ },
      { args: ["domains", "--host", "../x", ...redis()], code: 2, says: /invalid host id/ },
      { args: ["domains", "--json", ...closed()], code: 3, says: UNREACHABLE },
    ],
    save: [
      { args: ["save", "host-1", "vm-a", "--json", ...redis(), ...store()], code: 0 },
      { args: ["save", "host-1", "vm-a", "--json", ...redis(), "--store", "main"], code: 0 },
      { args: ["save", "host-1", "vm-a", "--json", ...redis()], code: 0 },
      {
        args: ["save", "host-1", "vm-a", "--json", ...redis(), "--store", "s3://loot?endpoint=http://127.0.0.1:9"],
        code: 2,
        says: /s3:\/\/loot.* is not the location of one of them/,
      },
      { args: ["save", "host-1", "vm-a", ...redis(), "--store", "cold"], code: 2, says: /no store is named cold/ },
      {
        args: ["save", "host-1", "vm-a", "--json", ...redis(), "--store", "cold"],
        env: { XENFLEET_STORES: "main=/srv/images,cold=/srv/cold" },
        code: 0,
      },
      {
        args: ["save", "host-1", "no-vm", "--json", ...redis(), ...store()],
        code: 2,
        says: /host host-1 reports no domain "no-vm"/,
      },
      {
        args: ["save", "host-9", "vm-a", "--json", ...redis(), ...store()],
        code: 2,
        says: /no host host-9 is registered/,
      },
      { args: ["save", "host-3", "vm-c", "--json", ...redis(), ...store()], code: 3, says: /host host-3 is down/ },
      { args: ["save", "host-1", "vm-a", "--mode", "nap", ...redis()], code: 2, says: /'nap' is invalid/ },
      { args: ["save", "host-1", "vm-a", "--json", ...closed()], code: 3, says: UNREACHABLE },
    ],
    "batch-save": [
      { args: ["batch-save", "--hosts", "host-1", "--json", ...redis(), ...store()], code: 0 },
      { args: ["batch-save", "--hosts", "host-9", "--json", ...redis(), ...store()], code: 2, says: /host-9/ },
      { args: ["batch-save", "--label", "Nightly!", ...redis()], code: 2, says: /label must be/ },
      { args: ["batch-save", "--json", ...closed()], code: 3, says: UNREACHABLE },
    ],
    restore: [
      { args: ["restore", image(), "--host", "host-2", "--json", ...redis(), ...store()], code: 0 },
      { args: ["restore", image(), "--json", ...redis(), ...store()], code: 2, says: /required option '--host <id>'/ },
      {
        args: ["restore", "abcdef0123", "--host", "host-2", "--json", ...redis(), ...store()],
        code: 2,
        says: /not found/,
      },
      { args: ["restore", image(), "--host", "host-9", "--json", ...redis(), ...store()], code: 2, says: /host-9/ },
      { args: ["restore", image(), "--host", "host-3", "--json", ...redis(), ...store()], code: 3, says: /is down/ },
      // A fleet command's --store is a store's name; a location is refused unless it is a configured store's.
      {
        args: ["restore", image(), "--host", "host-2", "--json", ...redis(), ...missingStore()],
        code: 2,
        says: /--store of a fleet command is a store's name \(configured stores: main\)/,
      },
      { args: ["restore", image(), "--host", "host-2", "--json", ...redis(), "--store", "main"], code: 0 },
      { args: ["restore", image(), "--host", "host-2", "--json", ...closed(), ...store()], code: 3, says: UNREACHABLE },
      { args: ["restore", image(), "--host", "host-2", "--new-uuid", "--json", ...redis(), ...store()], code: 0 },
    ],
    clone: [
      {
        args: ["clone", image(), "--host", "host-2", "--name", "c", "--count", "2", "--json", ...redis(), ...store()],
        code: 0,
      },
      {
        args: ["clone", image(), "--host", "host-2", "--json", ...redis(), ...store()],
        code: 2,
        says: /required option '--name <name>'/,
      },
      {
        args: ["clone", image(), "--host", "host-2", "--name", "c", "--count", "0", ...redis()],
        code: 2,
        says: /at least 1/,
      },
      {
        args: ["clone", image(), "--host", "host-2", "--name", "c", "--count", "300", ...redis(), ...store()],
        code: 2,
        says: /more than 256 copies/,
      },
      {
        args: ["clone", image(), "--host", "host-3", "--name", "c", "--json", ...redis(), ...store()],
        code: 3,
        says: /is down/,
      },
      {
        args: ["clone", image(), "--host", "host-2", "--name", "c", ...closed(), ...store()],
        code: 3,
        says: UNREACHABLE,
      },
    ],
    "schedule nightly": [
      { args: ["schedule", "nightly", "--every", "6h", "--json", ...redis(), ...store()], code: 0 },
      { args: ["schedule", "nightly", "--cron", "0 2 * *", "--json", ...redis()], code: 2, says: /"0 2 \* \*"/ },
      { args: ["schedule", "nightly", "--cron", "61 * * * *", ...redis()], code: 2, says: /"61 \* \* \* \*"/ },
      { args: ["schedule", "nightly", "--cron", "0 2 * * *", "--tz", "Mars/Base", ...redis()], code: 2, says: /Mars/ },
      { args: ["schedule", "nightly", "--every", "3600000", "--json", ...redis()], code: 2, says: /not a duration/ },
      { args: ["schedule", "nightly", "--json", ...redis()], code: 2, says: /exactly one of --cron and --every/ },
      {
        args: ["schedule", "nightly", "--every", "1h", "--hosts", "host-9", "--json", ...redis()],
        code: 2,
        says: /host-9/,
      },
      { args: ["schedule", "nightly", "--every", "1h", "--json", ...closed()], code: 3, says: UNREACHABLE },
    ],
    "schedule verify": [
      {
        args: [
          "schedule",
          "verify",
          "--every",
          "1d",
          "--outdated-after",
          "30d",
          "--subset",
          "1/7",
          "--json",
          ...redis(),
        ],
        code: 0,
      },
      { args: ["schedule", "verify", "--cron", "0 2 * *", "--json", ...redis()], code: 2, says: /"0 2 \* \*"/ },
      { args: ["schedule", "verify", "--every", "1d", "--subset", "0/7", ...redis()], code: 2, says: /not a subset/ },
      {
        args: ["schedule", "verify", "--every", "1d", "--health-check-host", "host-9", "--json", ...redis()],
        code: 2,
        says: /host-9/,
      },
      { args: ["schedule", "verify", "--every", "1d", "--json", ...closed()], code: 3, says: UNREACHABLE },
    ],
    "verify-all": [
      { args: ["verify-all", "--outdated-after", "30d", "--subset", "10%", "--json", ...redis(), ...store()], code: 0 },
      { args: ["verify-all", "--outdated-after", "0", "--json", ...redis()], code: 2, says: /at least 1s/ },
      {
        args: ["verify-all", "--health-check-deadline", "5m", "--json", ...redis()],
        code: 2,
        says: /goes with --health-check-host/,
      },
      { args: ["verify-all", "--health-check-host", "host-3", "--json", ...redis()], code: 3, says: /is down/ },
      { args: ["verify-all", "--json", ...closed()], code: 3, says: UNREACHABLE },
    ],
    "image health-check": [
      {
        args: ["image", "health-check", image(), "--host", "host-9", "--json", ...redis(), ...store()],
        code: 2,
        says: /host-9/,
      },
      {
        args: ["image", "health-check", image(), "--host", "host-3", "--json", ...redis(), ...store()],
        code: 3,
        says: /is down/,
      },
      {
        args: ["image", "health-check", image(), "--host", "host-2", "--deadline", "500ms", ...redis(), ...store()],
        code: 2,
        says: /--deadline must be/,
      },
      {
        args: ["image", "health-check", image(), "--host", "host-2", "--json", ...closed(), ...store()],
        code: 3,
        says: UNREACHABLE,
      },
    ],
    "schedule list": [
      { args: ["schedule", "list", "--json", ...redis()], code: 0 },
      { args: ["schedule", "list", "--json", ...closed()], code: 3, says: UNREACHABLE },
    ],
    "schedule remove": [
      { args: ["schedule", "remove", "gc", "--json", ...redis()], code: 2, says: /no schedule gc is set/ },
      { args: ["schedule", "remove", "weekly", "--json", ...redis()], code: 2, says: /'weekly' is invalid/ },
      { args: ["schedule", "remove", "gc", "--json", ...closed()], code: 3, says: UNREACHABLE },
    ],
    status: [
      { args: ["status", "--json", ...redis()], code: 0 },
      { args: ["status", ...redis()], code: 0 },
      { args: ["status", "--json", ...closed()], code: 3, says: UNREACHABLE },
    ],
    migrate: [
      { args: ["migrate", "vm-a", "--to", "host-2", "--json", ...redis()], code: 0 },
      {
        args: ["migrate", "vm-a", "--to", "host-2", ...redis(), "--store", "main"],
        code: 2,
        says: /--store goes with --cold/,
      },
      { args: ["migrate", "no-vm", "--to", "host-2", "--json", ...redis()], code: 2, says: /a domain "no-vm"/ },
      { args: ["migrate", "vm-a", "--to", "host-9", "--json", ...redis()], code: 2, says: /host-9/ },
      { args: ["migrate", "vm-a", "--to", "host-3", "--json", ...redis()], code: 3, says: /host-3 is down/ },
      { args: ["migrate", "vm-a", "--to", "host-1", "--json", ...redis()], code: 2, says: /already runs on host-1/ },
      {
        args: ["migrate", "vm-a", "--to", "host-2", "--max-downtime", "300", ...redis()],
        code: 2,
        says: /not a duration/,
      },
      { args: ["migrate", "vm-a", "--to", "host-2", "--compress", "gzip", ...redis()], code: 2, says: /'gzip'/ },
      { args: ["migrate", "vm-a", "--json", ...redis()], code: 2, says: /required option '--to <host>'/ },
      { args: ["migrate", "vm-a", "--to", "host-2", "--json", ...closed()], code: 3, says: UNREACHABLE },
    ],
    evacuate: [
      { args: ["evacuate", "host-2", "--json", ...redis()], code: 0 },
      { args: ["evacuate", "host-9", "--json", ...redis()], code: 2, says: /no host host-9 is registered/ },
      { args: ["evacuate", "host-2", "--max-parallel", "0", ...redis()], code: 2, says: /at least 1/ },
      { args: ["evacuate", "host-2", "--attempts", "11", "--json", ...redis()], code: 2, says: /at most 10/ },
      { args: ["evacuate", "host-2", "--tag", "vm-a=ssd", "--json", ...redis()], code: 2, says: /--tag: .*"vm-a"/ },
      { args: ["evacuate", "host-2", "--json", ...closed()], code: 3, says: UNREACHABLE },
    ],
    up: [
      { args: ["up", "--hosts", "0", ...closed()], code: 2, says: /at least 1/ },
      { args: ["up", "--memory", "64Q", ...closed()], code: 2, says: /not a size/ },
      { args: ["up", "--json", ...closed()], code: 2, says: /--json goes with --detach/ },
      { args: ["up", "--detach", "--json", "--state-dir", out("up-state"), ...closed()], code: 3, says: UNREACHABLE },
    ],
    down: [
      { args: ["down", "--prefix", "{PREFIX}", "--state-dir", out("down-state"), "--json"], code: 2, says: /no fleet/ },
      { args: ["down", "--prefix", "Bad!"], code: 2, says: /--prefix <prefix>/ },
    ],
    "run-host": [
      { args: ["run-host"], code: 2, says: /XENFLEET_HOST/, env: { XENFLEET_HOST: "", XENFLEET_STORE: "file:///x" } },
      {
        args: ["run-host"],
        code: 2,
        says: /XENFLEET_HEARTBEAT_MS/,
        env: { XENFLEET_HOST: "h1", XENFLEET_STORE: "file:///x", XENFLEET_HEARTBEAT_MS: "soon" },
      },
      { args: ["run-host", "--sim-domains", "many"], code: 2, says: /'many' is invalid/ },
      // Where there is no Xen, the xen backend is refused at once with the reason, not left to the workers' logs.
      ...(IN_DOM0
        ? []
        : [
            {
              args: ["run-host"],
              code: 3 as const,
              says: /no Xen hypervisor available.*XF_XEN_UNAVAILABLE/,
              env: { XENFLEET_HOST: "h1", XENFLEET_STORE: "file:///x", XENFLEET_HYPERVISOR: "xen" },
            },
          ]),
    ],
    dashboard: [
      { args: ["dashboard", "--port", "0"], code: 2, says: /XENFLEET_DASHBOARD_TOKEN is not set/ },
      { args: ["dashboard", "--bind", "anywhere"], code: 2, says: /not an IP address/ },
      { args: ["dashboard", "--port", "70000"], code: 2, says: /not a port/ },
      {
        args: ["dashboard", "--port", "0", "--prefix", "{PREFIX}"],
        code: 2,
        says: /at least 16 characters.*XF_CONFIG_INVALID/,
        env: { XENFLEET_DASHBOARD_TOKEN: "short" },
      },
      {
        args: ["dashboard", "--port", "0", ...closed()],
        code: 3,
        says: UNREACHABLE,
        env: { XENFLEET_DASHBOARD_TOKEN: "0123456789abcdef0" },
      },
    ],
    demo: [
      { args: ["demo", "--pause", "5", "--json", ...closed()], code: 2, says: /not a duration/ },
      { args: ["demo", "--dashboard-port", "port", "--json", ...closed()], code: 2, says: /not a port/ },
      { args: ["demo", "--json", "--state-dir", out("demo-state"), ...closed()], code: 3, says: UNREACHABLE },
    ],
  };
}

function run(args: string[], env: Record<string, string> = {}): Promise<Outcome> {
  // Nothing of the fleet's configuration leaks in from the environment the tests run in; the
  // fleet's one store, main, is the fixture store (as the workers of a fleet would have it).
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("XENFLEET_")));
  const fleet = { XENFLEET_STORE: expand("{DIR}/store") };
  return xenfleet(args.map(expand), { cwd: fixtures.DIR, env: { ...base, ...fleet, ...env } });
}

function hostInfo(id: string, domains: Array<[string, string]>): HostInfo {
  return {
    v: 1,
    id,
    address: "127.0.0.1",
    memoryTotal: 8 * 2 ** 30,
    memoryFree: 4 * 2 ** 30,
    tags: [],
    domains: domains.map(([name, uuid]) => ({ name, uuid, memory: 64 * 2 ** 20, state: "running" as const })),
  };
}

/** Leaf commands by path ("image ls"), from the program itself. */
function commandsByPath(): Map<string, Command> {
  const program = buildProgram();
  const pathOf = (c: Command): string =>
    c.parent && c.parent !== program ? `${pathOf(c.parent)} ${c.name()}` : c.name();
  return new Map(
    allCommands(program)
      .filter((c) => c.commands.length === 0 && c.name() !== "help")
      .map((c) => [pathOf(c), c] as const),
  );
}

/** The error message of a JSON document on stdout, if that is what it holds. */
function messageIn(stdout: string): string {
  try {
    return String((JSON.parse(stdout) as { error?: { message?: unknown } }).error?.message ?? "");
  } catch {
    return "";
  }
}

const results = new Map<string, Outcome>();
const key = (c: Case) => JSON.stringify([c.args, c.env ?? {}]);

beforeAll(async () => {
  await buildCli();
  const dir = await mkdtemp(join(tmpdir(), "xenfleet-cli-conventions-"));
  fixtures.DIR = dir;
  fixtures.PORT = String(await closedPort());
  const chunks: Uint8Array[] = [];
  await writeSampleStream((c) => void chunks.push(Uint8Array.from(c)), { domainType: "x86-pv", pages: 300, seed: 2 });
  await writeFile(expand(f.stream()), Buffer.concat(chunks));
  await writeFile(expand(f.text()), "vm\n");
  const store = await LocalStore.open(join(dir, "store"));
  fixtures.IMAGE = (await importImage(store, [Buffer.concat(chunks)], { domain: "web" })).imageId;
  await store.close();
  // An encrypted store with two keys: enc.key, and one "key remove" removes.
  const inner = await openInnerStore(parseStoreUrl(join(dir, "enc"), {}));
  try {
    await initStore(inner, { encrypt: { file: join(dir, "enc.key") } });
    const { keys } = await unlockStore(inner, { file: join(dir, "enc.key") });
    const old = await createKeyFile(join(dir, "old.key"));
    fixtures.OLDKEY = (await keys!.ring.add(keys!.masterKey, { kind: "file", file: old })).id;
  } finally {
    await inner.close();
  }
  // The registry: host-1 and host-2 up, host-3 registered but down (its heartbeat lapsed).
  const redis = createRedis(REDIS_URL, "producer", `${prefix}-test`);
  try {
    await heartbeat(redis, prefix, hostInfo("host-1", [["vm-a", UUID]]), 600_000);
    await heartbeat(redis, prefix, hostInfo("host-2", []), 600_000);
    await heartbeat(redis, prefix, hostInfo("host-3", [["vm-c", UUID.replace(/a$/, "c")]]), 1);
  } finally {
    await redis.quit();
  }
  await new Promise((r) => setTimeout(r, 50));

  // Three at a time: the machine is shared.
  const cases = Object.values(table()).flat();
  let next = 0;
  await Promise.all(
    [0, 1, 2].map(async () => {
      while (next < cases.length) {
        const c = cases[next++]!;
        results.set(key(c), await run(c.args, c.env));
      }
    }),
  );
}, 600_000);

afterAll(async () => {
  const redis = createRedis(REDIS_URL, "producer", `${prefix}-cleanup`);
  await deletePrefix(redis, prefix);
  await redis.quit();
  if (fixtures.DIR) await rm(fixtures.DIR, { recursive: true, force: true });
});

describe("an error nobody raised on purpose", () => {
  /** reportError's output and exit code, with the environment given. */
  function report(error: unknown, json: boolean, env: NodeJS.ProcessEnv = {}) {
    let stdout = "";
    let stderr = "";
    const out = vi.spyOn(process.stdout, "write").mockImplementation((s) => ((stdout += String(s)), true));
    const err = vi.spyOn(process.stderr, "write").mockImplementation((s) => ((stderr += String(s)), true));
    try {
      return { code: reportError(error, json, env), stdout, stderr };
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  }

  it("is one line and a hint, exit code 1; its stack only with XENFLEET_DEBUG=1", () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'id')");
    const plain = report(bug, false);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toBe(
      "xenfleet: internal error: Cannot read properties of undefined (reading 'id')\n" +
        "  (set XENFLEET_DEBUG=1 for the stack trace, and please report it)\n",
    );
    expect(report(bug, false, { XENFLEET_DEBUG: "1" }).stderr).toMatch(/^\s+at /m);
    const json = report(bug, true);
    expect(JSON.parse(json.stdout)).toEqual({
      ok: false,
      error: { code: "XF_CLI_INTERNAL", message: "Cannot read properties of undefined (reading 'id')" },
    });
    expect(json.stderr).toBe("");
  });
});

describe("every command keeps the conventions", () => {
  it("has a row for every command of the program, and no row for a command it lacks", () => {
    const rows = Object.keys(table()).filter((k) => k !== "(program)");
    expect(rows.sort()).toEqual([...commandsByPath().keys()].sort());
  });

  it("runs every command that reports anything with --json at least once", () => {
    const withJson = [...commandsByPath()]
      .filter(([, command]) => command.options.some((o) => o.long === "--json"))
      .map(([path]) => path);
    expect(withJson.length).toBeGreaterThan(20);
    const rows = table();
    for (const path of withJson)
      expect(
        rows[path]!.some((c) => c.args.includes("--json")),
        path,
      ).toBe(true);
  });

  const cases = Object.entries(table()).flatMap(([path, rows]) =>
    rows.map((c) => [`${path}: ${c.args.join(" ")} -> exit ${c.code}`, c] as const),
  );
  it.each(cases)("%s", (_name, c) => {
    const r = results.get(key(c))!;
    const output = `${r.stdout}\n${r.stderr}`;
    expect(output, "a stack trace").not.toMatch(/^\s+at /m);
    expect(r.code, output).toBe(c.code);
    // The message, on stderr or (with --json) in the document.
    if (c.says) expect(`${output}\n${messageIn(r.stdout)}`).toMatch(c.says);
    if (!c.args.includes("--json")) return;
    // Exactly one JSON document: the whole of stdout parses, as one object.
    const doc = JSON.parse(r.stdout) as { ok?: unknown; error?: { code?: unknown; message?: unknown } };
    expect(typeof doc).toBe("object");
    expect(doc.ok).toBe(c.code === 0);
    if (c.code !== 0) {
      expect(doc.error?.code).toMatch(/^XF_[A-Z0-9]+_[A-Z0-9_]+$/);
      expect(typeof doc.error?.message).toBe("string");
    } else expect(doc.error).toBeUndefined();
  });
});
