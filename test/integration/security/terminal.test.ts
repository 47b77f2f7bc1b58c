/**
 * Issue 15, part 3: typed terminal input reaches the driven shell only while ssh asks a question
 * (host key, password), one answer at a time. Text injected while a target connects, while a
 * command runs and during a whole run is dropped: the file it would create never appears. A
 * host-key answer still connects.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { connectTarget, type Target, type TerminalInput } from '../../../src/main/target'
import { endsWithPrompt } from '../../../src/main/target/session'
import { Lab } from '../../../src/main/lab/lab'
import { validateScenario } from '../../../src/shared/scenario'
import { startSshd, sshdAvailable, type SshdFixture } from '../fixtures/sshd'
import { runSkipReason } from '../fixtures/lab'

const marks: string[] = []
/** A path the injected command would create; removed after each test. */
const mark = (label: string): string => {
  const p = join(tmpdir(), `splice-lab-injected-${label}-${process.pid}`)
  rmSync(p, { force: true })
  marks.push(p)
  return p
}
afterEach(() => {
  for (const p of marks.splice(0)) rmSync(p, { force: true })
})

/** Types `text` every few ms until stopped, as a person (or a page) hammering the terminal would. */
function hammer(input: () => TerminalInput | null, text: string): () => void {
  const timer = setInterval(() => input()?.write(text), 5)
  return () => clearInterval(timer)
}

describe('which output counts as a prompt', () => {
  it("opens only for ssh's questions, not for a line that arrives in pieces", () => {
    expect(endsWithPrompt('Are you sure you want to continue connecting (yes/no/[fingerprint])? ')).toBe(true)
    expect(endsWithPrompt("\r\nroot@127.0.0.1's password: ")).toBe(true)
    expect(endsWithPrompt("Enter passphrase for key '/root/.ssh/id_ed25519': ")).toBe(true)
    expect(endsWithPrompt('Warning: ')).toBe(false)
    expect(endsWithPrompt("root@127.0.0.1's password: \r\n")).toBe(false)
    expect(endsWithPrompt('$ ')).toBe(false)
  })
})

describe('typed input and the local driven shell', () => {
  let t: Target | undefined
  afterAll(async () => t?.dispose())

  it('drops text typed while the target connects', async () => {
    const file = mark('connect')
    let input: TerminalInput | null = null
    const stop = hammer(() => input, `touch ${file}\r`)
    try {
      t = await connectTarget('local', { onTerminal: (i) => (input = i) })
    } finally {
      stop()
    }
    expect((await t.exec('echo ready')).output).toBe('ready\n')
    expect(existsSync(file)).toBe(false)
  })

  it('drops text typed while a command runs, including a command reading the terminal', async () => {
    const file = mark('exec')
    const stop = hammer(() => ({ write: (d) => t!.writeTerminal(d), resize: () => undefined }), `touch ${file}\r`)
    try {
      await t!.exec('sleep 0.5')
      expect((await t!.exec('read -r -t 1 a < /dev/tty; echo "[$a]"')).output).toBe('[]\n')
    } finally {
      stop()
    }
    expect((await t!.exec('echo still framed')).output).toBe('still framed\n')
    expect(existsSync(file)).toBe(false)
  })

  const skip = runSkipReason()
  it.skipIf(skip)(`drops text typed during a whole run${skip ? ` (skipped: ${skip})` : ''}`, async () => {
    const file = mark('run')
    const parsed = validateScenario(
      { name: 'inject', files: [{ id: 'f', size: '4p' }], pipes: [{ id: 'p' }], ops: [{ op: 'splice', from: { file: 'f', offset: 0 }, to: { pipe: 'p' }, len: '4p' }, { op: 'drain', pipe: 'p' }] },
      'inject',
    )
    if (!parsed.ok) throw new Error('scenario')
    const target = t!
    const stop = hammer(() => ({ write: (d) => target.writeTerminal(d), resize: () => undefined }), `touch ${file}\r`)
    // The lab owns the target from here and ends it with itself.
    const lab = await Lab.open(target, { records: null, scratchId: `inject-${process.pid}` })
    t = undefined
    let record
    try {
      record = await lab.start(parsed.scenario, { fs: 'tmpfs' }).done
    } finally {
      stop()
      await lab.dispose()
    }
    expect(record.error).toBeUndefined()
    expect(existsSync(file)).toBe(false)
  })
})

const sshSkip = !sshdAvailable() && process.env.CI !== 'true'
describe.skipIf(sshSkip)('typed input and ssh prompts (real sshd on 127.0.0.1)', () => {
  let sshd: SshdFixture
  beforeAll(async () => {
    sshd = await startSshd()
  })
  afterAll(async () => sshd?.stop())

  it('passes one host-key answer and drops what comes before the question and after the Enter', async () => {
    const before = mark('before-question')
    const after = mark('after-answer')
    const knownHosts = join(sshd.dir, 'empty_known_hosts')
    writeFileSync(knownHosts, '')
    let input: TerminalInput | null = null
    let seen = ''
    let asked = false
    const stop = hammer(() => (asked ? null : input), `touch ${before}\r`)
    let t: Target | undefined
    try {
      t = await connectTarget(
        { kind: 'ssh', host: '127.0.0.1', user: 'root', port: sshd.port, identity: sshd.identity, knownHosts },
        {
          readyTimeoutMs: 20_000,
          onTerminal: (i) => (input = i),
          onTerminalData: (d) => {
            seen += d
            if (!asked && /continue connecting \(yes\/no/.test(seen)) {
              asked = true
              input!.write(`yes\rtouch ${after}\r`)
            }
          },
        },
      )
      expect(asked).toBe(true)
      expect((await t.exec('echo connected')).output).toBe('connected\n')
      t.writeTerminal(`touch ${after}\r`)
      expect((await t.exec('echo still framed')).output).toBe('still framed\n')
    } finally {
      stop()
      await t?.dispose()
    }
    expect(existsSync(before)).toBe(false)
    expect(existsSync(after)).toBe(false)
  })
})
