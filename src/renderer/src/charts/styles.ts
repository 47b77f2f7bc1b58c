/**
 * One look per source on every chart: the kernel solid and thick, each policy its colour with its own
 * dash pattern and point shape, so overlapping lines stay visible (stock on top of the kernel shows
 * as dashes over a solid line).
 */
import type { Policy } from '../../../shared/results'
import { cssVar } from '../composables/useChart'

export type Source = 'kernel' | Policy

interface SourceStyle {
  colorVar: string
  dash: number[]
  width: number
  point: 'circle' | 'rect' | 'triangle' | 'rectRot'
}

export const SOURCE_STYLE: Record<Source, SourceStyle> = {
  kernel: { colorVar: '--live', dash: [], width: 3, point: 'circle' },
  stock: { colorVar: '--stock', dash: [9, 4], width: 2, point: 'rect' },
  'steal-or-copy': { colorVar: '--steal', dash: [2, 3], width: 2.5, point: 'triangle' },
  copy: { colorVar: '--copy', dash: [12, 3, 3, 3], width: 2, point: 'rectRot' },
}

export function sourceLabel(s: Source): string {
  return s === 'kernel' ? 'kernel' : `${s} (model)`
}

/**
 * Chart.js draws a lower `order` on top: the kernel underneath (thick, a little transparent), each
 * policy's pattern over it, so a policy that matches the kernel shows as dashes on its line.
 */
export function lineStyle(s: Source) {
  const st = SOURCE_STYLE[s]
  const color = cssVar(st.colorVar)
  return {
    borderColor: s === 'kernel' ? withAlpha(color, 0.75) : color,
    backgroundColor: color,
    borderDash: st.dash,
    borderWidth: s === 'kernel' ? 5 : st.width,
    pointStyle: st.point,
    pointRadius: s === 'kernel' ? 4.5 : 3.5,
    pointHoverRadius: 6,
    order: s === 'kernel' ? 10 : 1,
  }
}

/** The zoom plugin's options: wheel or pinch zooms the x axis, drag with Shift pans it. */
export const ZOOM_X = {
  zoom: { wheel: { enabled: true }, pinch: { enabled: true }, mode: 'x' as const },
  pan: { enabled: true, mode: 'x' as const, modifierKey: 'shift' as const },
}

/** A #rrggbb colour with transparency, for canvas fills (which do not take color-mix everywhere). */
export function withAlpha(color: string, a: number): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color)
  return m ? `rgba(${parseInt(m[1]!, 16)}, ${parseInt(m[2]!, 16)}, ${parseInt(m[3]!, 16)}, ${a})` : color
}
