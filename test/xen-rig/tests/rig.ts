/**
 * What the rig's tests share: guests booted with `xl` from Debian's kernel
 * and the busybox heartbeat initramfs, their console output (xenconsoled logs
 * it), Xen's own tools, and the timings file the rig reports.
 */
import { execFile, execFileSync } from "node:child_process";
import { appendFileSync, existsSync } from "node:fs";
import { appendFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { MAX_ENVIRONMENT_RETRIES } from "@xenfleet/hypervisor/testing";

const run = promisify(execFile);

export const XL = "/usr/lib/xen-4.17/bin/xl";
export const VERIFY_STREAM_V2 = "/usr/lib/xen-4.17/bin/verify-stream-v2";
/** Where Debian installs the Python modules verify-stream-v2 imports. */
export const XEN_PYTHONPATH = "/usr/lib/xen-4.17/lib/python";
export const GUEST_KERNEL = "/var/lib/xenfleet-rig/vmlinuz";
export const GUEST_RAMDISK = "/var/lib/xenfleet-rig/guest.cpio";
export const CONSOLE_LOGS = "/var/log/xen/console";
export const OUT = process.env.RIG_OUT ?? "/tmp";
export const WORK = "/tmp/xen-rig-work";
export const MiB = 2 ** 20;
/** Debian's kernel needs this much to boot. */
export const GUEST_MEMORY_MIB = 128;

/** True inside the rig's dom0 (run.sh), where a hypervisor answers. */
export const onXen = process.env.XEN_RIG === "1" && (existsSync("/dev/xen/privcmd") || existsSync("/proc/xen/privcmd"));

export type GuestType = "pv" | "pvh";

export async function xl(...args: string[]): Promise<string> {
  const { stdout } = await run(XL, args, { maxBuffer: 16 * MiB });
  return stdout;
}

/** Runs a program (no shell); resolves to its exit code and output. */
export async function exec(
  file: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(file, args, { maxBuffer: 16 * MiB, env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: unknown; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? e.message };
  }
}

export async function workFile(name: string): Promise<string> {
  await mkdir(WORK, { recursive: true });
  return join(WORK, name);
}

/**
 * Removes the tests' scratch files. dom0's root is an initramfs in RAM: a few
 * 128 MiB images left behind fill it (and then libxl cannot even store a new
 * domain's config).
 */
export async function clearWork(): Promise<void> {
  await rm(WORK, { recursive: true, force: true });
}

/** Boots a guest with `xl create` and waits for its second heartbeat. */
export async function createGuest(name: string, type: GuestType, memoryMiB = GUEST_MEMORY_MIB): Promise<void> {
  if (!/^[A-Za-z0-9-]+$/.test(name)) throw new Error(`guest name ${name} is not [A-Za-z0-9-]+`);
  const config = [
    `name = "${name}"`,
    `type = "${type}"`,
    `memory = ${memoryMiB}`,
    `maxmem = ${memoryMiB}`,
    "vcpus = 1",
    `kernel = "${GUEST_KERNEL}"`,
    `ramdisk = "${GUEST_RAMDISK}"`,
    'extra = "console=hvc0 quiet"',
    'on_crash = "preserve"',
    'on_reboot = "destroy"',
    'on_poweroff = "destroy"',
  ].join("\n");
  const file = await workFile(`${name}.cfg`);
  await writeFile(file, config + "\n");
  const started = performance.now();
  await xl("create", file);
  await waitForHeartbeat(name, 1);
  await timing("guest boot (xl create to 2nd heartbeat)", performance.now() - started, { type, memoryMiB });
}

/** Every heartbeat number the guest named `name` printed, in order, across restores. */
export async function heartbeats(name: string): Promise<number[]> {
  let text = "";
  try {
    text = await readFile(join(CONSOLE_LOGS, `guest-${name}.log`), "utf8");
  } catch {
    return [];
  }
  return [...text.matchAll(/xenfleet-heartbeat (\d+)/g)].map((m) => Number(m[1]));
}

export async function lastHeartbeat(name: string): Promise<number> {
  return (await heartbeats(name)).at(-1) ?? 0;
}

/**
 * Waits until the guest prints a heartbeat numbered above `above`, or fails
 * after `limitMs` with the tail of its console (a bound against hangs: the
 * rig runs under emulation, so it is generous).
 */
export async function waitForHeartbeat(name: string, above: number, limitMs = 240_000): Promise<number> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const last = await lastHeartbeat(name);
    if (last > above) return last;
    if (Date.now() > deadline) {
      let tail = "";
      try {
        tail = (await readFile(join(CONSOLE_LOGS, `guest-${name}.log`), "utf8")).slice(-2000);
      } catch {
        tail = "(no console log)";
      }
      throw new Error(`guest ${name} printed no heartbeat above ${above}; console tail:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Heartbeats printed after the first `before` ones: what a restored guest
 * printed. A guest that continued where it stopped goes on counting; a
 * rebooted one would start again at 1.
 */
export async function heartbeatsSince(name: string, before: number): Promise<number[]> {
  return (await heartbeats(name)).slice(before);
}

/** Waits until the guest has printed heartbeats beyond the first `seen` ones; resolves to those. */
export async function waitForNewHeartbeats(name: string, seen: number, limitMs = 240_000): Promise<number[]> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const after = await heartbeatsSince(name, seen);
    if (after.length >= 2) return after;
    if (Date.now() > deadline) throw new Error(`guest ${name} printed no new heartbeat (had ${seen})`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Destroys every domain but dom0 (between tests). */
export async function destroyAllGuests(): Promise<void> {
  const listing = await xl("list");
  for (const line of listing.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    const domid = Number(fields[1]);
    if (fields.length > 1 && Number.isInteger(domid) && domid > 0)
      await xl("destroy", String(domid)).catch(() => undefined);
  }
}

/** Records one timing for the rig's report (reported, never asserted). */
export async function timing(what: string, ms: number, extra: Record<string, unknown> = {}): Promise<void> {
  const line = JSON.stringify({ what, seconds: Math.round(ms / 100) / 10, ...extra });
  await appendFile(join(OUT, "timings.jsonl"), line + "\n").catch(() => undefined);
}

/**
 * Reads and clears Xen's log (`xl dmesg -c`), appending it to
 * OUT/xen-dmesg.txt so nothing is lost, and returns what it read. Clearing
 * keeps "since the last call" exact where Xen's ring buffer would wrap.
 */
export function takeXenLog(): string {
  const text = execFileSync(XL, ["dmesg", "-c"], { encoding: "utf8", maxBuffer: 16 * MiB });
  appendFileSync(join(OUT, "xen-dmesg.txt"), text);
  return text;
}

/**
 * Whether a failure was a guest's triple fault: under QEMU's emulation a PVH
 * guest sometimes triple-faults (while it boots or suspends), with Xen's own
 * code on the stack (README.md, "Known gaps"), a fault outside the project.
 * Reads Xen's log since the last takeXenLog (each test starts by taking it),
 * so only a fault during this test counts. A fault found is recorded in
 * OUT/retries.jsonl, with the error it explains, for the run's report.
 */
export function guestTripleFaulted(error: unknown): boolean {
  const faults = takeXenLog()
    .split("\n")
    .filter((line) => line.includes("Triple fault"));
  if (faults.length === 0) return false;
  appendFileSync(
    join(OUT, "retries.jsonl"),
    JSON.stringify({ error: (error as Error)?.message ?? String(error), xen: faults }) + "\n",
  );
  return true;
}

/**
 * Runs a test body again, with no guests left, after a failure that
 * guestTripleFaulted explains, as many times as the conformance suite does
 * (MAX_ENVIRONMENT_RETRIES); any other failure is thrown at once.
 */
export async function retryingTripleFaults(body: () => Promise<void>): Promise<void> {
  for (let retries = 0; ; retries++) {
    try {
      return await body();
    } catch (err) {
      if (retries >= MAX_ENVIRONMENT_RETRIES || !guestTripleFaulted(err)) throw err;
      await destroyAllGuests();
      await clearWork();
    }
  }
}
