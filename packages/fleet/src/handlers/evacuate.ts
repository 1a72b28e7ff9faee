/** The evacuate job: the controller empties hosts (evacuation.ts), the job's children being the moves. */
import type { JobHandler } from "@xenfleet/jobs";
import type { RedisClient } from "@xenfleet/jobs";
import { runEvacuation } from "../evacuation.js";

export function evacuateHandler(deps: { redis: RedisClient; prefix: string }): JobHandler<"evacuate"> {
  return (payload, ctx) => runEvacuation(deps.redis, deps.prefix, payload, { job: ctx.job, signal: ctx.signal });
}
