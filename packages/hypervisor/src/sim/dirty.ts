import { fillPage, PAGE_SIZE } from "./content.js";
import type { DomainMemory } from "./memory.js";
import { Prng } from "./prng.js";

/** The part of a domain's persisted state that drives dirtying. */
export interface DirtyClock {
  seed: number;
  /** Pages the guest writes per second while running. */
  dirtyPagesPerSec: number;
  /** Page writes applied so far; the n-th write is a pure function of (seed, n). */
  dirtyCounter: number;
  /** Wall-clock ms up to which writes have been applied. */
  dirtyClockMs: number;
}

/**
 * Applies a running domain's page writes lazily, from wall-clock time: when the
 * domain is next looked at, the R*(now - t0) writes that "happened" since t0
 * are done then. Write n goes to a pfn and content chosen by PRNG(seed, n), so
 * replaying writes after a crash (memory written, meta.json not yet) gives the
 * same memory: harmless.
 *
 * Guests dirty a working set far more than the rest; 80% of writes land in a
 * hot sixteenth of memory, which is why pre-copy converges at all.
 *
 * With log-dirty on (a live save), every written pfn is also marked in a
 * bitmap, collected and cleared by `collect()` between pre-copy passes.
 */
export class DirtyTracker {
  private logDirty: Uint8Array | undefined;
  private logged = 0;
  private readonly page = Buffer.alloc(PAGE_SIZE);
  private readonly hotStart: number;
  private readonly hotPages: number;

  constructor(
    readonly clock: DirtyClock,
    private readonly memory: DomainMemory,
  ) {
    this.hotPages = Math.max(1, Math.floor(memory.pages / 16));
    this.hotStart = new Prng(clock.seed, 0x407).below(memory.pages - this.hotPages + 1);
  }

  /** Applies the writes due up to `now` (running domains only). Returns how many. */
  async catchUp(now = Date.now()): Promise<number> {
    const c = this.clock;
    if (c.dirtyPagesPerSec <= 0 || now <= c.dirtyClockMs) {
      c.dirtyClockMs = Math.max(c.dirtyClockMs, now);
      return 0;
    }
    let due = Math.floor(((now - c.dirtyClockMs) * c.dirtyPagesPerSec) / 1000);
    if (due === 0) return 0;
    // Keep the fractional remainder for next time.
    c.dirtyClockMs += (due * 1000) / c.dirtyPagesPerSec;
    // Long idle: beyond a few passes over memory, older writes are overwritten anyway.
    const cap = this.memory.pages * 2;
    if (due > cap) {
      c.dirtyCounter += due - cap;
      due = cap;
    }
    for (let i = 0; i < due; i++) {
      const n = ++c.dirtyCounter;
      const pfn = this.pfnOfWrite(n);
      fillPage(this.page, c.seed, pfn, n);
      await this.memory.write(pfn, this.page);
      // Page writes are synchronous: let timers and I/O run during a long catch-up.
      if (i % 4096 === 4095) await new Promise((resolve) => setImmediate(resolve));
      if (this.logDirty && !this.logDirty[pfn]) {
        this.logDirty[pfn] = 1;
        this.logged++;
      }
    }
    return due;
  }

  /** The domain stops: no writes accrue for the time it is paused. */
  stopClock(now = Date.now()): void {
    this.clock.dirtyClockMs = now;
  }

  /** Starts recording written pfns. */
  enableLogDirty(): void {
    this.logDirty = new Uint8Array(this.memory.pages);
    this.logged = 0;
  }

  disableLogDirty(): void {
    this.logDirty = undefined;
  }

  /** Number of pfns written since the last `collect()`. */
  dirtyCount(): number {
    return this.logged;
  }

  /** Returns the pfns written since the last call, in order, and clears the log. */
  collect(): number[] {
    const out: number[] = [];
    const log = this.logDirty;
    if (!log) return out;
    for (let pfn = 0; pfn < log.length; pfn++) if (log[pfn]) out.push(pfn);
    log.fill(0);
    this.logged = 0;
    return out;
  }

  private pfnOfWrite(n: number): number {
    const rng = new Prng(this.clock.seed, n, 0xd1);
    return rng.below(10) < 8 ? this.hotStart + rng.below(this.hotPages) : rng.below(this.memory.pages);
  }
}
