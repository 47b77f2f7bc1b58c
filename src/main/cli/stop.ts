/**
 * How a command that works on a target is told to stop early: a terminal's Ctrl-C (SIGINT), a
 * supervisor's SIGTERM, or the reader of its output gone (EPIPE, output.ts). Each cancels the work;
 * the command then cleans the target (scratch mounts, loop devices, ftrace instance, a VM's qemu)
 * as it does at a normal end.
 */
import { onOutputGone, outputGone } from './output'

export interface Stop {
  signal: AbortSignal
  /**
   * The reader of the output went away: the cancellation that follows is what the person asked
   * for, and the command says nothing of it (a Ctrl-C's cancellation is said).
   */
  readonly quiet: boolean
  /** Stops listening (the command has ended). */
  release(): void
}

export function stopSignal(): Stop {
  const abort = new AbortController()
  const stop = (): void => abort.abort()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  const offOutput = onOutputGone(stop)
  // A reader that left while the command was connecting has already been heard of.
  if (outputGone()) stop()
  return {
    signal: abort.signal,
    get quiet() {
      return abort.signal.aborted && outputGone()
    },
    release() {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      offOutput()
    },
  }
}
