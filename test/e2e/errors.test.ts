/**
 * Every error class of every package, in one table: its code (one scheme,
 * `XF_<AREA>_<WHAT>`), its message for representative arguments, whether a
 * retry could help, its name. The exports of every package are walked at run
 * time, so an error class without a row here fails the test, and so does a
 * code that two classes share.
 */
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  ERROR_CODE_PATTERN,
  InvalidDurationError,
  InvalidSizeError,
  OperationAbortedError,
  PollTimeoutError,
  XenfleetError,
} from "@xenfleet/core";
import { FormatError, RecordError, StreamError } from "@xenfleet/format";
import { LegacyDetectError, LegacyError, LegacyStreamError } from "@xenfleet/format/legacy";
import {
  CorruptObjectError,
  InvalidContentIdError,
  InvalidKeyError,
  InvalidRangeError,
  InvalidStoreUrlError,
  ObjectNotFoundError,
  PackEntryNotFoundError,
  RefConflictError,
  StoreMissingError,
  StoreRequestError,
  StoreUnavailableError,
  UnsupportedPackError,
  KeyFileError,
  KeyRingError,
  InvalidMasterKeyError,
  NotEncryptedObjectError,
  ObjectAuthenticationError,
  ObjectMovedError,
  StoreExistsError,
  StoreKeyMissingError,
  StoreNotEncryptedError,
  UnsupportedStoreError,
  WrongKeyError,
} from "@xenfleet/store";
import { DeltaFormatError, LibxlError, NativeArgumentError, XenUnavailableError } from "@xenfleet/native";
import {
  ImageAbortedError,
  ImageCorruptError,
  ImageNotFoundError,
  ImageObjectMissingError,
  ImageUsageError,
  LockLostError,
  StoreLockedError,
  UnsupportedFormatError,
} from "@xenfleet/image";
import {
  BadDomainUuidError,
  DomainBusyError,
  DomainExistsError,
  DomainNotFoundError,
  InsufficientMemoryError,
  MigrationStateError,
  MigrationTimeoutError,
  NotSupportedError,
  SimStateError,
  StreamContentError,
} from "@xenfleet/hypervisor";
import { ConfigError, InvalidHostIdError, InvalidJobError, JobNotFoundError } from "@xenfleet/jobs";
import { NoRoomError } from "@xenfleet/transfer";
import { MigrationFailedError, OutcomeConflictError, TokenRejectedError, WireFormatError } from "@xenfleet/migration";
import { InvalidCronError, UnknownHostError, UnknownStoreError } from "@xenfleet/fleet";
import {
  CannotWriteError,
  HostDownError,
  NotFoundError,
  RedisUnreachableError,
  UsageError,
  UuidInUseError,
  WorkFailedError,
} from "@xenfleet/cli";

// biome-ignore lint/suspicious/noExplicitAny: any error class, whatever its constructor takes
type ErrorClass = abstract new (...args: any[]) => Error;

interface Row {
  error: XenfleetError;
  code: string;
  message: string;
  unrecoverable: boolean;
}

const GiB = 2 ** 30;
const MiB = 2 ** 20;

const ROWS: Row[] = [
  // core
  { error: new OperationAbortedError("save"), code: "XF_CORE_ABORTED", message: "save aborted", unrecoverable: false },
  {
    error: new InvalidSizeError("lots"),
    code: "XF_CORE_BAD_SIZE",
    message: 'not a size: "lots" (examples: 16M, 256MiB, 1.5 GiB, 4096)',
    unrecoverable: true,
  },
  {
    error: new InvalidDurationError("soon"),
    code: "XF_CORE_BAD_DURATION",
    message: 'not a duration: "soon" (examples: 500ms, 30s, 15m, 1h, 7d)',
    unrecoverable: true,
  },
  {
    error: new PollTimeoutError("the lock", 1500),
    code: "XF_CORE_TIMEOUT",
    message: "timed out after 1.5 s waiting for the lock",
    unrecoverable: false,
  },

  // format
  {
    error: new StreamError({ reason: "truncated", offset: 16, layer: "libxc", expected: "a record header" }),
    code: "XF_FORMAT_STREAM",
    message: "libxc at offset 16: truncated: expected a record header",
    unrecoverable: true,
  },
  {
    error: new RecordError({
      reason: "bad-length",
      offset: 24,
      layer: "libxc",
      recordType: 8,
      recordName: "X86_TSC_INFO",
      expected: "24 bytes",
      actual: "16",
    }),
    code: "XF_FORMAT_RECORD",
    message: "libxc record X86_TSC_INFO (0x00000008) at offset 24: bad-length: expected 24 bytes, got 16",
    unrecoverable: true,
  },
  {
    error: new LegacyStreamError({ reason: "truncated", offset: 40, part: "page batch", expected: "4 bytes" }),
    code: "XF_LEGACY_STREAM",
    message: "legacy page batch at offset 40: truncated: expected 4 bytes",
    unrecoverable: true,
  },
  {
    error: new LegacyDetectError({
      reason: "undecidable",
      offset: 0,
      part: "p2m size",
      expected: "one reading",
      actual: "both",
    }),
    code: "XF_LEGACY_DETECT",
    message: "legacy p2m size at offset 0: undecidable: expected one reading, got both",
    unrecoverable: true,
  },

  // store
  {
    error: new ObjectNotFoundError("packs/ab/abc"),
    code: "XF_STORE_NOT_FOUND",
    message: "object not found: packs/ab/abc",
    unrecoverable: true,
  },
  {
    error: new StoreUnavailableError("get", "k/1", "HTTP 503"),
    code: "XF_STORE_UNAVAILABLE",
    message: "store unavailable during get of k/1: HTTP 503",
    unrecoverable: false,
  },
  {
    error: new StoreRequestError("put", "k/1", "AccessDenied"),
    code: "XF_STORE_REFUSED",
    message: "store refused put of k/1: AccessDenied",
    unrecoverable: true,
  },
  {
    error: new InvalidKeyError("../x", "dot-dot"),
    code: "XF_STORE_BAD_KEY",
    message: 'invalid key "../x": dot-dot',
    unrecoverable: true,
  },
  {
    error: new InvalidRangeError("k/1", "offset -1"),
    code: "XF_STORE_BAD_RANGE",
    message: "invalid byte range for k/1: offset -1",
    unrecoverable: true,
  },
  {
    error: new CorruptObjectError("packs/ab/abc", "bad hash", 42),
    code: "XF_STORE_CORRUPT",
    message: "corrupt object packs/ab/abc at byte 42: bad hash",
    unrecoverable: true,
  },
  {
    error: new UnsupportedPackError("packs/ab/abc", "version 9"),
    code: "XF_PACK_UNSUPPORTED",
    message: "unsupported pack packs/ab/abc: version 9",
    unrecoverable: true,
  },
  {
    error: new PackEntryNotFoundError("packs/ab/abc", "ff00"),
    code: "XF_PACK_NO_ENTRY",
    message: "pack packs/ab/abc has no entry ff00",
    unrecoverable: true,
  },
  {
    error: new RefConflictError("domains/web1", null, "v2"),
    code: "XF_STORE_REF_CONFLICT",
    message: "ref domains/web1 changed: expected absent, found version v2",
    unrecoverable: false,
  },
  {
    error: new InvalidStoreUrlError("gs://x", "unknown scheme"),
    code: "XF_STORE_BAD_URL",
    message: 'invalid store URL "gs://x": unknown scheme',
    unrecoverable: true,
  },
  {
    error: new StoreMissingError("/srv/stor", "no such directory"),
    code: "XF_STORE_MISSING",
    message: "no store at /srv/stor: no such directory",
    unrecoverable: true,
  },
  {
    error: new InvalidContentIdError("zz", "not hex"),
    code: "XF_STORE_BAD_CONTENT_ID",
    message: 'invalid content id "zz": not hex',
    unrecoverable: true,
  },
  // encrypted stores and their keys
  {
    error: new StoreKeyMissingError("/srv/enc"),
    code: "XF_KEY_MISSING",
    message:
      "store /srv/enc is encrypted and no key was given: name its key file with --key-file FILE or XENFLEET_KEY_FILE=FILE (a worker: XENFLEET_KEY_FILE, or XENFLEET_STORE_<NAME>_KEY_FILE for one store), or give its passphrase in XENFLEET_PASSPHRASE",
    unrecoverable: true,
  },
  {
    error: new WrongKeyError("the key file /k", "/srv/enc", "no wrapping"),
    code: "XF_KEY_WRONG",
    message: "the key file /k does not unlock store /srv/enc: no wrapping",
    unrecoverable: true,
  },
  {
    error: new KeyFileError("/k", "no such file"),
    code: "XF_KEY_FILE",
    message: "key file /k: no such file",
    unrecoverable: true,
  },
  {
    error: new StoreNotEncryptedError("/srv/plain", "the key file /k"),
    code: "XF_KEY_PLAIN_STORE",
    message:
      "store /srv/plain is not encrypted, but the key file /k was given; an encrypted store is made with `xenfleet init --encrypt` and filled with `xenfleet image copy`",
    unrecoverable: true,
  },
  {
    error: new KeyRingError("key 0123456789abcdef is the last key of store /srv/enc; not removed"),
    code: "XF_KEY_REFUSED",
    message: "key 0123456789abcdef is the last key of store /srv/enc; not removed",
    unrecoverable: true,
  },
  {
    error: new UnsupportedStoreError("/srv/x", "xenfleet-store.json has version 9"),
    code: "XF_STORE_UNSUPPORTED",
    message: "store /srv/x: xenfleet-store.json has version 9",
    unrecoverable: true,
  },
  {
    error: new StoreExistsError("/srv/x", "already has a header: it was made before"),
    code: "XF_STORE_EXISTS",
    message: "store /srv/x already has a header: it was made before",
    unrecoverable: true,
  },
  {
    error: new ObjectAuthenticationError("packs/ab/x", "segment 0 does not authenticate"),
    code: "XF_STORE_AUTH_FAILED",
    message: "object packs/ab/x failed authentication: segment 0 does not authenticate",
    unrecoverable: true,
  },
  {
    error: new ObjectMovedError("packs/ab/x"),
    code: "XF_STORE_OBJECT_MOVED",
    message: "object packs/ab/x was written under another name and moved here: refused",
    unrecoverable: true,
  },
  {
    error: new NotEncryptedObjectError("packs/ab/x", "no magic"),
    code: "XF_STORE_NOT_ENCRYPTED",
    message: "object packs/ab/x is not an encrypted object (no magic): is the store encrypted?",
    unrecoverable: true,
  },
  {
    error: new InvalidMasterKeyError(16),
    code: "XF_STORE_BAD_MASTER_KEY",
    message: "an encrypted store's master key is 32 bytes, not 16",
    unrecoverable: true,
  },

  // native
  {
    error: new NativeArgumentError("pages must be a Buffer"),
    code: "XF_NATIVE_BAD_ARGUMENT",
    message: "pages must be a Buffer",
    unrecoverable: true,
  },
  {
    error: new DeltaFormatError("run past the end of the page", 12),
    code: "XF_NATIVE_BAD_DELTA",
    message: "run past the end of the page",
    unrecoverable: true,
  },
  {
    error: new XenUnavailableError("no Xen hypervisor available"),
    code: "XF_XEN_UNAVAILABLE",
    message: "no Xen hypervisor available",
    unrecoverable: true,
  },
  {
    error: new LibxlError("domain 7 is gone", {
      op: "save",
      step: "libxl_domain_suspend",
      rc: -21,
      rcName: "DOMAIN_NOTFOUND",
    }),
    code: "XF_XEN_LIBXL_FAILED",
    message: "domain 7 is gone",
    unrecoverable: true,
  },
  {
    error: new LibxlError("suspend failed", { op: "save", step: "libxl_domain_suspend", rc: -3, rcName: "FAIL" }),
    code: "XF_XEN_LIBXL_FAILED",
    message: "suspend failed",
    unrecoverable: false,
  },

  // image
  {
    error: new ImageNotFoundError("abc"),
    code: "XF_IMAGE_NOT_FOUND",
    message: "image abc not found",
    unrecoverable: true,
  },
  {
    error: new ImageObjectMissingError("abc", "packs/ab/abc"),
    code: "XF_IMAGE_OBJECT_MISSING",
    message: "image abc: object packs/ab/abc is missing",
    unrecoverable: true,
  },
  {
    error: new ImageCorruptError("abc", "packs/ab/abc", "page 3 hash mismatch"),
    code: "XF_IMAGE_CORRUPT",
    message: "image abc: corrupt object packs/ab/abc: page 3 hash mismatch",
    unrecoverable: true,
  },
  {
    error: new UnsupportedFormatError("images/abc", "version 9"),
    code: "XF_IMAGE_UNSUPPORTED",
    message: "unsupported object images/abc: version 9",
    unrecoverable: true,
  },
  {
    error: new StoreLockedError(["gc@host-1"], "a sweep is running"),
    code: "XF_LOCK_HELD",
    message: "store locked: a sweep is running (held by gc@host-1)",
    unrecoverable: false,
  },
  {
    error: new LockLostError("locks/import-1", "not refreshed for 90000 ms"),
    code: "XF_LOCK_LOST",
    message: "lock locks/import-1 lost: not refreshed for 90000 ms",
    unrecoverable: false,
  },
  { error: new ImageAbortedError("export"), code: "XF_IMAGE_ABORTED", message: "export aborted", unrecoverable: false },
  {
    error: new ImageUsageError("not a domain name: empty"),
    code: "XF_IMAGE_USAGE",
    message: "not a domain name: empty",
    unrecoverable: true,
  },

  // hypervisor
  {
    error: new DomainNotFoundError("web1"),
    code: "XF_DOMAIN_NOT_FOUND",
    message: 'no domain "web1" on this host',
    unrecoverable: true,
  },
  {
    error: new BadDomainUuidError("../../tmp/x"),
    code: "XF_DOMAIN_BAD_UUID",
    message: 'domain uuid "../../tmp/x" is not a GUID (8-4-4-4-12 hex digits)',
    unrecoverable: true,
  },
  {
    error: new DomainExistsError("name", "web1"),
    code: "XF_DOMAIN_EXISTS",
    message: 'a domain with name "web1" already exists on this host',
    unrecoverable: true,
  },
  {
    error: new DomainBusyError("/run/xenfleet/web1.lock", 42),
    code: "XF_DOMAIN_BUSY",
    message: "domain is busy: /run/xenfleet/web1.lock held by pid 42",
    unrecoverable: false,
  },
  {
    error: new InsufficientMemoryError(2048, 1024),
    code: "XF_HYPERVISOR_NO_MEMORY",
    message: "host has 1024 bytes free, domain needs 2048",
    unrecoverable: false,
  },
  {
    error: new StreamContentError("page 9 is beyond the domain's memory"),
    code: "XF_HYPERVISOR_BAD_STREAM",
    message: "page 9 is beyond the domain's memory",
    unrecoverable: true,
  },
  {
    error: new MigrationTimeoutError(30000, 12),
    code: "XF_HYPERVISOR_PRECOPY_TIMEOUT",
    message: "pre-copy did not converge within 30000 ms (12 iterations)",
    unrecoverable: false,
  },
  {
    error: new MigrationStateError("migration already committed or aborted"),
    code: "XF_HYPERVISOR_MIGRATION_STATE",
    message: "migration already committed or aborted",
    unrecoverable: true,
  },
  {
    error: new SimStateError("not a sim state directory: /tmp/x"),
    code: "XF_SIM_BAD_STATE",
    message: "not a sim state directory: /tmp/x",
    unrecoverable: true,
  },
  {
    error: new NotSupportedError("xen", "digest", "the addon binds no call for it"),
    code: "XF_HYPERVISOR_UNSUPPORTED",
    message: "xen backend cannot digest: the addon binds no call for it",
    unrecoverable: true,
  },

  // jobs
  {
    error: new InvalidJobError("save", 2, "unknown field"),
    code: "XF_JOB_INVALID",
    message: "invalid save job (v2): unknown field",
    unrecoverable: true,
  },
  {
    error: new JobNotFoundError("save@h1", "42"),
    code: "XF_JOB_NOT_FOUND",
    message: "no job 42 on queue save@h1",
    unrecoverable: true,
  },
  {
    error: new InvalidHostIdError("../etc"),
    code: "XF_HOST_BAD_ID",
    message:
      "invalid host id \"../etc\": use 1-63 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit",
    unrecoverable: true,
  },
  {
    error: new ConfigError("XENFLEET_REDIS: not a URL"),
    code: "XF_CONFIG_INVALID",
    message: "XENFLEET_REDIS: not a URL",
    unrecoverable: true,
  },

  // transfer
  {
    error: new NoRoomError("host-4", 2 * GiB, 512 * MiB),
    code: "XF_HOST_NO_ROOM",
    message: "host host-4 has no room: 512.0 MiB free, the domain needs 2.0 GiB",
    unrecoverable: true,
  },

  // migration
  {
    error: new WireFormatError("checksum", 4096, "frame 3 checksum mismatch"),
    code: "XF_MIGRATION_WIRE",
    message: "migration stream refused at byte 4096 (checksum): frame 3 checksum mismatch",
    unrecoverable: true,
  },
  {
    error: new TokenRejectedError("expired"),
    code: "XF_MIGRATION_TOKEN",
    message: "migration token refused: expired",
    unrecoverable: true,
  },
  {
    error: new MigrationFailedError("the peer closed the connection"),
    code: "XF_MIGRATION_FAILED",
    message: "the peer closed the connection",
    unrecoverable: false,
  },
  {
    error: new OutcomeConflictError("the outcome names another receiver"),
    code: "XF_MIGRATION_OUTCOME",
    message: "the outcome names another receiver",
    unrecoverable: true,
  },

  // fleet
  {
    error: new InvalidCronError("0 2 * *", "4 fields; use 5 (minute hour day month weekday) or 6"),
    code: "XF_SCHEDULE_BAD_CRON",
    message: 'not a cron expression: "0 2 * *" (4 fields; use 5 (minute hour day month weekday) or 6)',
    unrecoverable: true,
  },

  // cli
  {
    error: new UsageError("give exactly one of --cron and --every"),
    code: "XF_CLI_USAGE",
    message: "give exactly one of --cron and --every",
    unrecoverable: true,
  },
  {
    error: new NotFoundError("domain", "web-9"),
    code: "XF_CLI_NOT_FOUND",
    message: 'no domain "web-9"',
    unrecoverable: true,
  },
  {
    error: new RedisUnreachableError("redis://:secret@127.0.0.1:1", "connect ECONNREFUSED"),
    code: "XF_CLI_REDIS_UNREACHABLE",
    message: "cannot reach Redis at redis://:***@127.0.0.1:1/0 (connect ECONNREFUSED)",
    unrecoverable: false,
  },
  {
    error: new HostDownError("host-3"),
    code: "XF_CLI_HOST_DOWN",
    message: "host host-3 is down (its heartbeat lapsed); it gets no new work",
    unrecoverable: false,
  },
  {
    error: new WorkFailedError("2 of 8 saves failed"),
    code: "XF_CLI_WORK_FAILED",
    message: "2 of 8 saves failed",
    unrecoverable: true,
  },
  {
    error: new CannotWriteError("/srv/out.xl", "permission denied"),
    code: "XF_CLI_CANNOT_WRITE",
    message: "cannot write /srv/out.xl: permission denied",
    unrecoverable: true,
  },
  {
    error: new UuidInUseError("7b3e2f1c-0d4a-4e5b-9c6d-1a2b3c4d5e6f", "host-1", "web-1"),
    code: "XF_CLI_UUID_IN_USE",
    message:
      "domain 7b3e2f1c-0d4a-4e5b-9c6d-1a2b3c4d5e6f already runs on host-1 (as web-1); restore with --new-uuid for a copy with its own uuid and name",
    unrecoverable: true,
  },
  {
    error: new UnknownStoreError("s3://loot?endpoint=http://127.0.0.1:9", ["main"]),
    code: "XF_FLEET_UNKNOWN_STORE",
    message:
      "the job names store URL (s3:), which this worker is not configured with (its stores: main; set XENFLEET_STORES=name=url,...)",
    unrecoverable: true,
  },
];

/** Errors that carry a code without being XenfleetErrors; they follow the same scheme. */
const OTHER_CODED: Array<{ error: Error & { code: string }; code: string; message: string }> = [
  {
    error: new UnknownHostError(["host-9", "host-10"]),
    code: "XF_HOST_UNKNOWN",
    message: "no such host registered: host-9, host-10",
  },
];

/** Exported base classes that are never thrown themselves. */
const BASES: ErrorClass[] = [XenfleetError, FormatError, LegacyError];

/** Pairs of classes meant to be the same error under two names; none today. */
const SHARED_CODES: Array<[ErrorClass, ErrorClass]> = [];

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Every import specifier the workspace packages export: "@xenfleet/x", "@xenfleet/x/legacy", ... */
function exportedSpecifiers(): string[] {
  const dir = join(root, "packages");
  return readdirSync(dir)
    .filter((name) => existsSync(join(dir, name, "package.json")))
    .flatMap((name) => {
      const pkg = JSON.parse(readFileSync(join(dir, name, "package.json"), "utf8")) as {
        name: string;
        exports?: Record<string, unknown>;
      };
      return Object.keys(pkg.exports ?? { ".": null }).map((sub) => pkg.name + sub.slice(1));
    });
}

function extendsError(value: unknown): value is ErrorClass {
  return typeof value === "function" && value.prototype instanceof Error;
}

/** Exported classes (in namespaces too) that extend Error, with where they were found. */
function errorClassesIn(module: object, from: string, found: Map<ErrorClass, string>, depth = 0): void {
  for (const [name, value] of Object.entries(module)) {
    if (extendsError(value)) {
      if (!found.has(value)) found.set(value, `${from} ${name}`);
    } else if (
      depth < 2 &&
      typeof value === "object" &&
      value !== null &&
      Object.prototype.toString.call(value) === "[object Module]"
    ) {
      errorClassesIn(value, `${from} ${name}.`, found, depth + 1);
    }
  }
}

describe("error classes", () => {
  it.each(ROWS.map((row) => [row.error.constructor.name, row] as const))("%s", (name, row) => {
    const { error } = row;
    expect(error).toBeInstanceOf(XenfleetError);
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toMatch(ERROR_CODE_PATTERN);
    expect(error.code).toBe(row.code);
    expect(error.message).toBe(row.message);
    expect(error.unrecoverable).toBe(row.unrecoverable);
    expect(error.name).toBe(name);
  });

  it.each(OTHER_CODED.map((row) => [row.error.constructor.name, row] as const))(
    "%s (not a XenfleetError) follows the code scheme",
    (_name, row) => {
      expect(row.error.code).toMatch(ERROR_CODE_PATTERN);
      expect(row.error.code).toBe(row.code);
      expect(row.error.message).toBe(row.message);
    },
  );

  it("has a row for every error class any package exports", async () => {
    const found = new Map<ErrorClass, string>();
    const specifiers = exportedSpecifiers();
    expect(specifiers).toEqual(
      expect.arrayContaining(["@xenfleet/core", "@xenfleet/format/legacy", "@xenfleet/store/testing"]),
    );
    for (const specifier of specifiers) errorClassesIn(await import(specifier), specifier, found);

    const covered = new Set<ErrorClass>([
      ...BASES,
      ...ROWS.map((row) => row.error.constructor as ErrorClass),
      ...OTHER_CODED.map((row) => row.error.constructor as ErrorClass),
    ]);
    const missing = [...found].filter(([cls]) => !covered.has(cls)).map(([, where]) => where);
    expect(missing, "exported error classes without a row in this table").toEqual([]);
    // And the table names nothing that is no longer exported.
    const stale = [...covered].filter((cls) => !found.has(cls)).map((cls) => cls.name);
    expect(stale, "rows for classes no package exports").toEqual([]);
    // A sanity check that the walk saw the whole tree.
    expect(found.size).toBeGreaterThanOrEqual(covered.size);
  });

  it("gives each class its own code", () => {
    const byCode = new Map<string, Set<ErrorClass>>();
    const rows = [...ROWS, ...OTHER_CODED];
    for (const { error } of rows) {
      const classes = byCode.get(error.code) ?? new Set<ErrorClass>();
      classes.add(error.constructor as ErrorClass);
      byCode.set(error.code, classes);
    }
    const shared = [...byCode]
      .filter(([, classes]) => classes.size > 1)
      .filter(([, classes]) => {
        const [a, b, ...rest] = [...classes];
        return rest.length > 0 || !SHARED_CODES.some(([x, y]) => (x === a && y === b) || (x === b && y === a));
      })
      .map(([code, classes]) => `${code}: ${[...classes].map((c) => c.name).join(", ")}`);
    expect(shared).toEqual([]);
  });
});
