import t from 'tap'
import { build } from '../../helper.ts'

// The live page is public and static: everything it shows comes over the WebSocket, which
// checks the token. It must run under the service's Content-Security-Policy as it is.
t.test('the live leaderboard page and its assets', async (t) => {
  const app = await build(t)

  t.test('the page is served to anyone, as HTML with no inline script', async (t) => {
    const res = await app.inject({ url: '/live/6f1c4b7e-2d3a-4c5b-8e9f-0a1b2c3d4e5f?token=abc' })
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /^text\/html/)
    t.match(res.headers['content-security-policy'], /script-src 'self'/)
    t.match(res.headers['content-security-policy'], /connect-src 'self' ws: wss:/)
    t.equal(res.headers['x-frame-options'], 'SAMEORIGIN', 'not framed by other sites unless configured')
    t.match(res.body, /<script type="module" src="\/live\/assets\/app\.js"><\/script>/)
    t.notMatch(res.body, /<script(?![^>]*\bsrc=)[^>]*>/, 'every script is a file from this origin')
    t.notMatch(res.body, /\son[a-z]+=/i, 'no inline event handlers')
  })

  t.test('the module and stylesheet are served with their types', async (t) => {
    const js = await app.inject({ url: '/live/assets/app.js' })
    t.equal(js.statusCode, 200)
    t.match(js.headers['content-type'], /javascript/)
    t.match(js.body, /\/ws\/leaderboard\//)
    const css = await app.inject({ url: '/live/assets/style.css' })
    t.equal(css.statusCode, 200)
    t.match(css.headers['content-type'], /^text\/css/)
  })

  t.test('only assets live under /live/assets/', async (t) => {
    t.equal((await app.inject({ url: '/live/assets/index.html' })).statusCode, 404)
    t.equal((await app.inject({ url: '/live/assets/../../package.json' })).statusCode, 404)
  })

  t.test('the page is not part of the API document', async (t) => {
    const paths = Object.keys((app.swagger() as { paths: Record<string, unknown> }).paths)
    t.notOk(paths.some((p) => p.startsWith('/live')))
  })
})

t.test('origins allowed by CORS_ORIGINS may embed the page in a frame', async (t) => {
  const app = await build(t, { config: { CORS_ORIGINS: 'https://app.example.com' } })
  const res = await app.inject({ url: '/live/6f1c4b7e-2d3a-4c5b-8e9f-0a1b2c3d4e5f' })
  t.match(res.headers['content-security-policy'], /frame-ancestors 'self' https:\/\/app\.example\.com/)
  t.equal(res.headers['x-frame-options'], undefined)
  const api = await app.inject({ url: '/health' })
  t.match(api.headers['content-security-policy'], /frame-ancestors 'none'(;|$)/, 'the API itself keeps the strict policy')
})
