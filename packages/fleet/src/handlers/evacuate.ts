/** The evacuate job: the controller empties hosts (evacuation.ts), the job's children being the moves. */
import type { JobHandler } from "@xenfleet/jobs";
import type { Redis } from "ioredis";
import { runEvacuation } from "../evacuation.js";

export function evacuateHandler(deps: { redis: Redis; prefix: string }): JobHandler<"evacuate"> {
  return (payload, ctx) => runEvacuation(deps.redis, deps.prefix, payload, { job: ctx.job, signal: ctx.signal });
}
