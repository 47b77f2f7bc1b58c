/**
 * The Target both the local and the SSH targets are: a driven shell in a pty (PtySession) for
 * commands and uploads, pipes for streams, facts found at connect. Subclasses only say how to
 * spawn a shell and a stream.
 */
import { spawn as spawnChild } from 'node:child_process'
import { constants as osConstants } from 'node:os'
import type { ExecOptions, ExecResult, StreamHandle, Target, TargetFacts, TerminalInput } from './types'
import { PtySession, closingInheritedFds, type SessionSpawn, DEFAULT_TIMEOUT_MS, shellBootstrap } from './session'
import { TargetError } from './errors'
import { detectFacts } from './facts'
import { newNonce } from './framing'
import { shellQuote } from './quote'
import { uploadThroughShell } from './upload'
import { withoutFraming } from './terminal-view'

/** How long a stream gets to end after its input closes (and SIGINT) before it is killed. */
const STREAM_STOP_MS = 1_500

/**
 * Runs `command` so that it ends when the stream's input closes: when stop() closes it, and when
 * the lab itself dies (its end of the pipe closes with it), here or on the far side of ssh — a
 * `cat trace_pipe` or a probe left behind would keep its ftrace instance busy and its scratch in
 * use. The command runs in a session of its own (setsid, where the target has it) so that ending
 * it reaches everything it started: the probe is the child of a shell that reports its exit
 * status, and killing only that shell left the probe running until its own timeout (120 s). SIGTERM
 * first (the probe reports what it has), SIGKILL 2 s later. SIGINT/SIGTERM/SIGHUP to the wrapper
 * (stop() signals the local group) are passed on the same way. The command's own exit status
 * (128+signal when killed) is the stream's. A background job's input is /dev/null, hence fd 3.
 */
export function streamWrapper(command: string): string {
  const end = (sig: string): string => `kill -${sig} -$c 2>/dev/null || kill -${sig} $c 2>/dev/null`
  return [
    'exec 3<&0',
    `s=$(command -v setsid); $s bash -c ${shellQuote(command)} </dev/null & c=$!`,
    `trap '${end('TERM')}' INT TERM HUP`,
    `(trap '' INT TERM HUP; while read -r _ <&3; do :; done; ${end('TERM')}; sleep 2; ${end('KILL')}) & w=$!`,
    // wait returns early (>128) when a trapped signal arrives: wait again for the real status.
    'wait $c; s=$?; while kill -0 $c 2>/dev/null; do wait $c; s=$?; done',
    'kill -KILL $w 2>/dev/null; exit $s',
  ].join('; ')
}

export interface StartOptions {
  /** How long to wait for the shell (a prompt a person answers counts against it). */
  readyTimeoutMs: number
  /** The raw terminal, from the first byte (prompts while connecting included). */
  onTerminalData?: (data: string) => void
  /** The terminal's input while connecting, to answer prompts (see TerminalInput). */
  onTerminal?: (terminal: TerminalInput) => void
}

export abstract class ShellTarget implements Target {
  abstract readonly kind: 'local' | 'ssh'
  abstract readonly label: string
  protected session!: PtySession
  private factsCache: TargetFacts | null = null
  private readonly streams = new Set<StreamHandle>()
  private disposed = false
  /** What the connect itself did that people should know (shown first in facts.notes). */
  protected readonly connectNotes: string[] = []

  protected abstract shellSpawn(bootstrap: string): SessionSpawn
  protected abstract streamSpawn(command: string): SessionSpawn
  /** How to start an interactive login shell on the target, for a person (its own pty, not the driven session). */
  abstract interactiveSpawn(): SessionSpawn
  /** Turns a failed start (the session's early output) into a clear error. */
  protected abstract explainStartFailure(e: TargetError): TargetError

  /**
   * Starts the shell and waits until it answers; then finds the facts. Terminal data flows to
   * `onTerminalData` from the first byte and `onTerminal` gets the terminal's input at once, so a
   * person can answer a host-key or password prompt before the session is ready.
   */
  async start(o: StartOptions): Promise<void> {
    const nonce = newNonce()
    this.session = new PtySession(this.shellSpawn(shellBootstrap(nonce)))
    if (o.onTerminalData) this.session.onTerminalData(withoutFraming(o.onTerminalData))
    const session = this.session
    o.onTerminal?.({ write: (d) => session.writeTerminal(d), resize: (c, r) => session.resize(c, r) })
    try {
      await this.session.waitReady(nonce, o.readyTimeoutMs)
      this.factsCache = await detectFacts(this.session)
      this.factsCache.notes.unshift(...this.connectNotes)
    } catch (e) {
      await this.session.dispose()
      throw e instanceof TargetError ? this.explainStartFailure(e) : e
    }
  }

  /** A command as root: itself when the session is root, through `sudo -n` when allowed, else a clear error. */
  private wrapRoot(command: string, root: boolean | undefined): string {
    const f = this.factsCache
    if (!root || !f || f.root) return command
    if (!f.sudo) throw new TargetError('command', `${this.label}: this needs root, and the session is neither root nor allowed passwordless sudo (sudo -n); connect as root or add a NOPASSWD sudo rule`)
    return `sudo -n bash -c ${shellQuote(command)}`
  }

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    return this.session.exec(this.wrapRoot(command, options.root), options.timeoutMs ?? DEFAULT_TIMEOUT_MS)
  }

  async upload(path: string, content: string | Uint8Array, mode = 0o644): Promise<void> {
    return uploadThroughShell((cmd, o) => this.exec(cmd, o), path, content, mode)
  }

  async stream(command: string, onData: (chunk: string) => void, options: { root?: boolean } = {}): Promise<StreamHandle> {
    return this.startStream(command, options.root, { onData, onStderr: onData, binary: false })
  }

  async streamBinary(command: string, onData: (chunk: Uint8Array) => void, options: { root?: boolean; onStderr?: (text: string) => void } = {}): Promise<StreamHandle> {
    return this.startStream(command, options.root, { onData, onStderr: options.onStderr ?? (() => undefined), binary: true })
  }

  private async startStream(
    command: string,
    root: boolean | undefined,
    sink: { onData: (chunk: string) => void; onStderr: (text: string) => void; binary: false } | { onData: (chunk: Uint8Array) => void; onStderr: (text: string) => void; binary: true },
  ): Promise<StreamHandle> {
    if (this.disposed) throw new TargetError('disposed', 'the target session was closed')
    // Pipes, not a pty: a pty's line discipline caps a stream at ~80 MiB/s here, and under a busy
    // workload on 2 cores trace_pipe through a pty lost 7-25% of 1.4 M events that a pipe read
    // without a loss. A stream never prompts (ssh multiplexes over the session's authenticated
    // connection; root goes through sudo -n), so it needs no terminal.
    // The wrapper runs as root with the command, so it may signal what the command started.
    const spawn = closingInheritedFds(this.streamSpawn(this.wrapRoot(streamWrapper(command), root)))
    const child = spawnChild(spawn.file, spawn.args, {
      cwd: spawn.cwd ?? process.cwd(),
      env: { ...process.env, ...spawn.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      // Its own process group, so stop() can signal everything it started.
      detached: true,
    })
    if (!sink.binary) child.stdout.setEncoding('utf8')
    child.stderr.setEncoding('utf8')
    child.stdout.on('data', sink.onData)
    child.stderr.on('data', sink.onStderr)
    child.stdin.on('error', () => undefined)
    let exited = false
    const done = new Promise<number>((resolve) => {
      child.on('error', (e) => {
        exited = true
        sink.onStderr(`${spawn.file}: ${e.message}\n`)
        resolve(127)
      })
      child.on('close', (code, signal) => {
        exited = true
        resolve(signal ? 128 + (osConstants.signals[signal] ?? 0) : (code ?? 0))
      })
    })
    const signalGroup = (sig: NodeJS.Signals): void => {
      try {
        if (child.pid) process.kill(-child.pid, sig)
      } catch {
        // gone
      }
    }
    const handle: StreamHandle = {
      done,
      stop: async () => {
        if (!exited) {
          // Closing its input makes the wrapper end the command (also on the far side of ssh);
          // SIGINT to the local group ends what runs here; SIGKILL if neither did.
          child.stdin.end()
          signalGroup('SIGINT')
          const timer = setTimeout(() => signalGroup('SIGKILL'), STREAM_STOP_MS)
          await done
          clearTimeout(timer)
        }
        this.streams.delete(handle)
      },
    }
    this.streams.add(handle)
    void done.then(() => this.streams.delete(handle))
    return handle
  }

  async facts(): Promise<TargetFacts> {
    if (!this.factsCache) this.factsCache = await detectFacts(this.session)
    return this.factsCache
  }

  /** The terminal as people see it: the lab's framing taken out (terminal-view.ts). */
  onTerminalData(listener: (data: string) => void): () => void {
    return this.session.onTerminalData(withoutFraming(listener))
  }

  writeTerminal(data: string): void {
    this.session.writeTerminal(data)
  }

  resizeTerminal(cols: number, rows: number): void {
    this.session.resize(cols, rows)
  }

  /** The session ended by itself (disconnect): listeners get the exit code. */
  onDisconnect(listener: (code: number) => void): () => void {
    return this.session.onExit(listener)
  }

  get alive(): boolean {
    return this.session.alive
  }

  async dispose(): Promise<void> {
    if (this.disposed) return
    this.disposed = true
    await Promise.all([...this.streams].map((s) => s.stop().catch(() => undefined)))
    await this.session?.dispose()
    await this.afterDispose()
  }

  /** Subclasses release what they own beyond the session (the ssh control socket's directory). */
  protected async afterDispose(): Promise<void> {}
}
