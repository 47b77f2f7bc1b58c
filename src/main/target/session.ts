/**
 * One pty session running a shell we drive with framed commands (framing.ts). The same class serves
 * the local target (node-pty runs bash) and the SSH target (node-pty runs the system ssh, which
 * starts bash on the far side): only the program and its arguments differ.
 *
 * The session owns its pty, its listeners and its timers; dispose() releases them all.
 */
import * as pty from 'node-pty'
import { FrameParser, MarkWatcher, frameCommand, newNonce, printBegin } from './framing'
import { TargetError } from './errors'
import { OutputQueue } from './flow'

export { HIGH_WATERMARK, LOW_WATERMARK } from './flow'

/** Default time a command may take before it is interrupted (ExecOptions.timeoutMs). */
export const DEFAULT_TIMEOUT_MS = 60_000
/** After an interrupt, how long the shell has to answer a resync before the session is called dead. */
const RESYNC_MS = 3_000

export interface SessionSpawn {
  file: string
  args: string[]
  env?: Record<string, string>
  cwd?: string
}

/**
 * The shell each session ends up in, as one command line for `sh -c` (or ssh's remote command):
 * echo off (so what we type is not printed back), non-canonical input with min 1 / time 0 (so a
 * long command line is not cut at the tty's 4095-character line limit; VMIN shares a slot with
 * VEOF, so `-icanon` alone would leave min=4), no XON/XOFF (a stray ^S in output must not freeze
 * the session), then a ready sentinel, then bash without rc files,
 * line editing, prompts or history.
 */
export function shellBootstrap(readyNonce: string): string {
  return [
    'stty -echo -icanon min 1 time 0 -ixon 2>/dev/null',
    printBegin(readyNonce),
    "exec env PS1= PS2= PS4= PROMPT_COMMAND= HISTFILE=/dev/null LC_ALL=C bash --noprofile --norc --noediting +o history -i",
  ].join('; ')
}

/**
 * `spawn` behind a bash that first closes every inherited descriptor above stderr. node-pty's
 * forkpty leaves the pty master without FD_CLOEXEC (fdinfo flags 0104002 here) and libuv closes
 * nothing else when it spawns, so every child the lab starts (another session's shell, a stream,
 * the probe below it) would hold every session's master: after the lab is SIGKILLed the driven
 * shell then never gets its hangup, looks alive, and the next connect leaves its scratch alone.
 */
export function closingInheritedFds(spawn: SessionSpawn): SessionSpawn {
  const close = 'for f in /proc/$$/fd/*; do n=${f##*/}; if [ "$n" -gt 2 ] && [ -e "$f" ]; then exec {n}<&-; fi; done; exec "$@"'
  return { ...spawn, file: '/bin/bash', args: ['-c', close, 'splice-lab', spawn.file, ...spawn.args] }
}

export class PtySession {
  private readonly proc: pty.IPty
  private readonly output: OutputQueue
  private current: FrameParser | MarkWatcher | null = null
  private readonly terminalListeners = new Set<(data: string) => void>()
  private readonly exitListeners = new Set<(code: number) => void>()
  private chain: Promise<unknown> = Promise.resolve()
  private exited: { code: number } | null = null
  private disposed = false
  /** Everything the pty printed before it became ready (for error messages: ssh's complaints). */
  private preamble = ''
  private ready = false
  private dropNoticeShown = false
  /** A prompt is waiting for an answer (see writeTerminal): the last output line asks, or an answer is half typed. */
  private promptWaiting = false
  /** Part of an answer went to the prompt (its echo changes the last line; the prompt still waits for Enter). */
  private answering = false

  constructor(given: SessionSpawn) {
    const spawn = closingInheritedFds(given)
    this.proc = pty.spawn(spawn.file, spawn.args, {
      name: 'xterm-256color',
      cols: 200,
      rows: 50,
      cwd: spawn.cwd ?? process.cwd(),
      env: { ...process.env, ...spawn.env } as Record<string, string>,
    })
    this.output = new OutputQueue(this.proc, (chunk) => this.deliver(chunk))
    this.proc.onData((d) => this.output.push(d))
    this.proc.onExit(({ exitCode }) => {
      this.exited = { code: exitCode }
      // Let queued output reach the parser and listeners first (partial results of a dead session).
      void this.output.drained().then(() => {
        for (const l of this.exitListeners) l(exitCode)
      })
    })
  }

  get pid(): number {
    return this.proc.pid
  }

  get alive(): boolean {
    return !this.exited && !this.disposed
  }

  /** Output before the session became ready (prompts, ssh errors). */
  get startupOutput(): string {
    return this.preamble
  }

  /**
   * Waits for the bootstrap's ready sentinel. Anything before it (an ssh host-key question, a
   * password prompt) goes to the terminal listeners, so a person can answer in the terminal view.
   */
  waitReady(nonce: string, timeoutMs: number): Promise<void> {
    const watcher = new MarkWatcher(nonce)
    return new Promise((resolve, reject) => {
      const done = (err?: Error): void => {
        clearTimeout(timer)
        offExit()
        if (this.current === watcher) this.current = null
        if (err) return reject(err)
        this.ready = true
        this.promptWaiting = this.answering = false
        resolve()
      }
      const timer = setTimeout(() => done(new TargetError('connect', `the session did not become ready within ${timeoutMs / 1000} s`, this.preamble)), timeoutMs)
      const offExit = this.onExit((code) => done(new TargetError('connect', `the session ended before it was ready (exit ${code})`, this.preamble)))
      watcher.onDone = () => done()
      this.current = watcher
    })
  }

  onExit(listener: (code: number) => void): () => void {
    this.exitListeners.add(listener)
    return () => this.exitListeners.delete(listener)
  }

  onTerminalData(listener: (data: string) => void): () => void {
    this.terminalListeners.add(listener)
    return () => this.terminalListeners.delete(listener)
  }

  /**
   * What a person types in the terminal view. It reaches the pty only while a prompt waits for it
   * (promptWaiting: ssh's host-key question, a password or passphrase while connecting), and only
   * one answer: up to and including the first Enter; the rest of that input and anything typed
   * before the next prompt is dropped. Anything else would be typed into the lab's driven shell,
   * which runs it as a command (as root, between the lab's own commands) or feeds it to the
   * command running there. A person who wants a shell opens one of their own.
   */
  writeTerminal(data: string): void {
    if (!this.alive) return
    if (this.promptWaiting) {
      const end = data.search(/[\r\n]/)
      if (end === -1) {
        this.proc.write(data)
        this.answering = true
      } else {
        this.proc.write(data.slice(0, end + 1))
        this.promptWaiting = this.answering = false
      }
      return
    }
    if (!this.dropNoticeShown) {
      this.dropNoticeShown = true
      const notice = '\r\n[splice-lab] this shell is driven by the lab; typing reaches only a password or host-key prompt while connecting\r\n'
      for (const l of this.terminalListeners) l(notice)
    }
  }

  resize(cols: number, rows: number): void {
    if (this.alive) this.proc.resize(Math.max(2, cols | 0), Math.max(1, rows | 0))
  }

  /** Runs one command; commands are serialized (one shell, one command at a time). */
  exec(command: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<{ code: number; output: string }> {
    const run = this.chain.then(() => this.execNow(command, timeoutMs))
    this.chain = run.catch(() => undefined)
    return run
  }

  private execNow(command: string, timeoutMs: number): Promise<{ code: number; output: string }> {
    if (this.disposed) return Promise.reject(new TargetError('disposed', 'the target session was closed'))
    if (this.exited) return Promise.reject(new TargetError('dead', `the target session has ended (exit ${this.exited.code})`))
    const nonce = newNonce()
    const parser = new FrameParser(nonce)
    return new Promise((resolve, reject) => {
      let settled = false
      const finish = (err: Error | null): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        offExit()
        if (this.current === parser) this.current = null
        if (err) reject(err)
        else resolve(parser.result!)
      }
      const timer = setTimeout(() => {
        void this.interrupt().then(
          () => finish(new TargetError('timeout', `command timed out after ${timeoutMs / 1000} s and was interrupted: ${summarize(command)}`, parser.partial())),
          (e: Error) => finish(e),
        )
      }, timeoutMs)
      const offExit = this.onExit((code) =>
        finish(new TargetError('dead', `the target session ended (exit ${code}) while running: ${summarize(command)}`, parser.partial())),
      )
      parser.onDone = () => finish(null)
      this.current = parser
      this.proc.write(frameCommand(command, nonce))
    })
  }

  /**
   * Interrupts the running command, then proves the shell is still there with a fresh sentinel:
   * first ^C (SIGINT to the foreground process group), then, for a command that ignores SIGINT,
   * ^\ (SIGQUIT; the interactive shell itself ignores it, bash(1) "SIGNALS"). If the shell still
   * does not answer the session is killed and reported dead: a session in an unknown state would
   * frame the next command wrongly.
   */
  private async interrupt(): Promise<void> {
    for (const signalChar of ['\x03', '\x1c']) {
      this.current = null
      this.proc.write(signalChar)
      await new Promise((r) => setTimeout(r, 100))
      if (await this.resync()) return
    }
    this.kill()
    throw new TargetError('dead', 'a command overran its time and the shell did not answer after SIGINT and SIGQUIT; the session was closed')
  }

  /** Sends an empty framed command; true once the shell answers it within RESYNC_MS. */
  private async resync(): Promise<boolean> {
    if (this.exited) return false
    const nonce = newNonce()
    const parser = new FrameParser(nonce)
    const ok = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), RESYNC_MS)
      parser.onDone = () => {
        clearTimeout(timer)
        resolve(true)
      }
      this.current = parser
      this.proc.write(frameCommand('true', nonce))
    })
    this.current = null
    return ok
  }

  /** Flow-control counters (pauses, largest queue), for tests and diagnostics. */
  get flow(): { pauses: number; maxQueued: number } {
    return this.output.stats
  }

  private deliver(chunk: string): void {
    if (!this.ready) {
      this.preamble = (this.preamble + chunk).slice(-16_384)
      if (!this.answering) this.promptWaiting = endsWithPrompt(this.preamble)
    } else this.promptWaiting = this.answering = false
    for (const l of this.terminalListeners) l(chunk)
    const p = this.current
    if (p && p.feed(chunk)) {
      if (this.current === p) this.current = null
      p.onDone?.()
    }
  }

  kill(): void {
    if (this.exited) return
    try {
      this.proc.kill('SIGKILL')
    } catch {
      // already gone
    }
  }

  /** Ends the shell: exit politely, then SIGHUP, then SIGKILL. Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return
    this.disposed = true
    if (!this.exited) {
      const gone = new Promise<void>((r) => {
        if (this.exited) r()
        else this.exitListeners.add(() => r())
      })
      try {
        this.proc.write('\x03\nexit 0\n')
      } catch {
        // pty closed
      }
      const t1 = setTimeout(() => {
        try {
          this.proc.kill('SIGHUP')
        } catch {
          // gone
        }
      }, 500)
      const t2 = setTimeout(() => this.kill(), 1500)
      await Promise.race([gone, new Promise((r) => setTimeout(r, 2500))])
      clearTimeout(t1)
      clearTimeout(t2)
    }
    this.terminalListeners.clear()
  }
}

/**
 * True when the session's last output line is ssh asking for an answer: the host-key question
 * ("… (yes/no/[fingerprint])? ", "Please type 'yes', 'no' or the fingerprint: "), a password,
 * passphrase or one-time code ("root@host's password: ", "Enter passphrase for key '…': ",
 * "Verification code: "). ssh ends each with ": " or "? " and no newline. Naming the words keeps a
 * line that merely arrives in pieces ("Warning: " of "Warning: Permanently added …") from opening
 * the way to the shell.
 */
export function endsWithPrompt(output: string): boolean {
  const line = output.slice(output.lastIndexOf('\n') + 1).replace(/\r/g, '')
  return /(yes\/no|fingerprint|assword|assphrase|PIN|code)\b[^\n]*[:?] $/i.test(line)
}

function summarize(command: string): string {
  const first = command.split('\n')[0] ?? ''
  return first.length > 120 ? first.slice(0, 117) + '…' : first
}
