/**
 * An event's `print fmt` (its TP_printk, as the format file shows it after macro expansion), compiled
 * once into a function that writes the same text trace_pipe prints for that event, from the binary
 * record. The format string is read like the kernel's vsnprintf (lib/vsprintf.c); the arguments are
 * C expressions over REC->field, compiled to closures (never to JS source: a format file from a remote
 * target is data, not code). Supported: integer and string literals, REC->field, casts, unary and
 * binary arithmetic, comparisons, ?:, __print_flags, __print_symbolic, __get_str and
 * __get_dynamic_array (kernel/trace/trace_output.c, trace_print_flags_seq / trace_print_symbols_seq).
 * Anything else is a FormatError naming the event and the construct, so the tracer falls back to text.
 *
 * Known difference: `%p` prints "(ptrval)" where the kernel prints a pointer hashed with a per-boot
 * secret (lib/vsprintf.c, ptr_to_id); the binary record holds the unhashed value or, for the page
 * pointers of kmem events, an expression over the kernel's own vmemmap_base, which it does not carry.
 */
import { FormatError, type EventFormat, type Field } from './format'

/** What an expression evaluates to: an integer (number while exact, else bigint), a string, or unknown. */
type Value = number | bigint | string | typeof UNKNOWN
export const UNKNOWN = Symbol('unknown')

/** The record being printed: its bytes, where its payload starts (common_type) and ends. */
export interface RecordView {
  view: DataView
  bytes: Uint8Array
  start: number
  end: number
  littleEndian: boolean
}

type Expr = (r: RecordView) => Value

// ---------------------------------------------------------------- tokens

type Token = { t: 'num'; v: bigint; unsigned: boolean } | { t: 'str'; v: string } | { t: 'id'; v: string } | { t: 'op'; v: string }

const OPS = ['->', '<<', '>>', '<=', '>=', '==', '!=', '&&', '||', '(', ')', '{', '}', ',', '?', ':', '+', '-', '*', '/', '%', '<', '>', '&', '|', '^', '~', '!', '.', '[', ']']

function tokenize(src: string, where: string): Token[] {
  const out: Token[] = []
  let i = 0
  while (i < src.length) {
    const c = src[i]!
    if (c === ' ' || c === '\t' || c === '\n') {
      i++
      continue
    }
    if (c === '"') {
      let s = ''
      i++
      while (i < src.length && src[i] !== '"') {
        if (src[i] === '\\') {
          const e = src[i + 1]
          s += e === 'n' ? '\n' : e === 't' ? '\t' : e === '0' ? '\0' : (e ?? '')
          i += 2
        } else s += src[i++]
      }
      if (i >= src.length) throw new FormatError(`${where}: unterminated string in print fmt`)
      i++
      // Adjacent literals concatenate, as in C.
      const prev = out[out.length - 1]
      if (prev?.t === 'str') prev.v += s
      else out.push({ t: 'str', v: s })
      continue
    }
    const num = /^(0[xX][0-9a-fA-F]+|\d+)([uUlL]*)/.exec(src.slice(i, i + 40))
    if (num && /[0-9]/.test(c)) {
      const text = num[1]!
      out.push({ t: 'num', v: text.length > 1 && text[0] === '0' && /^\d+$/.test(text) ? BigInt(`0o${text.slice(1)}`) : BigInt(text), unsigned: /u/i.test(num[2]!) })
      i += num[0].length
      continue
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i, i + 200))
    if (id) {
      out.push({ t: 'id', v: id[0] })
      i += id[0].length
      continue
    }
    const op = OPS.find((o) => src.startsWith(o, i))
    if (!op) throw new FormatError(`${where}: unexpected "${c}" in print fmt`)
    out.push({ t: 'op', v: op })
    i += op.length
  }
  return out
}

// ---------------------------------------------------------------- integer helpers

const SAFE = Number.MAX_SAFE_INTEGER
const norm = (v: bigint): number | bigint => (v >= -SAFE && v <= SAFE ? Number(v) : v)
const big = (v: number | bigint): bigint => (typeof v === 'bigint' ? v : BigInt(v))
const isInt = (v: Value): v is number | bigint => typeof v === 'number' || typeof v === 'bigint'

/** 2^(bits-1) for the integer widths C has (a table: Math.pow per value showed in profiles). */
const HALF: Record<number, number> = { 1: 1, 8: 2 ** 7, 16: 2 ** 15, 32: 2 ** 31, 64: 2 ** 63 }

/** v as a C integer of `bits` bits, signed or not. */
export function castInt(v: number | bigint, bits: number, signed: boolean): number | bigint {
  if (typeof v === 'number' && v >= 0 && v < (HALF[bits] ?? 2 ** (bits - 1))) return v
  return norm(signed ? BigInt.asIntN(bits, big(v)) : BigInt.asUintN(bits, big(v)))
}

/** 2^n for shifts by 0..63 (Math.pow per shift showed in profiles). */
const POW2 = Array.from({ length: 64 }, (_, n) => 2 ** n)

function arith(op: string, a: number | bigint, b: number | bigint): number | bigint {
  if (typeof a === 'number' && typeof b === 'number') {
    let r: number
    switch (op) {
      case '+': r = a + b; break
      case '-': r = a - b; break
      case '*': r = a * b; break
      case '/': if (b === 0) return 0; r = Math.trunc(a / b); break
      case '%': if (b === 0) return 0; r = a % b; break
      case '<<': r = b >= 0 && b < 64 ? a * POW2[b]! : NaN; break
      case '>>': r = a >= 0 && b >= 0 && b < 64 ? Math.floor(a / POW2[b]!) : NaN; break
      case '&': r = a >= 0 && b >= 0 && a < 2 ** 31 && b < 2 ** 31 ? a & b : NaN; break
      case '|': r = a >= 0 && b >= 0 && a < 2 ** 31 && b < 2 ** 31 ? a | b : NaN; break
      case '^': r = a >= 0 && b >= 0 && a < 2 ** 31 && b < 2 ** 31 ? a ^ b : NaN; break
      default: throw new Error(op)
    }
    if (Number.isSafeInteger(r)) return r
  }
  const x = big(a)
  const y = big(b)
  switch (op) {
    case '+': return norm(x + y)
    case '-': return norm(x - y)
    case '*': return norm(BigInt.asIntN(128, x * y))
    case '/': return y === 0n ? 0 : norm(x / y)
    case '%': return y === 0n ? 0 : norm(x % y)
    case '<<': return norm(BigInt.asUintN(64, x << y))
    case '>>': return norm(x >> y)
    case '&': return norm(x & y)
    case '|': return norm(x | y)
    case '^': return norm(x ^ y)
  }
  throw new Error(op)
}

const truthy = (v: Value): boolean | typeof UNKNOWN => (v === UNKNOWN ? UNKNOWN : typeof v === 'string' ? true : v != 0)

// ---------------------------------------------------------------- casts

/** Integer width of a cast's type, with signedness; null for a pointer or a type it keeps as is. */
function castOf(type: string): { bits: number; signed: boolean } | null {
  const t = type.replace(/\b(const|volatile)\b/g, '').replace(/\s+/g, ' ').trim()
  if (t.includes('*')) return null
  const unsigned = /\bunsigned\b/.test(t) || /^(u\d+|__u\d+|size_t|gfp_t|dev_t|pgoff_t|ino_t|uintptr_t|bool|_Bool|uint|ulong|ushort|uchar)$/.test(t)
  if (t === 'uint') return { bits: 32, signed: false }
  if (t === 'ulong') return { bits: 64, signed: false }
  if (t === 'ushort') return { bits: 16, signed: false }
  if (t === 'uchar') return { bits: 8, signed: false }
  const n = /^(?:__)?[us](\d+)$/.exec(t)
  if (n) return { bits: Number(n[1]), signed: t.replace(/^__/, '')[0] === 's' }
  if (/\blong long\b/.test(t) || /\blong\b/.test(t) || /^(size_t|ssize_t|loff_t|pgoff_t|ino_t|uintptr_t)$/.test(t)) return { bits: 64, signed: !unsigned }
  if (/\bshort\b/.test(t)) return { bits: 16, signed: !unsigned }
  if (/\bchar\b/.test(t)) return { bits: 8, signed: !unsigned }
  if (/^(bool|_Bool)$/.test(t)) return { bits: 1, signed: false }
  if (/\bint\b/.test(t) || t === 'unsigned' || t === 'signed' || /^(gfp_t|dev_t|pid_t)$/.test(t)) return { bits: 32, signed: !unsigned }
  return null
}

const TYPE_WORDS = new Set(['unsigned', 'signed', 'int', 'long', 'short', 'char', 'void', 'struct', 'union', 'enum', 'const', 'volatile', 'bool', '_Bool', 'uint', 'ulong', 'ushort', 'uchar'])
const isTypeWord = (w: string): boolean => TYPE_WORDS.has(w) || /^(?:__)?[us](8|16|32|64)$/.test(w) || /_t$/.test(w)

// ---------------------------------------------------------------- fields

function readInt(r: RecordView, offset: number, size: number, signed: boolean): number | bigint {
  return readField(r.view, offset, size, signed, r.littleEndian)
}

/** An integer field of 1, 2, 4 or 8 bytes: a number while exact, else a bigint; NaN for other sizes. */
export function readField(v: DataView, offset: number, size: number, signed: boolean, le: boolean): number | bigint {
  switch (size) {
    case 1: return signed ? v.getInt8(offset) : v.getUint8(offset)
    case 2: return signed ? v.getInt16(offset, le) : v.getUint16(offset, le)
    case 4: return signed ? v.getInt32(offset, le) : v.getUint32(offset, le)
    case 8: {
      const lo = v.getUint32(offset + (le ? 0 : 4), le)
      const hi = v.getUint32(offset + (le ? 4 : 0), le)
      if (hi < 0x200000) return hi * 4294967296 + lo
      if (signed && hi >= 0xffe00000) return (hi - 4294967296) * 4294967296 + lo
      return norm(signed ? v.getBigInt64(offset, le) : v.getBigUint64(offset, le))
    }
  }
  return NaN
}

/** A NUL-terminated string of bytes[from, to), as latin1 (what trace_seq writes byte for byte). */
export function cString(bytes: Uint8Array, from: number, to: number): string {
  let s = ''
  for (let i = from; i < to; i++) {
    const c = bytes[i]!
    if (c === 0) break
    s += String.fromCharCode(c)
  }
  return s
}

function fieldReader(f: Field): Expr {
  const o = f.offset
  if (f.dynamic) {
    const rel = f.dynamic === 'rel_loc'
    return (r) => {
      const loc = r.view.getUint32(r.start + o, r.littleEndian)
      const from = r.start + (loc & 0xffff) + (rel ? o + f.size : 0)
      return cString(r.bytes, from, Math.min(from + (loc >>> 16), r.end))
    }
  }
  if (f.arrayLength >= 0) {
    if (!/\bchar\b/.test(f.type)) return () => UNKNOWN
    return (r) => cString(r.bytes, r.start + o, f.size ? r.start + o + f.size : r.end)
  }
  if (![1, 2, 4, 8].includes(f.size)) return () => UNKNOWN
  const size = f.size
  const signed = f.signed
  return (r) => readInt(r, r.start + o, size, signed)
}

// ---------------------------------------------------------------- expressions (precedence climbing)

const BINARY: Record<string, number> = { '||': 4, '&&': 5, '|': 6, '^': 7, '&': 8, '==': 9, '!=': 9, '<': 10, '>': 10, '<=': 10, '>=': 10, '<<': 11, '>>': 11, '+': 12, '-': 12, '*': 13, '/': 13, '%': 13 }

class ExprParser {
  private i = 0
  constructor(
    private readonly tokens: Token[],
    private readonly format: EventFormat,
    private readonly where: string,
  ) {}

  private peek(k = 0): Token | undefined {
    return this.tokens[this.i + k]
  }
  private isOp(v: string, k = 0): boolean {
    const t = this.peek(k)
    return t?.t === 'op' && t.v === v
  }
  private expect(v: string): void {
    if (!this.isOp(v)) throw new FormatError(`${this.where}: expected "${v}" in print fmt`)
    this.i++
  }
  get done(): boolean {
    return this.i >= this.tokens.length
  }

  /** Comma-separated arguments at the top level (the print fmt's argument list). */
  args(): Expr[] {
    const out: Expr[] = []
    while (!this.done) {
      out.push(this.expr())
      if (!this.done) this.expect(',')
    }
    return out
  }

  expr(minPrec = 0): Expr {
    let left = this.unary()
    for (;;) {
      const t = this.peek()
      if (t?.t !== 'op') return left
      if (t.v === '?' && minPrec <= 3) {
        this.i++
        const yes = this.expr(0)
        this.expect(':')
        const no = this.expr(3)
        const cond = left
        left = (r) => {
          const c = truthy(cond(r))
          return c === UNKNOWN ? UNKNOWN : c ? yes(r) : no(r)
        }
        continue
      }
      const prec = BINARY[t.v]
      if (prec === undefined || prec < minPrec) return left
      this.i++
      const right = this.expr(prec + 1)
      left = binary(t.v, left, right)
    }
  }

  private unary(): Expr {
    const t = this.peek()
    if (t?.t === 'op' && ['-', '~', '!', '+'].includes(t.v)) {
      this.i++
      const next = this.peek()
      if (t.v === '-' && next?.t === 'num') {
        this.i++
        const v = next.unsigned ? BigInt.asUintN(64, -next.v) : -next.v
        const n = norm(v)
        return () => n
      }
      const e = this.unary()
      switch (t.v) {
        case '-': return (r) => { const v = e(r); return isInt(v) ? arith('-', 0, v) : UNKNOWN }
        case '~': return (r) => { const v = e(r); return isInt(v) ? norm(BigInt.asUintN(64, ~big(v))) : UNKNOWN }
        case '!': return (r) => { const c = truthy(e(r)); return c === UNKNOWN ? UNKNOWN : c ? 0 : 1 }
        default: return e
      }
    }
    if (this.isOp('(') && this.castAhead()) {
      this.i++
      const words: string[] = []
      while (!this.isOp(')')) {
        const w = this.peek()!
        words.push(w.v as string)
        this.i++
      }
      this.i++
      const cast = castOf(words.join(' ').replace(/ \*/g, '*'))
      const e = this.unary()
      if (!cast) return e
      return (r) => { const v = e(r); return isInt(v) ? castInt(v, cast.bits, cast.signed) : v }
    }
    return this.postfix()
  }

  /** "(" type-words and "*" ")": a cast, not a parenthesised expression. */
  private castAhead(): boolean {
    let k = 1
    let sawType = false
    for (;;) {
      const t = this.peek(k)
      if (!t) return false
      if (t.t === 'op' && t.v === ')') return sawType && k > 1
      if (t.t === 'op' && t.v === '*') {
        k++
        continue
      }
      if (t.t !== 'id') return false
      if (isTypeWord(t.v) || (k > 1 && sawType)) sawType = true
      else return false
      k++
    }
  }

  private postfix(): Expr {
    const t = this.peek()
    if (!t) throw new FormatError(`${this.where}: print fmt ends in the middle of an expression`)
    this.i++
    if (t.t === 'num') {
      const n = norm(t.v)
      return () => n
    }
    if (t.t === 'str') {
      const s = t.v
      return () => s
    }
    if (t.t === 'op' && t.v === '(') {
      const e = this.expr()
      this.expect(')')
      return e
    }
    if (t.t !== 'id') throw new FormatError(`${this.where}: unexpected "${t.v}" in print fmt`)
    if (t.v === 'REC') {
      this.expect('->')
      const name = this.peek()
      if (name?.t !== 'id') throw new FormatError(`${this.where}: REC-> without a field name`)
      this.i++
      const f = this.format.byName.get(name.v)
      if (!f) throw new FormatError(`${this.where}: print fmt uses REC->${name.v}, which the format does not declare`)
      return fieldReader(f)
    }
    if (this.isOp('(')) return this.call(t.v)
    // Any other name is a kernel symbol (vmemmap_base, an enum constant the format left unexpanded):
    // its value is not in the trace.
    return () => UNKNOWN
  }

  private fieldArg(): Field {
    const t = this.peek()
    // __get_str(name) or __get_str(REC->name), depending on the kernel version.
    if (t?.t === 'id' && t.v === 'REC') this.i += 2
    const n = this.peek()
    if (n?.t !== 'id') throw new FormatError(`${this.where}: expected a field name`)
    this.i++
    const f = this.format.byName.get(n.v)
    if (!f) throw new FormatError(`${this.where}: print fmt uses the field ${n.v}, which the format does not declare`)
    return f
  }

  private call(fn: string): Expr {
    this.expect('(')
    switch (fn) {
      case '__get_str':
      case '__get_rel_str':
      case '__get_dynamic_array':
      case '__get_rel_dynamic_array': {
        const f = this.fieldArg()
        this.expect(')')
        if (!f.dynamic) throw new FormatError(`${this.where}: ${fn}(${f.name}) of a field that is not dynamic`)
        if (!/\bchar\b/.test(f.type)) throw new FormatError(`${this.where}: ${fn}(${f.name}) of ${f.type} is not a string (not supported)`)
        return fieldReader(f)
      }
      case '__print_flags':
      case '__print_symbolic': {
        const value = this.expr(4)
        let delim = ''
        if (fn === '__print_flags') {
          this.expect(',')
          const d = this.peek()
          if (d?.t !== 'str') throw new FormatError(`${this.where}: __print_flags without a delimiter string`)
          delim = d.v
          this.i++
        }
        const table: Array<{ mask: bigint; name: string }> = []
        while (this.isOp(',')) {
          this.i++
          this.expect('{')
          const mask = this.expr(4)({ view: new DataView(new ArrayBuffer(8)), bytes: new Uint8Array(8), start: 0, end: 0, littleEndian: true })
          this.expect(',')
          const name = this.expr(4)({ view: new DataView(new ArrayBuffer(8)), bytes: new Uint8Array(8), start: 0, end: 0, littleEndian: true })
          this.expect('}')
          if (typeof name !== 'string') break // { 0, NULL } ends the table
          if (!isInt(mask)) throw new FormatError(`${this.where}: ${fn} entry "${name}" has a value the print fmt does not give`)
          table.push({ mask: big(mask), name })
        }
        this.expect(')')
        return fn === '__print_flags' ? printFlags(value, delim, table) : printSymbolic(value, table)
      }
    }
    throw new FormatError(`${this.where}: print fmt calls ${fn}(), which the binary reader does not support`)
  }
}

function binary(op: string, a: Expr, b: Expr): Expr {
  switch (op) {
    case '&&': return (r) => { const x = truthy(a(r)); if (x === UNKNOWN) return UNKNOWN; if (!x) return 0; const y = truthy(b(r)); return y === UNKNOWN ? UNKNOWN : y ? 1 : 0 }
    case '||': return (r) => { const x = truthy(a(r)); if (x === UNKNOWN) return UNKNOWN; if (x) return 1; const y = truthy(b(r)); return y === UNKNOWN ? UNKNOWN : y ? 1 : 0 }
    case '==': case '!=': case '<': case '>': case '<=': case '>=':
      return (r) => {
        const x = a(r)
        const y = b(r)
        if (!isInt(x) || !isInt(y)) return UNKNOWN
        const c = op === '==' ? x == y : op === '!=' ? x != y : op === '<' ? x < y : op === '>' ? x > y : op === '<=' ? x <= y : x >= y
        return c ? 1 : 0
      }
  }
  // The shifts and masks of MAJOR/MINOR and index << PAGE_SHIFT run for most events: a direct path for small numbers.
  const slow = (x: Value, y: Value): Value => (isInt(x) && isInt(y) ? arith(op, x, y) : UNKNOWN)
  switch (op) {
    case '>>':
      return (r) => {
        const x = a(r)
        const y = b(r)
        return typeof x === 'number' && typeof y === 'number' && x >= 0 && y >= 0 && y < 64 ? Math.floor(x / POW2[y]!) : slow(x, y)
      }
    case '&':
      return (r) => {
        const x = a(r)
        const y = b(r)
        return typeof x === 'number' && typeof y === 'number' && x >= 0 && y >= 0 && x < 2147483648 && y < 2147483648 ? x & y : slow(x, y)
      }
  }
  return (r) => slow(a(r), b(r))
}

/** trace_print_flags_seq: names of the masks that are fully set, in table order, then the rest in hex. */
function printFlags(value: Expr, delim: string, table: Array<{ mask: bigint; name: string }>): Expr {
  // Flags and masks below 2^32 (gfp flags, page flags…) go through 32-bit integer operations: the
  // BigInt path costs ~40 BigInt operations per event, several µs.
  const small = table.every((e) => e.mask < 2n ** 32n)
  const masks = table.map((e) => Number(e.mask))
  const names = table.map((e) => e.name)
  return (r) => {
    const v = value(r)
    if (!isInt(v)) return UNKNOWN
    if (small && typeof v === 'number' && v >= 0 && v < 4294967296) {
      let flags = v
      let out = ''
      for (let i = 0; i < masks.length && flags; i++) {
        const mask = masks[i]!
        if ((flags & mask) >>> 0 !== mask) continue
        flags = (flags & ~mask) >>> 0
        out += out ? delim + names[i]! : names[i]!
      }
      if (flags) out += (out ? delim : '') + '0x' + flags.toString(16)
      return out
    }
    let flags = BigInt.asUintN(64, big(v))
    let out = ''
    for (let i = 0; i < table.length && flags; i++) {
      const { mask, name } = table[i]!
      if ((flags & mask) !== mask) continue
      flags &= ~mask
      out += out ? delim + name : name
    }
    if (flags) out += (out ? delim : '') + '0x' + flags.toString(16)
    return out
  }
}

/** trace_print_symbols_seq: the name of the value, or the value in hex. */
function printSymbolic(value: Expr, table: Array<{ mask: bigint; name: string }>): Expr {
  return (r) => {
    const v = value(r)
    if (!isInt(v)) return UNKNOWN
    const x = big(v)
    for (const e of table) if (e.mask === x) return e.name
    return '0x' + BigInt.asUintN(64, x).toString(16)
  }
}

// ---------------------------------------------------------------- the format string

interface Conversion {
  flags: string
  width: number
  precision: number
  /** "%.*s": the precision is an argument of its own, before the value. */
  starPrecision: boolean
  /** Integer width in bits from the length modifier (hh 8, h 16, none 32, l/ll/z 64). */
  bits: number
  conv: string
  /** %p's extension letter ("s" of %ps), or "". */
  ext: string
}

type Piece = string | Conversion

function parseFormatString(fmt: string, where: string): Piece[] {
  const out: Piece[] = []
  let lit = ''
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i]!
    if (c !== '%') {
      lit += c
      continue
    }
    const m = /^%([-+ #0]*)(\d*)(?:\.(\d+|\*))?(hh|h|ll|l|z|L|j|t)?([diouxXcsp%])/.exec(fmt.slice(i))
    if (!m) throw new FormatError(`${where}: print fmt has a conversion the binary reader does not support: "${fmt.slice(i, i + 6)}"`)
    i += m[0].length - 1
    if (m[5] === '%') {
      lit += '%'
      continue
    }
    let ext = ''
    if (m[5] === 'p' && /[A-Za-z]/.test(fmt[i + 1] ?? '')) {
      ext = fmt[i + 1]!
      i++
      if (!'sSfFxK'.includes(ext)) throw new FormatError(`${where}: print fmt has %p${ext}, which the binary reader does not support`)
    }
    if (lit) out.push(lit)
    lit = ''
    const len = m[4] ?? ''
    out.push({ flags: m[1]!, width: m[2] ? Number(m[2]) : 0, precision: m[3] && m[3] !== '*' ? Number(m[3]) : -1, starPrecision: m[3] === '*', bits: len === 'hh' ? 8 : len === 'h' ? 16 : len === '' ? 32 : 64, conv: m[5]!, ext })
  }
  if (lit) out.push(lit)
  return out
}

function pad(s: string, c: Conversion, zeroOk: boolean): string {
  if (s.length >= c.width) return s
  if (c.flags.includes('-')) return s.padEnd(c.width)
  if (zeroOk && c.flags.includes('0')) {
    const sign = s[0] === '-' ? '-' : ''
    return sign + s.slice(sign.length).padStart(c.width - sign.length, '0')
  }
  return s.padStart(c.width)
}

/** One argument under one conversion, as vsnprintf prints it. */
function convertSlow(v: Value, c: Conversion): string {
  switch (c.conv) {
    case 's': {
      const s = typeof v === 'string' ? v : v === UNKNOWN ? '?' : String(v)
      return pad(c.precision >= 0 ? s.slice(0, c.precision) : s, c, false)
    }
    case 'c':
      return pad(isInt(v) ? String.fromCharCode(Number(BigInt.asUintN(8, big(v)))) : '?', c, false)
    case 'p': {
      if (c.ext === 's' || c.ext === 'S' || c.ext === 'f' || c.ext === 'F' || c.ext === 'x' || c.ext === 'K') {
        return isInt(v) ? pad('0x' + BigInt.asUintN(64, big(v)).toString(16), c, false) : '(ptrval)'
      }
      // A NULL pointer prints as zeros; any other as a per-boot hash the trace cannot reproduce.
      return isInt(v) && v == 0 ? '0000000000000000' : '(ptrval)'
    }
  }
  if (!isInt(v)) return typeof v === 'string' ? v : '?'
  const signed = c.conv === 'd' || c.conv === 'i'
  const n = castInt(v, c.bits, signed)
  let s: string
  if (c.conv === 'x') s = n.toString(16)
  else if (c.conv === 'X') s = n.toString(16).toUpperCase()
  else if (c.conv === 'o') s = n.toString(8)
  else s = n.toString()
  if (c.precision >= 0 && s.length < c.precision) s = s.padStart(c.precision, '0')
  if (c.flags.includes('#') && n != 0 && (c.conv === 'x' || c.conv === 'X')) s = (c.conv === 'x' ? '0x' : '0X') + s
  if (signed && c.flags.includes('+') && n >= 0) s = '+' + s
  return pad(s, c, c.precision < 0)
}

/**
 * A converter for one conversion: the common case (a non-negative number below the width's sign bit,
 * no padding beyond what is computed here) without the general path's checks.
 */
function converter(c: Conversion): (v: Value) => string {
  const half = HALF[c.bits] ?? 2 ** (c.bits - 1)
  const plain = c.width === 0 && c.precision < 0 && !/[#+]/.test(c.flags)
  if (plain && (c.conv === 'd' || c.conv === 'i' || c.conv === 'u')) {
    return (v) => (typeof v === 'number' && v >= 0 && v < half ? '' + v : convertSlow(v, c))
  }
  if (plain && c.conv === 'x') return (v) => (typeof v === 'number' && v >= 0 && v < half ? v.toString(16) : convertSlow(v, c))
  if (c.conv === 'x' && c.precision < 0 && !/[#+-]/.test(c.flags) && c.flags.includes('0')) {
    const width = c.width
    return (v) => (typeof v === 'number' && v >= 0 && v < half ? v.toString(16).padStart(width, '0') : convertSlow(v, c))
  }
  if (plain && c.conv === 's') return (v) => (typeof v === 'string' ? v : convertSlow(v, c))
  return (v) => convertSlow(v, c)
}

/** Compiles an event's print fmt; the result prints a record's body as trace_pipe does. */
export function compilePrintFmt(format: EventFormat): (r: RecordView) => string {
  const where = `events/${format.system}/${format.name}/format`
  const tokens = tokenize(format.printFmt, where)
  const first = tokens[0]
  if (first?.t !== 'str') throw new FormatError(`${where}: print fmt does not start with a format string`)
  const pieces = parseFormatString(first.v, where)
  const rest = tokens.slice(1)
  if (rest.length && !(rest[0]!.t === 'op' && rest[0]!.v === ',')) throw new FormatError(`${where}: print fmt: expected "," after the format string`)
  const args = new ExprParser(rest.slice(1), format, where).args()
  const conversions = pieces.reduce((n, p) => n + (typeof p === 'string' ? 0 : p.starPrecision ? 2 : 1), 0)
  if (conversions !== args.length) throw new FormatError(`${where}: print fmt has ${conversions} conversions but ${args.length} arguments`)
  const steps = pieces.map((p) => {
    if (typeof p === 'string') return (): string => p
    if (p.starPrecision) {
      const precision = args.shift()!
      const arg = args.shift()!
      return (r: RecordView): string => {
        const n = precision(r)
        return convertSlow(arg(r), { ...p, precision: typeof n === 'number' && n >= 0 ? n : -1 })
      }
    }
    const arg = args.shift()!
    const convert = converter(p)
    return (r: RecordView): string => convert(arg(r))
  })
  return (r) => {
    let s = ''
    for (const step of steps) s += step(r)
    return s
  }
}
