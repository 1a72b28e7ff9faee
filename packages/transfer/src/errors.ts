import { formatSize, XenfleetError } from "@xenfleet/core";

/**
 * The host has less free memory than the domain needs. Retrying on the same
 * host does not create memory, so the job fails at once with the reason;
 * whoever placed it (an evacuation, an operator) picks another host.
 */
export class NoRoomError extends XenfleetError {
  readonly code = "XF_HOST_NO_ROOM";
  constructor(
    readonly host: string,
    readonly neededBytes: number,
    readonly freeBytes: number,
  ) {
    super(`host ${host} has no room: ${formatSize(freeBytes)} free, the domain needs ${formatSize(neededBytes)}`);
  }
}
