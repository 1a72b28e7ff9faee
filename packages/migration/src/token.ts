/**
 * One-time tokens for the receiving side of a live migration. The receiver
 * issues a token for one migration and publishes it through Redis; the first
 * connection presenting it within its lifetime is let in, and the token is
 * spent. Anything else (no token, a wrong one, the right one twice, or late)
 * is refused. Comparison runs in constant time.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { TokenRejectedError } from "./errors.js";

export class OneTimeToken {
  private spent = false;
  readonly value: string;
  readonly expiresAt: number;

  constructor(
    ttlMs: number,
    private readonly now: () => number = Date.now,
    value: string = randomBytes(32).toString("base64url"),
  ) {
    this.value = value;
    this.expiresAt = now() + ttlMs;
  }

  /** Accepts `presented` once; throws TokenRejectedError otherwise. */
  redeem(presented: unknown): void {
    if (typeof presented !== "string" || !sameString(presented, this.value)) throw new TokenRejectedError("unknown");
    if (this.spent) throw new TokenRejectedError("used");
    if (this.now() >= this.expiresAt) throw new TokenRejectedError("expired");
    this.spent = true;
  }

  get used(): boolean {
    return this.spent;
  }
}

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  return x.length === y.length && timingSafeEqual(x, y);
}
