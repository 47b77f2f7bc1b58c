/**
 * Interactive shells for people: a second pty per connected target running the target's login
 * shell (bash on this machine, `ssh -tt` over the lab session's control socket), apart from the
 * driven session the lab frames its commands through. Its terminal id is `<target id>--shell`; its
 * output goes through a TerminalFlow like the session's (acknowledged, bounded, replayed on attach).
 */
import * as pty from 'node-pty'
import { closingInheritedFds, type SessionSpawn } from '../target/session'
import { TerminalFlow } from './terminal-flow'

export const SHELL_SUFFIX = '--shell'
export const shellIdOf = (targetId: string): string => `${targetId}${SHELL_SUFFIX}`
export const isShellId = (id: string): boolean => id.endsWith(SHELL_SUFFIX)

interface Shell {
  proc: pty.IPty
  flow: TerminalFlow
}

export class Shells {
  private readonly open = new Map<string, Shell>()

  constructor(private readonly emit: (id: string, data: string, replay?: boolean) => void) {}

  /** Starts the target's shell unless it runs already; returns its terminal id. */
  start(targetId: string, spawn: SessionSpawn, onExit: (id: string, code: number) => void): string {
    const id = shellIdOf(targetId)
    if (this.open.has(id)) return id
    const s = closingInheritedFds(spawn)
    const proc = pty.spawn(s.file, s.args, { name: 'xterm-256color', cols: 100, rows: 30, cwd: s.cwd ?? process.env.HOME ?? '/', env: { ...process.env, ...s.env } as Record<string, string> })
    const flow = new TerminalFlow((data) => this.emit(id, data))
    proc.onData((d) => flow.push(d))
    proc.onExit(({ exitCode }) => {
      if (this.open.get(id)?.proc !== proc) return
      this.open.delete(id)
      flow.push(`\r\n[shell ended with status ${exitCode}]\r\n`)
      onExit(id, exitCode)
    })
    this.open.set(id, { proc, flow })
    return id
  }

  has(id: string): boolean {
    return this.open.has(id)
  }

  write(id: string, data: string): void {
    this.open.get(id)?.proc.write(data)
  }

  resize(id: string, cols: number, rows: number): void {
    this.open.get(id)?.proc.resize(cols, rows)
  }

  ack(id: string, chars: number): void {
    this.open.get(id)?.flow.ack(chars)
  }

  attach(id: string): string {
    return this.open.get(id)?.flow.attach() ?? ''
  }

  stop(id: string): void {
    const s = this.open.get(id)
    if (!s) return
    this.open.delete(id)
    s.proc.kill('SIGHUP')
  }

  stopAll(): void {
    for (const id of [...this.open.keys()]) this.stop(id)
  }
}
