/**
 * A remote machine through the system `ssh` in a pty, so ~/.ssh/config, agents and known_hosts
 * work as people expect. Host keys are never accepted silently: no StrictHostKeyChecking override,
 * so an unknown key is a question in the terminal view (a person answers it) and a changed key is
 * an error. Streams reuse the first connection through an OpenSSH control socket, so they need no
 * second authentication.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ShellTarget, type StartOptions } from './shell-target'
import type { SessionSpawn } from './session'
import { TargetError } from './errors'
import { shellQuote } from './quote'

export interface SshOptions {
  host: string
  user?: string
  port?: number
  /** Private key file (-i, with IdentitiesOnly so the agent's other keys are not tried first). */
  identity?: string
  /** A known_hosts file to use instead of ~/.ssh/known_hosts (UserKnownHostsFile). */
  knownHosts?: string
  /** An ssh_config file instead of ~/.ssh/config (-F). */
  configFile?: string
  /** Extra `-o Key=Value` options, validated (StrictHostKeyChecking may not be loosened). */
  options?: string[]
  /** ssh binary (default "ssh" from PATH). */
  ssh?: string
}

/** Hostnames, users: what ssh accepts, and nothing that could become an option (leading "-"). */
const HOST_RE = /^[A-Za-z0-9_.:[\]%-]+$/
const USER_RE = /^[A-Za-z0-9_.][A-Za-z0-9_.@-]*$/
const OPTION_RE = /^[A-Za-z]+=[^\s]+$/
/** StrictHostKeyChecking values that accept a host key without asking (ssh_config(5)). */
const LAX_HOST_KEY_CHECKING = /^(no|off|false|accept-new)$/i

export class SshTarget extends ShellTarget {
  readonly kind = 'ssh' as const
  readonly label: string
  private readonly controlDir: string
  private readonly base: string[]

  constructor(private readonly o: SshOptions) {
    super()
    if (!HOST_RE.test(o.host) || o.host.startsWith('-')) throw new TargetError('connect', `not a valid host name: ${JSON.stringify(o.host)}`)
    if (o.user !== undefined && !USER_RE.test(o.user)) throw new TargetError('connect', `not a valid user name: ${JSON.stringify(o.user)}`)
    if (o.port !== undefined && !(Number.isInteger(o.port) && o.port > 0 && o.port < 65536)) throw new TargetError('connect', `not a valid port: ${o.port}`)
    for (const opt of o.options ?? []) {
      if (!OPTION_RE.test(opt)) throw new TargetError('connect', `not a valid ssh option (expected Key=Value): ${JSON.stringify(opt)}`)
      const [key, value] = opt.split('=', 2) as [string, string]
      if (/^StrictHostKeyChecking$/i.test(key) && LAX_HOST_KEY_CHECKING.test(value))
        throw new TargetError('host-key', `refusing ${opt}: Splice Lab never accepts host keys silently; an unknown key is asked about in the terminal view`)
    }
    this.label = `ssh://${o.user ? o.user + '@' : ''}${o.host}${o.port ? ':' + o.port : ''}`
    this.controlDir = mkdtempSync(join(tmpdir(), 'splice-lab-ssh-'))
    const args: string[] = []
    if (o.configFile) args.push('-F', o.configFile)
    if (o.port) args.push('-p', String(o.port))
    if (o.user) args.push('-l', o.user)
    if (o.identity) args.push('-i', o.identity, '-o', 'IdentitiesOnly=yes')
    if (o.knownHosts) args.push('-o', `UserKnownHostsFile=${o.knownHosts}`)
    for (const opt of o.options ?? []) args.push('-o', opt)
    // Notice a dead link within ~15 s instead of waiting for TCP to give up.
    args.push('-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=3')
    args.push('-o', `ControlPath=${join(this.controlDir, 'cm')}`)
    this.base = args
  }

  /**
   * A user's ssh_config may say `StrictHostKeyChecking no` or `accept-new`; the lab does not
   * inherit that: `ssh -G` tells the effective value, and a lax one is overridden with `ask`
   * (options on the command line win over the config files, ssh_config(5)), so an unknown key
   * becomes a question in the terminal and a changed key an error. Returns a note when it did so.
   */
  async enforceHostKeyChecking(): Promise<string | null> {
    const effective = await new Promise<string>((resolve) => {
      execFile(this.o.ssh ?? 'ssh', ['-G', ...this.base, '--', this.o.host], { timeout: 10_000 }, (err, stdout) => resolve(err ? '' : stdout))
    })
    const value = /^stricthostkeychecking\s+(\S+)/m.exec(effective)?.[1] ?? ''
    if (!LAX_HOST_KEY_CHECKING.test(value)) return null
    this.base.unshift('-o', 'StrictHostKeyChecking=ask')
    const note = `the ssh configuration says StrictHostKeyChecking ${value}; the lab asks instead (host keys are never accepted silently)`
    this.connectNotes.push(note)
    return note
  }

  protected shellSpawn(bootstrap: string): SessionSpawn {
    // -tt: a remote pty even though ours is not a terminal for ssh's purposes; ControlMaster=yes
    // makes this session the one the streams multiplex over. The remote command runs in the
    // user's login shell, so hand it to sh explicitly.
    return {
      file: this.o.ssh ?? 'ssh',
      args: ['-tt', ...this.base, '-o', 'ControlMaster=yes', '-o', 'ControlPersist=no', '--', this.o.host, `exec sh -c ${shellQuote(bootstrap)}`],
    }
  }

  protected streamSpawn(command: string): SessionSpawn {
    // -T: no remote pty (a stream is bulk data; its wrapper ends the command when the channel's
    // input closes). BatchMode: a stream must never wait on a prompt nobody sees.
    return {
      file: this.o.ssh ?? 'ssh',
      args: ['-T', ...this.base, '-o', 'ControlMaster=no', '-o', 'BatchMode=yes', '--', this.o.host, `exec sh -c ${shellQuote(command)}`],
    }
  }

  interactiveSpawn(): SessionSpawn {
    // -tt and the user's login shell; over the driven session's control socket, so no second login.
    return { file: this.o.ssh ?? 'ssh', args: ['-tt', ...this.base, '-o', 'ControlMaster=no', '--', this.o.host] }
  }

  protected explainStartFailure(e: TargetError): TargetError {
    const out = e.partialOutput
    const lines = out.replace(/\r/g, '').split('\n').map((l) => l.trim()).filter(Boolean)
    const tail = lines.slice(-4).join(' | ')
    if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed|host key for .* has changed/i.test(out)) {
      const mismatch = /HAS CHANGED|has changed/i.test(out)
      return new TargetError(
        'host-key',
        mismatch
          ? `${this.label}: host key mismatch — the server's key differs from the one in known_hosts${this.o.knownHosts ? ` (${this.o.knownHosts})` : ''}; refusing to connect. If the machine was really reinstalled, remove the old key with ssh-keygen -R.`
          : `${this.label}: host key verification failed (the key is not known and was not accepted); connect once in the terminal view or add it to known_hosts`,
        out,
      )
    }
    if (/Connection refused/i.test(out)) return new TargetError('refused', `${this.label}: connection refused (is sshd running and listening on that port?)`, out)
    if (/Permission denied|Too many authentication failures/i.test(out)) return new TargetError('auth', `${this.label}: authentication failed: ${tail}`, out)
    if (/Could not resolve hostname|No route to host|timed out|Network is unreachable/i.test(out)) return new TargetError('connect', `${this.label}: cannot reach the host: ${tail}`, out)
    return new TargetError(e.code, `${this.label}: ${e.message}${tail ? `: ${tail}` : ''}`, out)
  }

  protected override async afterDispose(): Promise<void> {
    rmSync(this.controlDir, { recursive: true, force: true })
  }
}

export async function connectSsh(o: SshOptions & Partial<StartOptions>): Promise<SshTarget> {
  const t = new SshTarget(o)
  try {
    const note = await t.enforceHostKeyChecking()
    if (note) o.onTerminalData?.(`[splice-lab] ${note}\r\n`)
    await t.start({ ...o, readyTimeoutMs: o.readyTimeoutMs ?? 120_000 })
  } catch (e) {
    await t.dispose().catch(() => undefined)
    throw e
  }
  return t
}
