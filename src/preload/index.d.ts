// The API the preload exposes to the renderer (window.spliceLab): the contract's Bridge type.
import type { Bridge } from '../shared/api'

declare global {
  interface Window {
    /** Present in the Electron app; absent in a browser served by `splice-lab serve`. */
    spliceLab?: Bridge
  }
}

export {}
