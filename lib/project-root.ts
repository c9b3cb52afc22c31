import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

// The directory holding package.json. The service runs from its sources here (tests, npm run
// dev) or built into dist/ below it (npm start), so files that ship beside the code, such as
// migrations and the live page, are found from here rather than from the running file.
function findRoot (from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir
    if (dirname(dir) === dir) throw new Error(`no package.json in or above ${from}`)
  }
}

export const projectRoot = findRoot(dirname(fileURLToPath(import.meta.url)))
