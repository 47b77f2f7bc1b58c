/**
 * The SSH target against a real sshd on loopback, with host-key checking on.
 * (Written by the 09:35 targets/runs engineer; see COORDINATION.md.)
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { connectTarget, TargetError, type Target } from '../../src/main/target'
import { startSshd, sshdAvailable, freePort, type SshdFixture } from './fixtures/sshd'

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
    const t: Target = await connectTarget({ kind: 'ssh', host: '127.0.0.1', user: 'root', port: sshd.port, identity: sshd.identity, knownHosts: sshd.knownHosts })
    try {
      expect(t.label).toBe(`ssh://root@127.0.0.1:${sshd.port}`)
      const r = await t.exec('echo "$SSH_CONNECTION" | cut -d" " -f4; exit_with() { return $1; }; exit_with 3')
      expect(r).toEqual({ code: 3, output: `${sshd.port}\n` })
      const facts = await t.facts()
      expect(facts.root).toBe(true)
      expect(facts.pageSize).toBeGreaterThan(0)
      const bytes = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 31 + 7) & 255)
      const path = `/tmp/splice-lab-ssh-upload-${process.pid}`
      await t.upload(path, bytes, 0o600)
      expect((await t.exec(`stat -c '%s %a' ${path} && rm -f ${path}`)).output).toBe('70000 600\n')
      let got = ''
      const s = await t.stream('echo one; echo two; sleep 30', (d) => (got += d))
      const until = Date.now() + 10_000
      while (!got.includes('two') && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
      expect(got).toBe('one\ntwo\n')
      await s.stop()
      expect(typeof (await s.done)).toBe('number')
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
