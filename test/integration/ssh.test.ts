/**
 * The SSH target against a real sshd on loopback, with host-key checking on: a known key works, a
 * different key is refused, an unknown key is a question only a person answers (in the terminal
 * data stream), a refused port and a dropped connection are clear errors.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { connectTarget, TargetError, type Target } from '../../src/main/target'
import { startSshd, sshdAvailable, freePort, type SshdFixture } from './fixtures/sshd'
import type { TerminalInput } from '../../src/main/target'

/** Connects with an empty known_hosts; `answer` is typed when ssh asks about the unknown key. */
async function connectUnknownHost(sshd: SshdFixture, answer: string, file: string, configFile?: string): Promise<{ result: Target | TargetError; asked: boolean; seen: string }> {
  writeFileSync(file, '')
  let seen = ''
  let asked = false
  let terminal: TerminalInput | null = null
  const result = await connectTarget(
    { kind: 'ssh', host: '127.0.0.1', user: 'root', port: sshd.port, identity: sshd.identity, knownHosts: file, configFile },
    {
      readyTimeoutMs: 20_000,
      onTerminal: (t) => (terminal = t),
      onTerminalData: (d) => {
        seen += d
        if (!asked && /continue connecting \(yes\/no/.test(seen)) {
          asked = true
          terminal!.write(answer + '\r')
        }
      },
    },
  ).catch((e: unknown) => e as TargetError)
  return { result, asked, seen }
}

const CI = process.env.CI === 'true'
const skip = !sshdAvailable() && !CI

describe.skipIf(skip)('ssh target (real sshd on 127.0.0.1)', () => {
  let sshd: SshdFixture
  beforeAll(async () => {
    sshd = await startSshd()
  })
  afterAll(async () => {
    await sshd?.stop()
  })

  it('runs framed commands, uploads and streams over ssh with the host key checked', async () => {
    const t: Target = await connectTarget(sshd.spec)
    try {
      expect(t.label).toBe(`ssh://root@127.0.0.1:${sshd.port}`)
      const r = await t.exec('echo "$SSH_CONNECTION" | cut -d" " -f4; exit_with() { return $1; }; exit_with 3')
      expect(r).toEqual({ code: 3, output: `${sshd.port}\n` })
      // ^C travels through ssh's pty to the remote command; the session stays usable.
      const late = await t.exec('echo started; sleep 30', { timeoutMs: 500 }).catch((e: unknown) => e as TargetError)
      expect((late as TargetError).code).toBe('timeout')
      expect((late as TargetError).partialOutput).toContain('started')
      expect((await t.exec('echo still here')).output).toBe('still here\n')
      const facts = await t.facts()
      expect(facts.root).toBe(true)
      expect(facts.pageSize).toBeGreaterThan(0)
      const bytes = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 31 + 7) & 255)
      const path = `/tmp/splice-lab-ssh-upload-${process.pid}`
      await t.upload(path, bytes, 0o600)
      expect((await t.exec(`stat -c '%s %a' ${path} && rm -f ${path}`)).output).toBe('70000 600\n')
      let got = ''
      const s = await t.stream('echo one; echo two; exec sleep 30.4321', (d) => (got += d))
      const until = Date.now() + 10_000
      while (!got.includes('two') && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
      expect(got).toBe('one\ntwo\n')
      await s.stop()
      expect(typeof (await s.done)).toBe('number')
      // Stopping ends the command on the far side too (a left-over `cat trace_pipe` would keep its
      // ftrace instance busy).
      const gone = Date.now() + 5_000
      let left = ''
      do {
        left = (await t.exec('pgrep -f "sleep 30.4321" || true')).output.trim()
        if (left) await new Promise((r) => setTimeout(r, 100))
      } while (left && Date.now() < gone)
      expect(left).toBe('')
      // A remote command killed by a signal is not a clean exit.
      let pid = ''
      const k = await t.stream('echo $$; exec sleep 30', (d) => (pid += d))
      const until2 = Date.now() + 10_000
      while (!/\d+\n/.test(pid) && Date.now() < until2) await new Promise((r) => setTimeout(r, 20))
      await t.exec(`kill -KILL ${Number(pid.trim())}`)
      expect(await k.done).toBe(128 + 9)
    } finally {
      await t.dispose()
    }
  })

  it('refuses a server whose host key differs from known_hosts, saying "host key mismatch"', async () => {
    const err = await connectTarget({ kind: 'ssh', host: '127.0.0.1', user: 'root', port: sshd.port, identity: sshd.identity, knownHosts: sshd.wrongKnownHosts }).then(
      () => null,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(TargetError)
    expect((err as TargetError).code).toBe('host-key')
    expect((err as TargetError).message).toContain('host key mismatch')
  })

  it('asks a person about an unknown host key in the terminal, and proceeds only on "yes"', async () => {
    const file = join(sshd.dir, 'fresh_known_hosts')
    const { result, asked } = await connectUnknownHost(sshd, 'yes', file)
    expect(asked).toBe(true)
    expect(result).not.toBeInstanceOf(TargetError)
    const t = result as Target
    try {
      expect((await t.exec('echo in')).output).toBe('in\n')
      // ssh recorded the key the person accepted, so the next connect asks nothing.
      expect(readFileSync(file, 'utf8')).toContain(readFileSync(join(sshd.dir, 'host_key.pub'), 'utf8').split(' ')[1])
    } finally {
      await t.dispose()
    }
  })

  it('refuses an unknown host key the person declines', async () => {
    const file = join(sshd.dir, 'declined_known_hosts')
    const { result, asked } = await connectUnknownHost(sshd, 'no', file)
    expect(asked).toBe(true)
    expect(result).toBeInstanceOf(TargetError)
    expect((result as TargetError).code).toBe('host-key')
    expect((result as TargetError).message).toMatch(/host key verification failed/)
    expect(readFileSync(file, 'utf8')).toBe('')
  })

  it('still asks when the ssh config says StrictHostKeyChecking no (and refuses that as an option)', async () => {
    const config = join(sshd.dir, 'lax_ssh_config')
    writeFileSync(config, 'Host *\n  StrictHostKeyChecking no\n')
    const file = join(sshd.dir, 'lax_known_hosts')
    const { result, asked, seen } = await connectUnknownHost(sshd, 'no', file, config)
    expect(seen).toMatch(/StrictHostKeyChecking (no|false); the lab asks instead/)
    expect(asked).toBe(true)
    expect((result as TargetError).code).toBe('host-key')
    expect(readFileSync(file, 'utf8')).toBe('')
    const err = await connectTarget({ kind: 'ssh', host: '127.0.0.1', port: sshd.port, options: ['StrictHostKeyChecking=accept-new'] }).catch((e: unknown) => e as TargetError)
    expect((err as TargetError).code).toBe('host-key')
    expect((err as TargetError).message).toMatch(/never accepts host keys silently/)
  })

  it('says the session is dead, with the output so far, when the connection drops mid-command', async () => {
    const t = await connectTarget(sshd.spec)
    try {
      // The remote shell's parent is sshd's process for this connection: killing it drops the link.
      const sshdPid = Number((await t.exec('echo $PPID')).output.trim())
      expect(sshdPid).toBeGreaterThan(1)
      let streamed = ''
      const s = await t.stream('echo streaming; sleep 60', (d) => (streamed += d))
      const running = t.exec('echo before; sleep 60', { timeoutMs: 30_000 }).catch((e: unknown) => e as TargetError)
      const until = Date.now() + 10_000
      while (!streamed.includes('streaming') && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
      await new Promise((r) => setTimeout(r, 300))
      process.kill(sshdPid, 'SIGKILL')
      const err = await running
      expect(err).toBeInstanceOf(TargetError)
      expect((err as TargetError).code).toBe('dead')
      expect((err as TargetError).message).toMatch(/session ended/)
      expect((err as TargetError).partialOutput).toContain('before')
      // The stream shared the connection (ControlMaster), so it ends too instead of hanging.
      expect(typeof (await s.done)).toBe('number')
      expect(((await t.exec('true').catch((e: unknown) => e)) as TargetError).code).toBe('dead')
    } finally {
      await t.dispose()
    }
  }, 30_000)

  it('reports a closed port as connection refused', async () => {
    const port = await freePort()
    const err = await connectTarget({ kind: 'ssh', host: '127.0.0.1', user: 'root', port, identity: sshd.identity, knownHosts: sshd.knownHosts }).then(
      () => null,
      (e: unknown) => e,
    )
    expect((err as TargetError).code).toBe('refused')
    expect((err as TargetError).message).toMatch(/connection refused/)
  })
})
