/**
 * The kernel config fragment (resources/kernel/config/lab.config) and the check that the final
 * .config really has what it asked for: Kconfig silently drops an option whose dependencies are off
 * (KPROBES without MODULES, for one), so every request is verified after `make olddefconfig`.
 */

/** One line of a fragment: `CONFIG_X=value`, or `# CONFIG_X is not set` (value null). */
export interface ConfigRequest {
  symbol: string
  value: string | null
}

export function parseConfig(text: string): Map<string, string | null> {
  const out = new Map<string, string | null>()
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    const set = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line)
    if (set) {
      out.set(set[1]!, set[2]!)
      continue
    }
    const unset = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/.exec(line)
    if (unset) out.set(unset[1]!, null)
  }
  return out
}

export function parseFragment(text: string): ConfigRequest[] {
  return [...parseConfig(text)].map(([symbol, value]) => ({ symbol, value }))
}

export interface ConfigProblem {
  symbol: string
  wanted: string | null
  got: string | null
}

/**
 * What the final .config got wrong: each request not met, plus every option built as a module
 * (everything must be built in, so that an initramfs without modules boots the kernel).
 */
export function checkConfig(requests: ConfigRequest[], finalText: string): ConfigProblem[] {
  const final = parseConfig(finalText)
  const problems: ConfigProblem[] = []
  for (const r of requests) {
    const got = final.get(r.symbol) ?? null
    if (got !== r.value) problems.push({ symbol: r.symbol, wanted: r.value, got })
  }
  for (const [symbol, value] of final) if (value === 'm' && !problems.some((p) => p.symbol === symbol)) problems.push({ symbol, wanted: 'y (nothing as a module)', got: 'm' })
  return problems
}

export function formatConfigProblems(problems: ConfigProblem[]): string {
  const lines = problems.map((p) => `  ${p.symbol}: asked for ${p.wanted ?? 'not set'}, the final .config has ${p.got ?? 'it not set'}`)
  return [
    'the kernel config does not have what the fragment asks for (Kconfig drops an option whose dependencies are off; `make menuconfig` and search for the symbol shows what it depends on):',
    ...lines,
  ].join('\n')
}
