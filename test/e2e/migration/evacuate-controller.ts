/**
 * A controller process for the end-to-end tests: serves only `evacuate` jobs
 * on the controller queue with runEvacuation, as services/controller does.
 */
import { CONTROLLER_QUEUE, createLogger, createRedis, runWorker, terminationSignal } from "@xenfleet/jobs";
import { runEvacuation } from "@xenfleet/fleet";

const redisUrl = process.env.XENFLEET_REDIS ?? "redis://127.0.0.1:6379";
const prefix = process.env.XENFLEET_PREFIX ?? "xenfleet";
const connection = createRedis(redisUrl, "worker", "evacuate-controller");
const producer = createRedis(redisUrl, "producer", "evacuate-controller:producer");
const logger = createLogger({ service: "evacuate-controller", level: "warn" });
const handle = runWorker({
  queue: CONTROLLER_QUEUE,
  connection,
  prefix,
  logger,
  signal: terminationSignal(),
  handlers: {
    evacuate: (payload, ctx) => runEvacuation(producer, prefix, payload, { job: ctx.job, signal: ctx.signal }),
  },
});
await handle.stopped;
await Promise.allSettled([connection.quit(), producer.quit()]);
