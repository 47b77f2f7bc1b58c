/**
 * Branded units (STYLE.md, after Perfetto): a page index cannot be passed where a byte offset is
 * expected without saying so.
 */
export type Brand<T, B extends string> = T & { readonly __brand: B }
export type PageIndex = Brand<number, 'PageIndex'>
export type ByteOffset = Brand<number, 'ByteOffset'>
export type SlotIndex = Brand<number, 'SlotIndex'>

export const pageIndex = (n: number): PageIndex => n as PageIndex
export const byteOffset = (n: number): ByteOffset => n as ByteOffset

/** The page holding byte `off`. */
export const pageOf = (off: ByteOffset, pageSize: number): PageIndex => Math.floor(off / pageSize) as PageIndex
/** First byte of page `i`. */
export const pageStart = (i: PageIndex, pageSize: number): ByteOffset => (i * pageSize) as ByteOffset
