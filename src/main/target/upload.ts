/**
 * Writing a file on a target through its driven shell alone (no scp, no second channel): base64
 * chunks appended to a temporary file, checked by sha256, then moved into place. Local, ssh and VM
 * targets share it.
 */
import { createHash } from 'node:crypto'
import type { ExecOptions, ExecResult } from './types'
import { TargetError } from './errors'
import { newNonce } from './framing'
import { shellQuote } from './quote'

/** base64 characters per upload command: big enough for few round trips, small enough to stay responsive. */
const UPLOAD_CHUNK = 256 * 1024

export async function uploadThroughShell(
  exec: (command: string, options?: ExecOptions) => Promise<ExecResult>,
  path: string,
  content: string | Uint8Array,
  mode = 0o644,
): Promise<void> {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content)
  const sha = createHash('sha256').update(bytes).digest('hex')
  const b64 = bytes.toString('base64')
  const tmp = `${path}.upload-${newNonce()}`
  const q = shellQuote(tmp)
  const must = async (cmd: string, what: string): Promise<string> => {
    const r = await exec(cmd, { timeoutMs: 60_000 })
    if (r.code !== 0) throw new TargetError('upload', `upload of ${path} failed while ${what}: ${r.output.trim() || `exit ${r.code}`}`)
    return r.output
  }
  try {
    await must(`mkdir -p -- "$(dirname -- ${shellQuote(path)})" && : > ${q}`, 'creating the file')
    // base64 text has no quote characters, so each chunk is one literal argument.
    for (let i = 0; i < b64.length; i += UPLOAD_CHUNK) {
      await must(`printf %s ${shellQuote(b64.slice(i, i + UPLOAD_CHUNK))} | base64 -d >> ${q}`, `writing bytes from ${(i / 4) * 3}`)
    }
    // The file on stdin: sha256sum escapes a name holding a backslash or a newline (and prefixes
    // the line with a backslash), which read as a damaged upload; only the hash is compared.
    const out = await must(`sha256sum < ${q}`, 'checking the sha256')
    const got = /\b[0-9a-f]{64}\b/.exec(out)?.[0] ?? out.trim()
    if (got !== sha) throw new TargetError('upload', `upload of ${path} arrived damaged (sha256 ${got}, expected ${sha})`)
    await must(`chmod ${(mode & 0o7777).toString(8)} -- ${q} && mv -f -- ${q} ${shellQuote(path)}`, 'moving it into place')
  } catch (e) {
    await exec(`rm -f -- ${q}`).catch(() => undefined)
    throw e
  }
}
