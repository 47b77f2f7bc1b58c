/**
 * Every value that reaches a shell goes through shellQuote: POSIX single quotes, with embedded single
 * quotes closed, escaped and reopened. Safe for any byte string except NUL (which no shell argument
 * can hold, so it is refused).
 */
export function shellQuote(value: string | number): string {
  const s = String(value)
  if (s.includes('\0')) throw new Error('a shell argument cannot contain a NUL byte')
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s
  return `'${s.replace(/'/g, `'\\''`)}'`
}

/** A command line from a program and its arguments, each quoted. */
export function shellCommand(program: string, ...args: (string | number)[]): string {
  return [program, ...args].map(shellQuote).join(' ')
}
