/**
 * bull-board, mounted read-only at /queues: the fleet's queues as BullMQ
 * users know them (the controller's, compression's, and each registered
 * host's). Read-only because its own buttons would change state without the
 * dashboard's CSRF token; changes go through the dashboard's forms and the CLI.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { ExpressAdapter } from "@bull-board/express";
import { Queue } from "bullmq";
import {
  bullPrefix,
  COMPRESS_QUEUE,
  CONTROLLER_QUEUE,
  HOST_QUEUE_KINDS,
  hostQueue,
  listHosts,
  type RedisClient,
} from "@xenfleet/jobs";

export const QUEUES_PATH = "/queues";

export interface QueueBoard {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  close(): Promise<void>;
}

export function queueBoard(redis: RedisClient, prefix: string): QueueBoard {
  const adapter = new ExpressAdapter().setBasePath(QUEUES_PATH);
  const board = createBullBoard({ queues: [], serverAdapter: adapter });
  const app = adapter.getRouter() as (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;
  const open = new Map<string, Queue>();

  /** The queues there are now: hosts come and go, so the list is read again on each request. */
  async function refresh(): Promise<void> {
    const hosts = await listHosts(redis, prefix);
    const names = [
      CONTROLLER_QUEUE,
      COMPRESS_QUEUE,
      ...hosts.flatMap((h) => HOST_QUEUE_KINDS.map((k) => hostQueue(k, h.id))),
    ];
    for (const name of names)
      if (!open.has(name)) open.set(name, new Queue(name, { connection: redis, prefix: bullPrefix(prefix) }));
    board.replaceQueues(names.map((n) => new BullMQAdapter(open.get(n)!, { readOnlyMode: true })));
  }

  return {
    async handle(req, res) {
      await refresh();
      // The board's routes are relative to its base path.
      req.url = (req.url ?? "/").slice(QUEUES_PATH.length) || "/";
      await new Promise<void>((resolve, reject) => {
        res.once("finish", resolve);
        res.once("close", resolve);
        app(req, res, (err) => {
          if (err) reject(err);
          else {
            res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
            resolve();
          }
        });
      });
    },
    async close() {
      await Promise.all([...open.values()].map((q) => q.close()));
    },
  };
}
