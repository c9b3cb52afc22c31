import { test } from 'tap'
import { readFile } from 'node:fs/promises'
import { parse as parseYaml } from 'yaml'
import { build } from '../helper.ts'

// The operations files in ops/ and docker-compose.yml parse, are complete, and only use
// metrics the service really exposes at /metrics.

const root = new URL('../../', import.meta.url)
const read = async (path: string) => await readFile(new URL(path, root), 'utf8')

const PROMQL_WORDS = new Set(['by', 'without', 'and', 'or', 'unless', 'offset', 'on', 'ignoring', 'group_left', 'group_right', 'bool'])
// Series Prometheus makes itself, not the service.
const SYNTHETIC = new Set(['up'])

// Metric names in a PromQL expression: identifiers left once label matchers, ranges,
// grouping clauses, strings, numbers and function calls are taken out.
function metricNames (expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, ' ')
  const names = new Set<string>()
  for (const m of stripped.matchAll(/\b([a-zA-Z_:][\w:]*)\b(\s*\()?/g)) {
    const [, word, call] = m
    if (call || PROMQL_WORDS.has(word!) || /^\d/.test(word!) || /^e\d+$/.test(word!)) continue
    names.add(word!)
  }
  return [...names]
}

test('the PromQL name extractor', async (t) => {
  t.same(metricNames('sum by (le, route) (rate(http_request_duration_seconds_bucket{job="$job", status_code=~"5.."}[$__rate_interval])) > 1e-9'),
    ['http_request_duration_seconds_bucket'])
  t.same(metricNames('max by (provider) (fitness_provider_circuit_state) == 1 and up == 0').sort(), ['fitness_provider_circuit_state', 'up'])
})

test('alert rules, scrape config, dashboard, compose and nginx', async (t) => {
  const alerts = parseYaml(await read('ops/prometheus/alerts.yml'))
  const rules = alerts.groups.flatMap((g: any) => g.rules)
  t.ok(rules.length >= 10, `${rules.length} alert rules`)
  const alertNames = new Set<string>()
  for (const rule of rules) {
    t.type(rule.alert, 'string')
    t.notOk(alertNames.has(rule.alert), `${rule.alert}: unique`)
    alertNames.add(rule.alert)
    t.ok(typeof rule.expr === 'string' && rule.expr.trim().length > 0, `${rule.alert}: has an expression`)
    t.ok(['critical', 'warning', 'info'].includes(rule.labels?.severity), `${rule.alert}: has a severity`)
    t.ok(rule.annotations?.summary, `${rule.alert}: has a summary`)
  }
  t.ok(rules.some((r: any) => r.labels.severity === 'critical'), 'some alerts are critical')

  const prometheus = parseYaml(await read('ops/prometheus/prometheus.yml'))
  t.same(prometheus.rule_files, ['/etc/prometheus/alerts.yml'])
  t.same(prometheus.scrape_configs[0].static_configs[0].targets, ['api-1:8080', 'api-2:8080'], 'every replica is scraped')

  const dashboard = JSON.parse(await read('ops/grafana/dashboard.json'))
  const panels = dashboard.panels.filter((p: any) => p.type !== 'row')
  t.ok(panels.length >= 20, `${panels.length} panels`)
  t.equal(new Set(dashboard.panels.map((p: any) => p.id)).size, dashboard.panels.length, 'panel ids are unique')
  for (const p of panels) t.ok(p.targets?.length > 0 && p.targets.every((q: any) => q.expr), `${p.title}: has queries`)

  // Every metric the rules and panels use is exposed by the service (with all its plugins).
  const app = await build(t)
  const exposition = (await app.inject({ url: '/metrics' })).body
  const exposed = new Set<string>()
  for (const m of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m
    exposed.add(name!)
    if (type === 'histogram') ['_bucket', '_count', '_sum'].forEach((s) => exposed.add(name + s))
    if (type === 'summary') ['_count', '_sum'].forEach((s) => exposed.add(name + s))
  }
  const used = new Set([...rules.map((r: any) => r.expr), ...panels.flatMap((p: any) => p.targets.map((q: any) => q.expr))].flatMap(metricNames))
  const missing = [...used].filter((n) => !exposed.has(n) && !SYNTHETIC.has(n))
  t.same(missing, [], `all ${used.size} metrics used by alerts and dashboard are exposed`)
  for (const name of ['leaderboard_score_updates_total', 'fitness_syncs_total', 'fitness_flags_raised_total', 'realtime_connections', 'realtime_frames_sent_total', 'prize_payouts_total', 'fitness_provider_circuit_state']) {
    t.ok(used.has(name), `${name} is on the dashboard or in an alert`)
  }

  const compose = parseYaml(await read('docker-compose.yml'))
  const services = compose.services
  t.ok(services['api-1'] && services['api-2'], 'two API replicas')
  t.equal(services['api-1'].environment.DATABASE_URL, services['api-2'].environment.DATABASE_URL, 'sharing Postgres')
  t.equal(services['api-1'].environment.REDIS_URL, services['api-2'].environment.REDIS_URL, 'and Redis')
  t.same(services.lb.volumes, ['./ops/nginx.conf:/etc/nginx/nginx.conf:ro'], 'behind nginx with the config from ops/')
  t.same(services.lb.ports, ['8080:8080'])
  t.notOk(services['api-1'].ports, 'replicas are reached through the load balancer only')
  for (const name of ['api-1', 'api-2']) {
    const api = services[name]
    t.match(api.environment.JWT_SECRET, /^\$\{JWT_SECRET:\?[^}]+\}$/, `${name}: JWT_SECRET must come from the environment, no default`)
    t.ok(api.volumes.includes('files:/app/.data/files'), `${name}: avatars on the shared files volume (DATA_DIR/files)`)
  }
  t.ok('files' in compose.volumes, 'the files volume is declared')
  t.match(await read('Dockerfile'), /mkdir -p \/app\/\.data\/files && chown -R node:node \/app\/\.data/, 'the image owns the mount point, so the volume is writable')

  const nginx = await read('ops/nginx.conf')
  t.match(nginx, /upstream api \{[^}]*server api-1:8080[^}]*server api-2:8080/, 'an upstream with both replicas')
  t.match(nginx, /location \/ws\/ \{[^}]*proxy_set_header Upgrade \$http_upgrade;[^}]*proxy_set_header Connection \$connection_upgrade;/, 'WebSocket upgrade headers')
  t.match(nginx, /location = \/metrics \{ return 404; \}/, '/metrics is not public')
})
