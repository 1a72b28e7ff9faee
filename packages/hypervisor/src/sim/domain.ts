import type { DomainInfo } from "../hypervisor.js";
import { DirtyTracker } from "./dirty.js";
import { DomainMemory } from "./memory.js";
import type { Platform } from "./platform.js";
import { readPlatform } from "./platform.js";
import { paths, readMeta, writeMeta, type DomainMeta } from "./state-dir.js";

/**
 * One domain opened for an operation, under its lock: its meta, memory and
 * dirty tracker. Every open catches the guest's page writes up to now, so
 * what the operation sees is the domain as it is at this instant.
 */
export class SimDomain {
  private constructor(
    readonly dir: string,
    readonly meta: DomainMeta,
    readonly memory: DomainMemory,
    readonly dirty: DirtyTracker,
  ) {}

  static async open(dir: string): Promise<SimDomain> {
    const meta = await readMeta(dir);
    const memory = await DomainMemory.open(paths.memory(dir), meta.pages);
    const d = new SimDomain(dir, meta, memory, new DirtyTracker(meta, memory));
    await d.catchUp();
    return d;
  }

  get running(): boolean {
    return this.meta.state === "running";
  }

  /** Applies the page writes the guest did since last looked at (running only). */
  async catchUp(): Promise<number> {
    if (!this.running) {
      this.dirty.stopClock();
      return 0;
    }
    return this.dirty.catchUp();
  }

  async pause(): Promise<void> {
    await this.catchUp();
    this.meta.state = "paused";
    this.dirty.stopClock();
  }

  async unpause(): Promise<void> {
    if (!this.running) this.dirty.stopClock(); // the clock restarts now
    this.meta.state = "running";
  }

  platform(): Promise<Platform> {
    return readPlatform(this.dir);
  }

  /** Persists meta now (memory is written first: a crash in between only replays writes). */
  async persist(): Promise<void> {
    await writeMeta(this.dir, this.meta);
  }

  async close(): Promise<void> {
    await this.memory.close();
    await this.persist();
  }

  /** Closes without persisting (the domain is being removed). */
  async discard(): Promise<void> {
    await this.memory.close();
  }
}

export function infoOf(meta: DomainMeta): DomainInfo {
  return {
    domid: meta.domid,
    uuid: meta.uuid,
    name: meta.name,
    type: meta.type,
    memoryBytes: meta.pages * 4096,
    vcpus: meta.vcpus,
    state: meta.state,
  };
}
