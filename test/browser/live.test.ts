import t from 'tap'
import type { AddressInfo } from 'node:net'
import type { Page } from 'playwright-core'
import sharp from 'sharp'
import { build } from '../helper.ts'
import { startTcpProxy } from '../tcp-proxy.ts'
import { eventually, RACE_CONFIG, setScore, startRace } from '../clients/race.ts'
import { chromiumMissing, listen, openBrowser, screenshotPath } from './chromium.ts'

// Page code runs in the browser; these helpers read the page from the test's side.
async function rowOrder (page: Page): Promise<string[]> {
  return await page.locator('#rows .row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-user-id') ?? ''))
}

async function waitForOrder (page: Page, expected: string[]): Promise<void> {
  await eventually(`rows in order ${expected.join(', ')}`, async () => {
    const shown = await rowOrder(page)
    return JSON.stringify(shown) === JSON.stringify(expected) ? true : undefined
  })
}

async function waitForState (page: Page, state: string): Promise<void> {
  await page.locator(`body[data-state="${state}"]`).waitFor()
}

// Rows slide into place; a picture is taken once they have (the status dot pulses forever).
async function settled (page: Page): Promise<void> {
  await eventually('row animations to finish', async () => {
    const busy = await page.locator('#rows').evaluate((list) => list.getAnimations({ subtree: true }).length)
    return busy === 0 ? true : undefined
  })
}

// The live page as a person watches it: scores change through the API and the rows reorder;
// the connection drops, the page says so, reconnects and resumes from its last frame.
t.test('live leaderboard page: rows reorder as scores change, and the feed resumes after a drop', { skip: chromiumMissing }, async (t) => {
  const app = await build(t, { config: RACE_CONFIG })
  const apiBase = await listen(app)
  // The browser reaches the app through a proxy the test can cut, like a dropped network.
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: (app.server.address() as AddressInfo).port })
  t.teardown(async () => await proxy.close())
  const pageBase = `http://127.0.0.1:${proxy.port}`

  const portrait = await sharp({ create: { width: 96, height: 96, channels: 3, background: '#e91e63' } }).png().toBuffer()
  const race = await startRace(apiBase, {
    names: ['Ada Lovelace', 'Grace Hopper', 'Alan Turing', 'Katherine Johnson', 'Edsger Dijkstra'],
    avatars: { 'Grace Hopper': portrait }
  })
  const [ada, grace, alan, katherine, edsger] = race.racers as [typeof race.racers[0], ...typeof race.racers]
  const viewer = edsger!

  const { page, problems } = await openBrowser(t)
  const sockets: Array<{ url: string, received: string[] }> = []
  page.on('websocket', (ws) => {
    const record = { url: ws.url(), received: [] as string[] }
    sockets.push(record)
    ws.on('framereceived', (frame) => { record.received.push(String(frame.payload)) })
  })

  await page.goto(`${pageBase}/live/${race.competitionId}?token=${viewer.token}`)
  await waitForState(page, 'live')
  await page.locator('#rows .row').nth(4).waitFor()
  t.equal(await page.locator('#title').innerText(), 'November Step Challenge', 'the header names the competition')
  t.equal(await page.locator('#connection-text').innerText(), 'Live', 'the connection state is shown')
  t.match(JSON.parse(sockets[0]!.received[0]!), { type: 'snapshot' }, 'the first frame is a snapshot')

  // Everyone scores; the board sorts itself.
  await setScore(race, ada!, 100)
  await setScore(race, grace!, 200)
  await setScore(race, alan!, 300)
  await setScore(race, katherine!, 400)
  await setScore(race, edsger!, 500)
  await waitForOrder(page, [edsger!.id, katherine!.id, alan!.id, grace!.id, ada!.id])
  t.pass('rows follow the scores')
  const viewerRow = page.locator(`#rows .row[data-user-id="${viewer.id}"]`)
  t.equal(await viewerRow.locator('.name').innerText(), 'Edsger Dijkstra', 'rows show the display name')
  t.ok(await viewerRow.evaluate((row) => row.classList.contains('is-me')), 'the viewer\'s own row is marked')
  t.equal(await viewerRow.locator('.initials').innerText(), 'ED', 'without an avatar the row shows initials')
  const graceAvatar = page.locator(`#rows .row[data-user-id="${grace!.id}"] .avatar img`)
  await graceAvatar.waitFor()
  t.ok(await graceAvatar.evaluate(async (img) => { await (img as unknown as { decode: () => Promise<void> }).decode(); return (img as unknown as { naturalWidth: number }).naturalWidth > 0 }), 'an uploaded avatar is shown')

  // Ada overtakes everybody: her row moves to the top and is highlighted as it moves.
  await setScore(race, ada!, 1000)
  await waitForOrder(page, [ada!.id, edsger!.id, katherine!.id, alan!.id, grace!.id])
  const adaRow = page.locator(`#rows .row[data-user-id="${ada!.id}"]`)
  t.ok(await adaRow.evaluate((row) => row.classList.contains('moved-up')), 'the row that moved up is highlighted')
  t.equal(await adaRow.locator('.move').innerText(), '▲ 4', 'and says by how many places')
  t.equal(await adaRow.locator('.rank').innerText(), '1')
  t.equal(await adaRow.locator('.score').innerText(), '1,000')
  t.ok(await page.locator(`#rows .row[data-user-id="${edsger!.id}"]`).evaluate((row) => row.classList.contains('moved-down')), 'rows pushed down are highlighted too')
  await settled(page)
  await page.screenshot({ path: screenshotPath('live-reordered') })

  // The network drops: the page says so and retries with backoff.
  proxy.cut()
  await waitForState(page, 'reconnecting')
  t.match(await page.locator('#connection-text').innerText(), /Reconnecting/, 'the page shows it is reconnecting')
  await page.screenshot({ path: screenshotPath('live-reconnecting') })

  // Meanwhile Grace takes the lead; the page catches up once the network is back.
  await setScore(race, grace!, 2000)
  proxy.restore()
  await waitForOrder(page, [grace!.id, ada!.id, edsger!.id, katherine!.id, alan!.id])
  await waitForState(page, 'live')
  t.pass('after reconnecting the board shows what changed while it was away')

  t.ok(sockets.length >= 2, 'the page opened a new connection')
  const firstSeqs = sockets[0]!.received.map((raw) => JSON.parse(raw)).filter((f) => typeof f.seq === 'number' && f.type !== 'rank').map((f) => f.seq as number)
  const resumeFrom = Math.max(...firstSeqs)
  const reconnect = sockets[sockets.length - 1]!
  t.equal(new URL(reconnect.url).searchParams.get('seq'), String(resumeFrom), 'it resumed from the last frame it applied')
  const replay = reconnect.received.map((raw) => JSON.parse(raw))
  t.match(replay[0], { type: 'resumed', fromSeq: resumeFrom }, 'the server replayed the missed frames instead of a snapshot')
  t.match(replay[1], { type: 'update', seq: resumeFrom + 1 }, 'starting with the first one missed')

  // A smaller board for someone further down: the top two, and their own row below it.
  const { page: small } = await openBrowser(t)
  await small.goto(`${pageBase}/live/${race.competitionId}?top=2&token=${alan!.token}`)
  await small.locator('#me:not([hidden]) .row').waitFor()
  t.same(await rowOrder(small), [grace!.id, ada!.id], 'only the top two are listed')
  t.equal(await small.locator('#me .row .rank').innerText(), '5', 'the viewer sees their own rank under the board')
  t.equal(await small.locator('#me .row .name').innerText(), 'Alan Turing')
  await small.screenshot({ path: screenshotPath('live-top-two') })

  t.same(problems.filter((p) => !/ERR_CONNECTION|WebSocket connection/.test(p)), [], 'no script errors or CSP violations')
})
