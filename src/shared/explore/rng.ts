/**
 * A small seeded generator (splitmix32), so that `explore --seed S` makes the same scenarios on
 * every machine and in every release: Math.random cannot be seeded, and a test library's generator
 * is not product code. Each scenario gets its own stream (seed, index), so scenario k can be made
 * again without making the k−1 before it.
 */
export class Rng {
  private state: number

  constructor(seed: number, stream = 0) {
    this.state = (Math.imul(seed | 0, 0x9e3779b9) ^ Math.imul(stream | 0, 0x85ebca6b) ^ 0x6d2b79f5) | 0
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    let z = (this.state = (this.state + 0x9e3779b9) | 0)
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
    return (z ^ (z >>> 16)) >>> 0
  }

  /** An integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor((this.next() / 0x1_0000_0000) * (max - min + 1))
  }

  chance(p: number): boolean {
    return this.next() / 0x1_0000_0000 < p
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!
  }

  /** Picks by weight: `[[item, weight], …]`. */
  weighted<T>(choices: readonly (readonly [T, number])[]): T {
    const total = choices.reduce((s, [, w]) => s + w, 0)
    let r = (this.next() / 0x1_0000_0000) * total
    for (const [item, w] of choices) {
      if ((r -= w) < 0) return item
    }
    return choices[choices.length - 1]![0]
  }
}
