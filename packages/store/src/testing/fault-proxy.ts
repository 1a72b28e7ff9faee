import { sleep } from "@xenfleet/core";
import { once } from "node:events";
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo, Socket } from "node:net";

/**
 * What the proxy does to one request. Faults that act before forwarding
 * leave the upstream untouched; the others let the request happen and spoil
 * the answer, which is the harder case for a client: the write landed, the
 * caller was told it failed.
 */
export type ProxyFault =
  /** Answer with this status (and an S3-style error body) without forwarding. */
  | { readonly kind: "status"; readonly status: number }
  /** Drop the connection without forwarding or answering. */
  | { readonly kind: "reset" }
  /** Forward the request head and part of its body, then drop both connections (an upload cut short). */
  | { readonly kind: "cut-upload" }
  /** Forward the request, then drop the connection instead of answering. */
  | { readonly kind: "reset-after" }
  /** Forward; send the answer's headers (with the full Content-Length) and part of its body, then drop. */
  | { readonly kind: "truncate" }
  /** Forward; send the answer's headers and part of its body, then nothing more (the connection stays open). */
  | { readonly kind: "stall" }
  /** Forward; hold the answer back for `delayMs` before sending it. */
  | { readonly kind: "slow"; readonly delayMs: number }
  /** Forward; flip one byte of a non-empty answer body (what bit rot on the way looks like). */
  | { readonly kind: "corrupt" };

export type ProxyFaultKind = ProxyFault["kind"];

export interface ProxiedRequest {
  readonly method: string;
  readonly url: string;
  /** 0 for the first request the proxy sees. */
  readonly index: number;
  /** The request's Authorization header (e.g. to see which access key signed it), if any. */
  readonly authorization?: string;
}

/** Decides the fault (or none) for each request. */
export type FaultPlan = (request: ProxiedRequest) => ProxyFault | undefined;

export interface FaultProxy {
  /** http://127.0.0.1:<port>: point the client here instead of at the target. */
  readonly endpoint: string;
  /** Faults injected so far, by kind. */
  readonly injected: Record<ProxyFaultKind, number>;
  /** Requests seen so far. */
  readonly requests: number;
  /** Replaces the plan (e.g. `() => undefined` to let everything through). */
  setPlan(plan: FaultPlan): void;
  close(): Promise<void>;
}

/**
 * Starts an HTTP proxy on 127.0.0.1 at a free port that forwards every
 * request to `target` (an http:// origin) unchanged, Host header included
 * (so S3 signatures still match), except for the faults `plan` chooses.
 * Bodies are buffered whole: it is for tests, with test-sized objects.
 */
export async function startFaultProxy(target: string, plan: FaultPlan = () => undefined): Promise<FaultProxy> {
  const upstream = new URL(target);
  if (upstream.protocol !== "http:") throw new Error(`fault proxy target must be http://, not ${upstream.protocol}`);
  const injected: Record<ProxyFaultKind, number> = {
    status: 0,
    reset: 0,
    "cut-upload": 0,
    "reset-after": 0,
    truncate: 0,
    stall: 0,
    slow: 0,
    corrupt: 0,
  };
  let current = plan;
  let requests = 0;
  const sockets = new Set<Socket>();

  const server: Server = createServer((req, res) => {
    const fault = current({
      method: req.method ?? "GET",
      url: req.url ?? "/",
      index: requests++,
      ...(req.headers.authorization === undefined ? {} : { authorization: req.headers.authorization }),
    });
    if (fault !== undefined) injected[fault.kind]++;
    handle(req, res, fault).catch(() => req.socket.destroy());
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse, fault: ProxyFault | undefined): Promise<void> {
    const body = await readAll(req);
    if (fault?.kind === "reset") return void req.socket.destroy();
    if (fault?.kind === "status") {
      const xml = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${fault.status >= 500 ? "InternalError" : "InjectedFault"}</Code><Message>injected by the fault proxy</Message></Error>`;
      res.writeHead(fault.status, { "content-type": "application/xml", "content-length": Buffer.byteLength(xml) });
      return void res.end(xml);
    }
    const forwarded = httpRequest({
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: req.headers,
    });
    if (fault?.kind === "cut-upload") {
      // Head and half the body reach the server, then both sides drop.
      forwarded.on("error", () => undefined);
      forwarded.flushHeaders();
      forwarded.write(body.subarray(0, Math.floor(body.length / 2)));
      await sleep(20);
      forwarded.destroy();
      return void req.socket.destroy();
    }
    forwarded.end(body);
    const [answer] = (await once(forwarded, "response")) as [IncomingMessage];
    let payload = await readAll(answer);
    if (fault?.kind === "reset-after") return void req.socket.destroy();
    if (fault?.kind === "slow") await sleep(fault.delayMs);
    if (fault?.kind === "corrupt" && payload.length > 0) {
      payload = Buffer.from(payload);
      const at = Math.floor(payload.length / 2);
      payload[at] = payload[at]! ^ 0xff;
    }
    const headers = { ...answer.headers };
    // A HEAD answer's Content-Length is the object's size, not this (empty) body's.
    if (req.method !== "HEAD") {
      delete headers["transfer-encoding"];
      headers["content-length"] = String(payload.length);
    }
    res.writeHead(answer.statusCode ?? 502, headers);
    if (fault?.kind === "truncate") {
      // The headers promise every byte; half arrive, then the connection ends.
      res.write(payload.subarray(0, Math.floor(payload.length / 2)), () => req.socket.destroy());
      return;
    }
    if (fault?.kind === "stall") return void res.write(payload.subarray(0, Math.floor(payload.length / 2)));
    res.end(payload);
  }

  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    injected,
    get requests() {
      return requests;
    },
    setPlan(plan) {
      current = plan;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

/**
 * A plan that injects one of `faults` into a fraction `rate` of requests,
 * drawn from a seeded generator so that a failing run can be replayed.
 */
export function randomFaults(seed: number, rate: number, faults: readonly ProxyFault[]): FaultPlan {
  let state = seed >>> 0 || 1;
  const next = () => {
    // xorshift32: small, seedable, good enough to pick faults.
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000;
  };
  return () => (faults.length > 0 && next() < rate ? faults[Math.floor(next() * faults.length)] : undefined);
}

async function readAll(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
