/**
 * Opening a target from a spec people type: "local", "ssh://[user@]host[:port]" or "vm:<kernel>"
 * (a kernel-store name or a bzImage path). Tested through test/integration/{target,ssh,vm}.test.ts.
 */
import type { Target, TerminalInput } from './types'
import { connectLocal } from './local'
import { connectSsh } from './ssh'
import { connectVm } from './vm/vm-target'
import { resolveKernelImage } from './vm/kernel-image'
import { TargetError, errorMessage } from './errors'

export type TargetSpec =
  | { kind: 'local'; env?: Record<string, string> }
  | { kind: 'ssh'; host: string; user?: string; port?: number; identity?: string; knownHosts?: string; configFile?: string; options?: string[] }
  | { kind: 'vm'; kernel: string; bootArgs?: string[]; memoryMb?: number; accel?: 'auto' | 'kvm' | 'tcg' }

export interface ConnectOptions {
  /** How long to wait for the shell (an ssh prompt a person answers counts against it). */
  readyTimeoutMs?: number
  /** See the raw terminal while connecting (host-key and password prompts). */
  onTerminalData?: (data: string) => void
  /** Called as soon as the pty exists, with its input: lets a person answer those prompts. */
  onTerminal?: (terminal: TerminalInput) => void
}

export function parseTargetSpec(text: string, extra: { identity?: string; knownHosts?: string; bootArgs?: string[]; memoryMb?: number } = {}): TargetSpec {
  if (text === 'local') return { kind: 'local' }
  if (text.startsWith('vm:')) {
    const kernel = text.slice(3)
    if (!kernel) throw new TargetError('connect', 'vm: name a kernel: vm:<kernel-store name> or vm:<path to a bzImage>')
    return { kind: 'vm', kernel, bootArgs: extra.bootArgs, memoryMb: extra.memoryMb }
  }
  const m = /^ssh:\/\/(?:([^@/]+)@)?(\[[^\]]+\]|[^:/@]+)(?::(\d+))?\/?$/.exec(text)
  if (!m) throw new TargetError('connect', `not a target: ${JSON.stringify(text)} (expected "local", "ssh://[user@]host[:port]" or "vm:<kernel>")`)
  const host = m[2]!.replace(/^\[|\]$/g, '')
  const port = m[3] ? Number(m[3]) : undefined
  return { kind: 'ssh', host, user: m[1], port, identity: extra.identity, knownHosts: extra.knownHosts }
}

export async function connectTarget(spec: TargetSpec | string, options: ConnectOptions = {}): Promise<Target> {
  const s = typeof spec === 'string' ? parseTargetSpec(spec) : spec
  switch (s.kind) {
    case 'local':
      return connectLocal({ env: s.env, ...options })
    case 'ssh':
      return connectSsh({ ...s, ...options })
    case 'vm': {
      let image: string
      try {
        image = await resolveKernelImage(s.kernel)
      } catch (e) {
        throw new TargetError('connect', errorMessage(e))
      }
      return connectVm({ kernel: s.kernel, image, bootArgs: s.bootArgs, memoryMb: s.memoryMb, accel: s.accel, onTerminalData: options.onTerminalData, onTerminal: options.onTerminal, bootTimeoutMs: options.readyTimeoutMs })
    }
  }
}

export type { Target, TargetFacts, ExecOptions, ExecResult, StreamHandle, TerminalInput } from './types'
export { TargetError, errorMessage } from './errors'
export { shellQuote, shellCommand } from './quote'
