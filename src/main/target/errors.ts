/**
 * Errors a target reports, as values with a code the run and the CLI can act on and a message a
 * person can act on.
 */
export type TargetErrorCode =
  | 'connect' // the session never became ready
  | 'host-key' // ssh refused the host key (mismatch or unknown with checking on)
  | 'refused' // nothing listens on the port
  | 'auth' // ssh authentication failed
  | 'timeout' // a command overran its time and was interrupted
  | 'dead' // the session ended (disconnect, crash) while in use
  | 'disposed' // used after dispose()
  | 'upload' // an uploaded file did not arrive intact
  | 'command' // a command the lab needs failed
  | 'crash' // a VM guest oopsed, panicked or hung while running the command (it was rebooted)

export class TargetError extends Error {
  constructor(
    readonly code: TargetErrorCode,
    message: string,
    /** What the command had printed when it failed, where there is any. */
    readonly partialOutput = '',
  ) {
    super(message)
    this.name = 'TargetError'
  }
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}
