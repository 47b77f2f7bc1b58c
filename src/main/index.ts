// Electron entry, kept thin: one window, IPC wired from the contract (src/main/app). The core is
// the same one the CLI and `splice-lab serve` use.
import { app, BrowserWindow } from 'electron'
import { createLabWindow, registerAppScheme } from './app/window'

app.enableSandbox()
registerAppScheme()
if (!app.requestSingleInstanceLock()) app.quit()
else {
  app.on('second-instance', () => BrowserWindow.getAllWindows()[0]?.focus())
  app.on('window-all-closed', () => app.quit())
  void app.whenReady().then(() => createLabWindow())
}
