import { test } from 'tap'
import { blockedReason, checkTarget, TargetRefused } from '../../../services/webhooks/address-guard.ts'

test('non-public addresses are named by kind; public ones pass', async (t) => {
  const cases: Array<[string, string | null]> = [
    ['127.0.0.1', 'loopback'], ['127.255.0.9', 'loopback'], ['::1', 'loopback'],
    ['10.1.2.3', 'private'], ['172.16.0.1', 'private'], ['172.31.255.255', 'private'], ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'], ['fe80::1', 'link-local'],
    ['100.64.0.1', 'carrier-grade NAT'], ['100.127.255.254', 'carrier-grade NAT'],
    ['fc00::1', 'unique-local'], ['fd12:3456::1', 'unique-local'],
    ['0.0.0.0', 'unspecified ("this network")'], ['0.1.2.3', 'unspecified ("this network")'], ['::', 'unspecified ("this network")'],
    ['224.0.0.1', 'multicast'], ['239.1.1.1', 'multicast'], ['ff02::1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    // IPv4-mapped forms of private addresses.
    ['::ffff:127.0.0.1', 'loopback'], ['::ffff:7f00:1', 'loopback'], ['::ffff:10.0.0.1', 'private'], ['::ffff:a9fe:a9fe', 'link-local'],
    ['64:ff9b::a00:1', 'IPv4 embedded in IPv6'], ['2002:a00:1::1', 'IPv4 embedded in IPv6'],
    ['8.8.8.8', null], ['1.1.1.1', null], ['172.32.0.1', null], ['100.128.0.1', null], ['2606:4700:4700::1111', null], ['::ffff:8.8.8.8', null]
  ]
  for (const [address, reason] of cases) t.equal(blockedReason(address), reason, address)
})

test('registration: https only, and every resolved address must be public', async (t) => {
  const resolve = async (host: string) => {
    if (host === 'public.example') return [{ address: '93.184.215.14', family: 4 }]
    if (host === 'mixed.example') return [{ address: '93.184.215.14', family: 4 }, { address: '10.0.0.7', family: 4 }]
    throw new Error('ENOTFOUND')
  }
  const refused = async (url: string, pattern: RegExp) => {
    const err = await checkTarget(url, { allowPrivate: false, resolve }).then(() => null, (e: unknown) => e)
    t.ok(err instanceof TargetRefused, `${url} refused`)
    t.match((err as Error).message, pattern, url)
  }
  t.equal((await checkTarget('https://public.example/hook', { allowPrivate: false, resolve })).hostname, 'public.example')
  await refused('http://public.example/hook', /must use https/)
  await refused('ftp://public.example/hook', /must use https/)
  await refused('https://user:pw@public.example/', /credentials/)
  await refused('not a url', /not a valid/)
  await refused('https://mixed.example/', /resolves to 10\.0\.0\.7, a private address/)
  await refused('https://nowhere.example/', /does not resolve/)
  await refused('https://127.0.0.1/', /loopback/)
  await refused('https://[::1]:8443/', /loopback/)
  await refused('https://[::ffff:169.254.169.254]/', /link-local/)
  // Numeric forms the URL parser turns into dotted IPv4.
  await refused('https://2130706433/', /127\.0\.0\.1, a loopback/)
  await refused('https://0x7f.1/', /loopback/)
  // The real resolver: localhost is loopback on every machine.
  const err = await checkTarget('https://localhost/', { allowPrivate: false }).then(() => null, (e: unknown) => e)
  t.match((err as Error).message, /url host localhost resolves to .*, a loopback address/)

  t.equal((await checkTarget('http://127.0.0.1:9/', { allowPrivate: true })).port, '9', 'allowed for development')
})
