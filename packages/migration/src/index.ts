/**
 * @xenfleet/migration: live migration over the fleet's own wire format, cold
 * migration through the store, the commit protocol that keeps a domain
 * running in exactly one place, and the sweep that settles what a crash
 * left half-done. Orchestration (evacuations, placement) is @xenfleet/fleet's.
 */
export * from "./errors.js";
export * as wire from "./wire/format.js";
export { FrameEncoder, encodeStreamHeader, type EncodedFrame } from "./wire/encoder.js";
export { FrameDecoder } from "./wire/decoder.js";
export type { Frame, FrameType } from "./wire/format.js";
export { TokenBucket, parseRate, realClock, type Clock, type TokenBucketOptions } from "./throttle.js";
export { OneTimeToken } from "./token.js";
export { MigrationRecord, RECORD_TTL_MS, type Listener, type Outcome } from "./rendezvous.js";
export { FrameChannel } from "./channel.js";
export { pumpData } from "./data-pump.js";
export { DEFAULT_WINDOW, FrameSink } from "./frame-sink.js";
export { RECEIVER_REASON, recoverSide, receiverSettle, senderAbort, senderDecide } from "./commit.js";
export { sendLive, type SendOptions, type SendReport } from "./sender.js";
export { receiveLive, type ReceiveOptions, type ReceiveReport } from "./receiver.js";
export {
  discardImage,
  receiveCold,
  sendCold,
  type ColdReceiveOptions,
  type ColdReceiveReport,
  type ColdSendOptions,
  type ColdSendReport,
} from "./cold.js";
export { settleSide, sweepMigrations, type Settled, type SettleDeps, type Side } from "./sweep.js";
