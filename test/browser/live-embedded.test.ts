import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { build } from '../helper.ts'
import { eventually, RACE_CONFIG, setScore, startRace } from '../clients/race.ts'
import { chromiumMissing, listen, openBrowser, screenshotPath } from './chromium.ts'

// An app on another origin embeds the live page in a frame and hands it the user's token with
// postMessage, so the token never appears in a URL.
t.test('an embedding app passes the token to the live page with postMessage', { skip: chromiumMissing }, async (t) => {
  let embedderPage = ''
  const embedder = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(embedderPage)
  })
  await new Promise<void>((resolve) => embedder.listen(0, '127.0.0.1', resolve))
  t.teardown(() => embedder.close())
  const embedderOrigin = `http://127.0.0.1:${(embedder.address() as AddressInfo).port}`

  // The service lets that origin frame the page (CORS_ORIGINS).
  const app = await build(t, { config: { ...RACE_CONFIG, CORS_ORIGINS: embedderOrigin } })
  const base = await listen(app)
  const race = await startRace(base, { names: ['Ada Lovelace', 'Grace Hopper', 'Alan Turing'] })
  const [ada, grace, alan] = race.racers
  await setScore(race, ada!, 30)
  await setScore(race, grace!, 20)
  await setScore(race, alan!, 10)

  embedderPage = `<!doctype html><title>Team app</title><h1>Our team</h1>
<iframe id="board" src="${base}/live/${race.competitionId}" width="760" height="520"></iframe>
<script>
  window.addEventListener('message', (event) => {
    if (event.origin !== '${base}') return
    document.body.dataset.lastMessage = event.data.type
    if (event.data.type === 'hc.live.ready') {
      document.getElementById('board').contentWindow.postMessage({ type: 'hc.live.token', token: '${grace!.token}' }, '${base}')
    }
  })
</script>`

  const { page, problems } = await openBrowser(t)
  await page.goto(embedderOrigin)
  const board = page.frameLocator('#board')
  await board.locator('body[data-state="live"]').waitFor()
  const order = async (): Promise<string[]> => await board.locator('#rows .row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-user-id') ?? ''))
  t.same(await order(), [ada!.id, grace!.id, alan!.id], 'the framed page shows the board')
  t.ok(await board.locator(`#rows .row.is-me[data-user-id="${grace!.id}"]`).count() === 1, 'for the user whose token the app passed')

  await setScore(race, alan!, 100)
  await eventually('Alan to take the lead', async () => (await order())[0] === alan!.id ? true : undefined)
  t.pass('and follows the live feed')
  await eventually('rows to settle', async () => await board.locator('#rows').evaluate((list) => list.getAnimations({ subtree: true }).length) === 0 ? true : undefined)
  await page.screenshot({ path: screenshotPath('live-embedded') })
  t.same(problems, [], 'no script errors or CSP violations')
})
