import t from 'tap'
import { randomUUID } from 'node:crypto'
import { build, token } from '../helper.ts'
import { chromiumMissing, listen, openBrowser, screenshotPath } from './chromium.ts'

// Swagger UI as a person uses it: open /docs, authorise with a bearer token, execute a call.
t.test('Swagger UI: authorise with a token and execute a call', { skip: chromiumMissing }, async (t) => {
  // No PUBLIC_URL: Swagger UI then calls the origin it was loaded from.
  const app = await build(t, { config: { PUBLIC_URL: '', MAX_EVENT_LOOP_DELAY_MS: 0 } })
  const base = await listen(app)
  const { page, problems } = await openBrowser(t)
  const userId = randomUUID()

  await page.goto(`${base}/docs`)
  await page.locator('.swagger-ui .info .title').filter({ hasText: 'Health Competition API' }).waitFor()
  t.ok(await page.locator('.opblock-tag-section h3', { hasText: 'competitions' }).count() > 0, 'operations are grouped by domain tag')

  await page.locator('button.authorize').first().click()
  const modal = page.locator('.modal-ux')
  await modal.locator('input').first().fill(token({ sub: userId }))
  await modal.getByRole('button', { name: 'Apply credentials' }).click()
  await modal.getByRole('button', { name: 'Close' }).click()
  t.ok(await page.locator('button.authorize.locked').count() > 0, 'the padlock shows the token is set')

  const operation = page.locator('.opblock-get', { has: page.locator('.opblock-summary-path', { hasText: /^\/api\/v1\/me$/ }) })
  await operation.locator('.opblock-summary').click()
  await operation.locator('button.execute').click()
  const status = operation.locator('.live-responses-table .response .response-col_status').first()
  await status.waitFor()
  t.equal((await status.innerText()).trim(), '200', 'the call succeeded')
  const body = await operation.locator('.live-responses-table .response-col_description pre').first().innerText()
  t.match(JSON.parse(body), { id: userId, role: 'user', isAdmin: false }, 'the response shows the caller the token names')
  t.match(await operation.locator('.curl-command').innerText(), /Authorization: Bearer ey/, 'the request carried the bearer token')

  await operation.locator('.live-responses-table').scrollIntoViewIfNeeded()
  await page.screenshot({ path: screenshotPath('docs-executed') })
  t.same(problems, [], 'no script errors or CSP violations on the page')
})
