// Electron entry: filled in by the desktop-app work (issue 5). Kept thin: window + IPC wiring only.
import { app } from 'electron'
app.whenReady().then(() => app.quit())
