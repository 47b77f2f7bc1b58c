/**
 * Folio layout of a file's page cache: which pages share a folio. It decides whether a punch,
 * zero-range or truncate removes a page (the pipe keeps it intact) or zeroes it in place (the reader
 * sees zeros), and whether steal-or-copy can steal (the whole folio must be covered).
 *
 * Measured on 6.18 (docs/stock-rules.md section 1, docs/stock-rules/folios-6.18.txt):
 * - one pwrite per page (`per_page`): order 0 on every filesystem;
 * - one write() of the whole file (`one_write`): on the filesystems of KernelRules.largeFolioWrites
 *   (ext4 and xfs on 6.18), from page i with r bytes left, a
 *   folio of 2^k pages, k = min(9, floor(log2(r / 4096)), trailing zeros of i) — iomap_get_folio()
 *   with fgf_set_order(len), then natural alignment; tmpfs (huge=never) and btrfs stay order 0;
 * - pages read back by readahead (`cached: false`): order 0 observed for files up to 640 pages.
 */
/** Largest folio the page cache used here: order 9 (2 MiB with 4 KiB pages). */
export const MAX_FOLIO_ORDER = 9

/**
 * Folio sizes (in pages) covering `bytes` written by one write() from offset 0, in order.
 * Example (4 KiB pages): 100 pages → [64, 32, 4]; 3 pages + 100 bytes → [2, 1, 1].
 */
export function oneWriteFolios(bytes: number, pageSize: number): number[] {
  const out: number[] = []
  let i = 0
  let left = bytes
  while (left > 0) {
    let order = 0
    const full = Math.floor(left / pageSize)
    if (full >= 2) order = Math.min(MAX_FOLIO_ORDER, Math.floor(Math.log2(full)))
    while (order > 0 && i % (1 << order) !== 0) order--
    const pages = 1 << order
    out.push(pages)
    i += pages
    left -= pages * pageSize
  }
  return out
}
