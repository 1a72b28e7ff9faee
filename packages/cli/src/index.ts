/** @xenfleet/cli: the `xenfleet` command (bin/xenfleet.js runs dist/main.js), its errors and exit codes. */
export {
  CannotWriteError,
  EXIT,
  exitCodeOf,
  HostDownError,
  NotFoundError,
  RedisUnreachableError,
  UsageError,
  UuidInUseError,
  WorkFailedError,
} from "./errors.js";
export { allCommands, buildProgram, CONVENTIONS, runCli } from "./program.js";
