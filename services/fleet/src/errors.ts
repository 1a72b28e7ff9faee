import { XenfleetError } from "@xenfleet/format";

/**
 * The host has less free memory than the domain needs. Retrying on the same
 * host does not create memory, so the job fails at once with the reason;
 * whoever placed it picks another host.
 */
export class NoRoomError extends XenfleetError {
  readonly code = "XF_NO_ROOM";
  constructor(
    readonly host: string,
    readonly neededBytes: number,
    readonly freeBytes: number,
  ) {
    super(`host ${host} has no room: ${mib(freeBytes)} free, the domain needs ${mib(neededBytes)}`);
  }
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
