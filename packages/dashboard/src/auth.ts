/**
 * Who may use the dashboard: whoever holds its token, given as
 * `Authorization: Bearer TOKEN` or once on the login page, which then sets
 * a session cookie (HttpOnly, SameSite=Strict). Sessions live in this
 * process: a restart asks people to log in again.
 *
 * State-changing requests carry a CSRF token derived from the session. A
 * request authenticated by its Authorization header needs none: a browser
 * never adds that header to a request another site makes it send.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

export const SESSION_COOKIE = "xf_session";
const SESSION_MS = 12 * 3600_000;

/** How a request proved itself: a session (cookie) or the bearer token. */
export type Caller = { kind: "session"; session: string } | { kind: "bearer" };

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function cookies(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const at = part.indexOf("=");
    if (at > 0) out.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
  }
  return out;
}

export class Auth {
  private readonly sessions = new Map<string, number>();
  /** Signs CSRF tokens; new with each process, as the sessions are. */
  private readonly secret = randomBytes(32);

  constructor(private readonly token: string) {}

  /** The caller, or undefined when the request has neither the token nor a live session. */
  caller(req: IncomingMessage): Caller | undefined {
    const header = req.headers.authorization;
    if (header !== undefined) {
      const m = /^Bearer\s+(\S+)$/i.exec(header);
      return m && sameText(m[1]!, this.token) ? { kind: "bearer" } : undefined;
    }
    const session = cookies(req).get(SESSION_COOKIE);
    if (session === undefined) return undefined;
    const expires = this.sessions.get(session);
    if (expires === undefined) return undefined;
    if (expires < Date.now()) {
      this.sessions.delete(session);
      return undefined;
    }
    return { kind: "session", session };
  }

  /** A new session for the right token; undefined for any other. */
  login(given: string): string | undefined {
    if (!sameText(given, this.token)) return undefined;
    const session = randomBytes(32).toString("base64url");
    this.sessions.set(session, Date.now() + SESSION_MS);
    return session;
  }

  logout(caller: Caller): void {
    if (caller.kind === "session") this.sessions.delete(caller.session);
  }

  /** The CSRF token forms carry for this caller. */
  csrf(caller: Caller): string {
    const subject = caller.kind === "session" ? caller.session : "bearer";
    return createHmac("sha256", this.secret).update(subject).digest("base64url");
  }

  /** Whether a state-changing request may go ahead. */
  csrfOk(caller: Caller, given: string | undefined): boolean {
    if (caller.kind === "bearer") return true;
    return given !== undefined && sameText(given, this.csrf(caller));
  }

  /** The Set-Cookie header of a session (Secure when the dashboard is served over TLS by a proxy is the proxy's to add). */
  static cookie(session: string): string {
    return `${SESSION_COOKIE}=${session}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_MS / 1000}`;
  }

  static clearCookie(): string {
    return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
  }
}
