/**
 * Runs Xen's own legacy converter and v2 verifier (Debian xen-utils-4.17)
 * for comparison tests. Both read their input unbuffered, so they get files.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";

const run = promisify(execFile);

export const XEN_BIN = "/usr/lib/xen-4.17/bin";
export const XEN_PYTHONPATH = "/usr/lib/xen-4.17/lib/python";
const CONVERT = `${XEN_BIN}/convert-legacy-stream`;
const VERIFY = `${XEN_BIN}/verify-stream-v2`;

export const xenToolsPresent = existsSync(CONVERT) && existsSync(VERIFY) && existsSync(XEN_PYTHONPATH);

const env = () => ({ ...process.env, PYTHONPATH: XEN_PYTHONPATH });

export interface XenResult {
  code: number;
  stderr: string;
}

async function python(args: string[]): Promise<XenResult> {
  try {
    const { stderr } = await run("python3", args, { env: env(), maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stderr };
  } catch (err) {
    const e = err as { code?: number; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stderr: e.stderr ?? String(err) };
  }
}

export function xenConvert(
  input: string,
  output: string,
  o: { width: 32 | 64; guest: "pv" | "hvm"; format: "libxc" | "libxl"; skipQemu?: boolean },
): Promise<XenResult> {
  const args = [CONVERT, "-i", input, "-o", output, "-w", String(o.width), "-g", o.guest, "-f", o.format];
  if (o.skipQemu) args.push("--skip-qemu");
  return python(args);
}

export function xenVerify(input: string, format: "libxc" | "libxl" | "xl"): Promise<XenResult> {
  return python([VERIFY, "-i", input, "-f", format]);
}

/**
 * verify-stream-v2 with one fix: under Python 3 its EMULATOR_XENSTORE_DATA
 * check compares a byte with a str and so refuses every non-empty record
 * ("Data not NUL terminated"). The replacement checks the same rules on bytes.
 */
export function xenVerifyFixed(input: string, format: "libxc" | "libxl" | "xl"): Promise<XenResult> {
  const program = [
    "import sys, runpy",
    "from struct import unpack",
    "from xen.migration import libxl",
    "from xen.migration.verify import RecordError",
    "def check(self, content):",
    "    if len(content) < 8: raise RecordError('short')",
    "    emu_id, _ = unpack('II', content[:8])",
    "    if emu_id not in libxl.emulator_id_to_str: raise RecordError('emulator id')",
    "    data = content[8:]",
    "    if len(data):",
    "        if data[-1] != 0: raise RecordError('Data not NUL terminated')",
    "        if len(data[:-1].split(b'\\x00')) % 2: raise RecordError('odd number of strings')",
    "libxl.record_verifiers[libxl.REC_TYPE_emulator_xenstore_data] = check",
    `sys.argv = ['verify-stream-v2', '-i', sys.argv[1], '-f', sys.argv[2]]`,
    `runpy.run_path('${VERIFY}', run_name='__main__')`,
  ].join("\n");
  return python(["-c", program, input, format]);
}
