/**
 * A target is a machine the lab runs scenarios on, reached through a pty session: `bash` locally,
 * the system `ssh` for remote machines (DESIGN.md, "target"). Everything above this interface (probe
 * build, runs, tracer) is written against it and never against node-pty or ssh directly.
 */

export interface ExecOptions {
  /** Give up (and interrupt the command) after this long. Default 60 s. */
  timeoutMs?: number
  /** Run as root through `sudo -n` when the session is not root. */
  root?: boolean
}

export interface ExecResult {
  /** Exit status of the command. */
  code: number
  /** What it printed (a pty merges stdout and stderr), without the framing sentinels, \r\n → \n. */
  output: string
}

export interface StreamHandle {
  /** Stop the command (SIGINT, then SIGKILL) and wait for it to end. */
  stop(): Promise<void>
  /** Resolves with the exit status when the command ends by itself or is stopped. */
  readonly done: Promise<number>
}

// Facts cross to the renderer through the API contract, so they are declared in the pure core.
export type { Filesystem, TargetFacts, TargetKind } from '../../shared/target'
import type { TargetFacts, TargetKind } from '../../shared/target'

/** A probe executable ready to run on a target. */
export interface BuiltProbe {
  path: string
  /** Hash of the source and flags it was built from. */
  hash: string
  /** False when a cached binary was reused. */
  compiled: boolean
}

/** What a target that crashed (an oops, a panic, a hang) says about it. */
export interface TargetCrash {
  /** One line for people: "kernel panic", "the guest stopped answering". */
  reason: string
  /** The console text around the crash. */
  console: string
}

/**
 * The terminal of a session that is still connecting: ssh may ask about an unknown host key or
 * for a password before the shell is ready, and only a person may answer (host keys are never
 * accepted silently). The app hands this to its xterm view the moment the pty exists.
 */
export interface TerminalInput {
  write(data: string): void
  resize(cols: number, rows: number): void
}

/**
 * A machine the lab runs on. The optional members are the seam for targets that are not a plain
 * shell on a machine with a compiler (a VM): the Lab uses them when present and the generic way
 * (loop devices and mkfs, compiling the probe on the target) otherwise.
 */
export interface Target {
  readonly kind: TargetKind
  /** For people: "local", "ssh://user@host:port". */
  readonly label: string
  /** Run one shell command (build it with shellQuote) and recover its output and exit status. */
  exec(command: string, options?: ExecOptions): Promise<ExecResult>
  /** Write a file on the target through the session itself (no scp needed). */
  upload(path: string, content: string | Uint8Array, mode?: number): Promise<void>
  /** Start a long-running command (e.g. `cat trace_pipe`) on its own channel, streaming its output. */
  stream(command: string, onData: (chunk: string) => void, options?: { root?: boolean }): Promise<StreamHandle>
  /**
   * stream() for bytes: stdout arrives as it was written (no text decoding; e.g. the framed pages of
   * resources/tracepipe), stderr as text to options.onStderr. Optional: a target without it cannot
   * carry binary streams, and the tracer reads text there.
   */
  streamBinary?(command: string, onData: (chunk: Uint8Array) => void, options?: { root?: boolean; onStderr?: (text: string) => void }): Promise<StreamHandle>
  facts(): Promise<TargetFacts>
  /** Raw terminal of the session, for the xterm.js view (prompts for passwords and host keys). */
  onTerminalData(listener: (data: string) => void): () => void
  writeTerminal(data: string): void
  /** How to start an interactive shell on the target in its own pty (absent: the target offers none). */
  interactiveSpawn?(): import('./session').SessionSpawn
  resizeTerminal(cols: number, rows: number): void
  /** The session ended by itself (disconnect, shell killed); the listener gets the exit code. */
  onDisconnect(listener: (code: number) => void): () => void
  /** Ends the session and everything it started. Idempotent. */
  dispose(): Promise<void>
  /**
   * Block devices that already hold a fresh filesystem, made outside the target (a VM's virtio
   * disks), by scratch variant (scenario/mount.ts: "ext4", "ext4-b1024", "btrfs-nodatasum"):
   * scratch mounts these instead of making loop devices (no mkfs or losetup here). A target that
   * has them has no other way to make a block filesystem.
   */
  scratchDevices?(): Promise<Readonly<Record<string, string>>>
  /** The probe, ready to run (a VM: a static binary built on the host and uploaded); default: compiled on the target. */
  provideProbe?(): Promise<BuiltProbe>
  /**
   * The path of the tracepipe helper (resources/tracepipe) on the target, ready to run (a VM: built
   * static on the host with buildTracepipeOnHost and uploaded); default: compiled on the target.
   */
  provideTracepipe?(): Promise<string>
  /** The target crashed (its kernel, not just the session): runs in flight end with the console text. */
  onCrash?(listener: (crash: TargetCrash) => void): () => void
  /** Resolves once a crashed target is usable again (rebooted, session back); rejects when it cannot come back. */
  whenReady?(): Promise<void>
}
