import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'

// Embedded mode without a configured secret signs and verifies development tokens with a
// random secret kept beside the embedded data, so `npm run token` and the server agree.
export async function loadDevSecret (dataDir: string): Promise<string> {
  const file = path.resolve(dataDir, 'dev-jwt-secret')
  try {
    return (await readFile(file, 'utf8')).trim()
  } catch {
    await mkdir(path.dirname(file), { recursive: true })
    const secret = randomBytes(32).toString('base64url')
    await writeFile(file, secret + '\n', { mode: 0o600, flag: 'wx' }).catch(() => {})
    return (await readFile(file, 'utf8')).trim()
  }
}
