import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { chromium, type BrowserContext, type Page } from 'playwright-core'

// Debian's Chromium, driven by playwright-core: no browser is ever downloaded. `.ci/run`
// installs the package; where that is impossible the browser tests skip with this reason.
export const CHROMIUM_PATH = '/usr/bin/chromium'

export const chromiumMissing: string | false = existsSync(CHROMIUM_PATH)
  ? false
  : `${CHROMIUM_PATH} not found: install Debian's chromium package (apt-get install chromium) to run the browser tests`

const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'
]

type Test = { teardown: (fn: () => unknown) => void }

// A browser with a fresh profile of its own, closed and removed when the test ends. Page
// errors and failed requests are collected, so a test can assert the page ran cleanly.
export async function openBrowser (t: Test): Promise<{ context: BrowserContext, page: Page, problems: string[] }> {
  const userDataDir = await mkdtemp(path.join(tmpdir(), 'chromium-profile-'))
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ARGS,
    viewport: { width: 1100, height: 900 }
  })
  t.teardown(async () => {
    await context.close()
    await rm(userDataDir, { recursive: true, force: true })
  })
  const page = context.pages()[0] ?? await context.newPage()
  const problems: string[] = []
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`)
  })
  return { context, page, problems }
}

// The app on a real port, as a browser needs it.
export async function listen (app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  return `http://127.0.0.1:${port}`
}

// Screenshots are kept (under .tap/, ignored by git) for a person to look at after a run.
export function screenshotPath (name: string): string {
  return path.join('.tap', 'screenshots', `${name}.png`)
}
