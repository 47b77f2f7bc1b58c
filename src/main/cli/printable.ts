/**
 * Text from a scenario or a record (a title, a name, an error the probe printed) on its way to a
 * terminal: control characters are dropped, so an escape sequence in a scenario's title cannot
 * move the cursor, retitle the window, rewrite earlier lines or hide text. C0 (tabs and line breaks
 * become spaces), DEL and C1 (0x80-0x9f, which some terminals read as ESC [ and friends).
 */
export function printable(text: string): string {
  return text.replace(/[\t\n\r]/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f]/g, '')
}
