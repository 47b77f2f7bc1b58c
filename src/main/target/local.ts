/** The machine the lab runs on, through a local pty running bash. */
import { ShellTarget, type StartOptions } from './shell-target'
import type { SessionSpawn } from './session'
import type { TargetError } from './errors'

export class LocalTarget extends ShellTarget {
  readonly kind = 'local' as const
  readonly label = 'local'

  constructor(private readonly env: Record<string, string> = {}) {
    super()
  }

  protected shellSpawn(bootstrap: string): SessionSpawn {
    return { file: '/bin/sh', args: ['-c', bootstrap], env: this.env }
  }

  protected streamSpawn(command: string): SessionSpawn {
    return { file: '/bin/sh', args: ['-c', command], env: this.env }
  }

  interactiveSpawn(): SessionSpawn {
    return { file: '/bin/sh', args: ['-c', 'exec "${SHELL:-/bin/sh}" -il'], env: this.env }
  }

  protected explainStartFailure(e: TargetError): TargetError {
    return e
  }
}

export async function connectLocal(options: { env?: Record<string, string> } & Partial<StartOptions> = {}): Promise<LocalTarget> {
  const t = new LocalTarget(options.env)
  await t.start({ ...options, readyTimeoutMs: options.readyTimeoutMs ?? 15_000 })
  return t
}
