/**
 * A chart.js chart bound to a canvas for the lifetime of a component: created on mount, destroyed on
 * unmount, redrawn at most once per animation frame however often `schedule()` is called.
 */
import { onBeforeUnmount, onMounted, shallowRef, type Ref } from 'vue'
import {
  BarController, BarElement, CategoryScale, Chart, Filler, Legend, LinearScale, LineController, LineElement, LogarithmicScale, PointElement, ScatterController, Tooltip,
  type ChartConfiguration, type ChartType,
} from 'chart.js'
import zoomPlugin from 'chartjs-plugin-zoom'

Chart.register(LineController, LineElement, PointElement, LinearScale, LogarithmicScale, CategoryScale, BarController, BarElement, ScatterController, Legend, Tooltip, Filler, zoomPlugin)

export function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888'
}

export function useChart<T extends ChartType>(canvas: Ref<HTMLCanvasElement | null>, config: () => ChartConfiguration<T>, beforeDraw?: (c: Chart<T>) => void) {
  const chart = shallowRef<Chart<T> | null>(null)
  let frame = 0
  const media = window.matchMedia?.('(prefers-color-scheme: dark)')
  const themeObserver = new MutationObserver(() => rebuild())

  function rebuild(): void {
    chart.value?.destroy()
    chart.value = null
    if (!canvas.value) return
    const c = new Chart(canvas.value, config())
    chart.value = c
    // A new chart starts from the config alone: fill in the live data before its first frame.
    beforeDraw?.(c)
    c.update('none')
  }
  function schedule(): void {
    if (frame) return
    frame = requestAnimationFrame(() => {
      frame = 0
      if (!chart.value) return
      beforeDraw?.(chart.value)
      chart.value.update('none')
    })
  }
  onMounted(() => {
    rebuild()
    // Colours come from CSS variables: rebuild when the theme changes.
    themeObserver.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] })
    media?.addEventListener('change', rebuild)
  })
  onBeforeUnmount(() => {
    if (frame) cancelAnimationFrame(frame)
    themeObserver.disconnect()
    media?.removeEventListener('change', rebuild)
    chart.value?.destroy()
    chart.value = null
  })
  return { chart, schedule, rebuild }
}

export function axisColors(): { grid: string; text: string } {
  return { grid: cssVar('--line'), text: cssVar('--muted') }
}
