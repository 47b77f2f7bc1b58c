/** The kernel store: named bzImages built from Debian's 6.1 or a user's tree, cached by key. */
export { buildKernel, defaultName, type BuildProgress, type BuildRequest, type BuildResult } from './build'
export { DEBIAN_61, StoreError, findKernel, kernelImagePath, listKernels, storeDir, type KernelMeta } from './store'
export { SeriesError } from './series'
