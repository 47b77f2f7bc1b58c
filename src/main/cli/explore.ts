/**
 * `splice-lab explore`: generated scenarios on a target against the model (and, on a fix kernel,
 * against the fix's promise), every disagreement shrunk to a minimal scenario and written as a
 * preset with the kernel's observed outcome beside it.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Command } from 'commander'
import { errorMessage } from '../target'
import { explore, findingText, kernelPolicy, unfinishedText, type ExploreSummary, type Finding } from '../lab/explore'
import { parseFsList } from './run'
import { progress } from './output'
import { stopSignal } from './stop'
import { openLab, targetOptions, type TargetCliOptions } from './connect'
import { POLICIES, type Policy } from '../../shared/results'
import { expectFileName, expectedOutcomes } from '../../shared/run/expect'

interface ExploreCliOptions extends TargetCliOptions {
  fs: string
  seed?: string
  budget?: string
  count?: string
  out?: string
  policy?: string
  batch?: string
  json?: boolean
}

/** "90s", "10m", "1h" or plain seconds → ms. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h)?$/.exec(text.trim())
  if (!m) throw new Error(`--budget: expected a duration like 90s, 10m or 1h, got "${text}"`)
  const ms = Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 's' | 'm' | 'h']
  if (!(ms > 0) || ms > 7 * 24 * 3_600_000) throw new Error(`--budget: expected between 1 s and 7 days, got "${text}"`)
  return ms
}

function parseCount(text: string, flag: string, max: number): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`${flag}: expected a whole number from 1 to ${max}, got "${text}"`)
  return n
}

export function registerExplore(program: Command): void {
  targetOptions(program.command('explore'))
    .description('generate scenarios, run them on a kernel and the model, and shrink every disagreement to a minimal scenario')
    .option('--fs <list>', 'filesystems to explore on (comma-separated)', 'tmpfs')
    .option('--seed <n>', 'seed of the generator (default: from the clock, printed)')
    .option('--budget <duration>', 'stop after this long (90s, 10m, 1h)')
    .option('--count <n>', 'stop after this many scenarios')
    .option('--policy <policy>', `hold the kernel to this policy (${POLICIES.join(', ')}; default: the kernel's splice_policy= boot argument, else stock)`)
    .option('--batch <n>', 'scenarios per probe session', '40')
    .option('--out <dir>', 'write each minimal case as a preset (<name>.yaml) with its observed outcome (<name>.expect/)')
    .option('--json', 'print the summary as JSON')
    .action(async (o: ExploreCliOptions) => {
      process.exitCode = await exploreCommand(o)
    })
}

async function exploreCommand(o: ExploreCliOptions): Promise<number> {
  let options
  try {
    if (!o.budget && !o.count) throw new Error('give --budget (e.g. 10m) or --count (e.g. 500)')
    if (o.policy && !(POLICIES as readonly string[]).includes(o.policy)) throw new Error(`--policy: expected one of ${POLICIES.join(', ')}, got "${o.policy}"`)
    options = {
      filesystems: parseFsList(o.fs),
      seed: o.seed !== undefined ? parseCount(o.seed, '--seed', 2 ** 31 - 1) : Date.now() % 1_000_000,
      budgetMs: o.budget ? parseDuration(o.budget) : undefined,
      count: o.count ? parseCount(o.count, '--count', 10_000_000) : undefined,
      batchSize: parseCount(o.batch ?? '40', '--batch', 1000),
    }
  } catch (e) {
    console.error(`splice-lab explore: ${errorMessage(e)}`)
    return 2
  }
  const p = progress()
  const lab = await openLab('explore', o, p)
  if (!lab) return 1
  const stop = stopSignal()
  try {
    const facts = await lab.facts()
    const policy = (o.policy as Policy | undefined) ?? (await kernelPolicy(lab.target))
    const fixOracle = policy !== 'stock'
    if (!o.json) console.error(`exploring ${lab.target.label} (Linux ${facts.kernel}) against ${policy}${fixOracle ? ' and the fix’s promise' : ''}, seed ${options.seed}, on ${options.filesystems.join(', ')}`)
    const summary = await explore(lab, {
      ...options,
      policy,
      fixOracle,
      signal: stop.signal,
      onProgress: (s) =>
        p.say(`${s.tried} scenarios, ${s.rate.toFixed(1)}/s, ${s.found} disagreements, ${s.shrunk} shrunk${s.failed ? `, ${s.failed} failed` : ''}${s.phase === 'shrinking' ? ' — shrinking…' : ''}`),
      onFinding: (f) => {
        if (o.json) return
        p.clear()
        console.log(formatFinding(f))
      },
    })
    p.clear()
    if (o.out) await writeFindings(o.out, summary, facts.kernel)
    console.log(o.json ? JSON.stringify(summary, null, 1) : formatSummary(summary, o.out))
    return 0
  } catch (e) {
    p.clear()
    if (!stop.quiet) console.error(`splice-lab explore: ${errorMessage(e)}`)
    return 1
  } finally {
    stop.release()
    await lab.dispose()
  }
}

function formatFinding(f: Finding): string {
  const what = f.kind === 'fix' ? 'FIX FINDING: data the fix still lets change' : 'disagreement with the model'
  const ops = f.minimal.ops.map((op) => `    ${JSON.stringify(op)}`).join('\n')
  return `${what} on ${f.fs} (${f.reproduced}/${f.reruns} re-runs show it${f.reproduced === f.reruns ? ': deterministic' : f.reproduced ? ': a race' : ''}; shrunk in ${f.shrinkAttempts} runs)\n  files: ${JSON.stringify(f.minimal.files)}\n  ops:\n${ops}\n  ${f.reasons.join('\n  ')}`
}

function formatSummary(s: ExploreSummary, out?: string): string {
  const lines = [
    `${s.tried} scenarios in ${(s.elapsedMs / 1000).toFixed(1)} s (${s.rate.toFixed(1)}/s while running), seed ${s.seed}, ${s.filesystems.join(', ')}, against ${s.policy}; stopped by ${s.stoppedBy}`,
    `${s.findings.length} minimal cases (${s.duplicates} more disagreements shrank to one of them); ${s.failed} scenarios without a verdict`,
  ]
  const reasons = new Map<string, string[]>()
  for (const u of s.unfinished) reasons.set(u.reason, [...(reasons.get(u.reason) ?? []), `${u.scenario.name} (${u.fs})`])
  for (const [reason, names] of reasons) lines.push(`  ${names.length} × ${reason}: ${names.slice(0, 6).join(', ')}${names.length > 6 ? ', …' : ''}`)
  if (out && (s.findings.length || s.unfinished.length)) lines.push(`written to ${out}${s.unfinished.length ? ` (scenarios without a verdict in ${join(out, 'unfinished')})` : ''}`)
  return lines.join('\n')
}

async function writeFindings(dir: string, s: ExploreSummary, kernel: string): Promise<void> {
  await mkdir(dir, { recursive: true })
  for (const f of s.findings) {
    await writeFile(join(dir, `${f.minimal.name}.yaml`), findingText(f, s.seed))
    await mkdir(join(dir, `${f.minimal.name}.expect`), { recursive: true })
    const expected = expectedOutcomes(f.minimal, f.fs, kernel, f.outcome.observation)
    await writeFile(join(dir, `${f.minimal.name}.expect`, expectFileName(kernel, f.fs)), JSON.stringify(expected, null, 1) + '\n')
  }
  if (s.unfinished.length) await mkdir(join(dir, 'unfinished'), { recursive: true })
  for (const u of s.unfinished) await writeFile(join(dir, 'unfinished', `${u.scenario.name}.${u.fs}.yaml`), unfinishedText(u, s.seed))
  await writeFile(join(dir, 'summary.json'), JSON.stringify(s, null, 1) + '\n')
}
