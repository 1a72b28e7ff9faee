/**
 * The Redis of an embedded fleet on this machine. `xenfleet demo` and
 * `xenfleet up` use the default local Redis; when nothing answers there and
 * redis-server is installed, they start one (daemonized, bound to 127.0.0.1,
 * no persistence, its pid file and log under the state dir) instead of
 * failing. Any other URL must already answer: a remote or password-protected
 * Redis is never started here.
 */
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { parseRedisUrl } from "@xenfleet/jobs";
import { RedisUnreachableError } from "../errors.js";
import { pingRedis } from "./fleet-options.js";

const LOCAL_PORT = 6379;

/** The default local Redis (127.0.0.1:6379, no TLS, no credentials): the only one started here. */
export function isLocalDefaultRedis(url: string): boolean {
  const t = parseRedisUrl(url);
  return (
    (t.host === "127.0.0.1" || t.host === "localhost") &&
    t.port === LOCAL_PORT &&
    !t.tls &&
    t.username === undefined &&
    t.password === undefined
  );
}

/**
 * Resolve once Redis at `url` answers, starting the local one when it is
 * the default URL and nothing answers; otherwise throw RedisUnreachableError
 * within a few seconds.
 */
export async function ensureRedis(url: string, stateDir: string, log: (line: string) => void): Promise<void> {
  const reason = await pingRedis(url);
  if (reason === undefined) return;
  if (!isLocalDefaultRedis(url)) throw new RedisUnreachableError(url, reason);
  const dir = resolve(stateDir);
  mkdirSync(dir, { recursive: true });
  const pidFile = join(dir, "redis.pid");
  const logFile = join(dir, "redis.log");
  try {
    await promisify(execFile)(
      "redis-server",
      [
        "--daemonize",
        "yes",
        "--bind",
        "127.0.0.1",
        "--port",
        String(LOCAL_PORT),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir,
        "--pidfile",
        pidFile,
        "--logfile",
        logFile,
      ],
      { timeout: 5000 },
    );
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    throw new RedisUnreachableError(
      url,
      e.code === "ENOENT"
        ? `${reason}; redis-server is not installed: apt-get install redis-server`
        : `${reason}; redis-server did not start: ${(e.stderr ?? "").trim() || e.message}`,
    );
  }
  const deadline = Date.now() + 5000;
  for (;;) {
    if ((await pingRedis(url, 1000)) === undefined) break;
    if (Date.now() > deadline)
      throw new RedisUnreachableError(url, `redis-server started but does not answer; see ${logFile}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  let pid = "?";
  try {
    pid = readFileSync(pidFile, "utf8").trim();
  } catch {
    // another redis-server won the port; it answers, which is all that matters
  }
  log(
    `no Redis answered at 127.0.0.1:${LOCAL_PORT}: started redis-server (pid ${pid}, no persistence, log ${logFile}); ` +
      `it keeps running (stop it with: redis-cli -p ${LOCAL_PORT} shutdown)`,
  );
}
