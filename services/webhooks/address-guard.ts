import dns from 'node:dns'
import net from 'node:net'

// The SSRF guard: a webhook may only reach the public internet, never the service's own
// network (cloud metadata at 169.254.169.254, databases on 10.x, the host's loopback). Checked
// when an endpoint is registered and again on every connection (connectLookup below), because
// a name that resolved to a public address yesterday may resolve to 127.0.0.1 today (DNS
// rebinding).

const RANGES: Array<[reason: string, cidrs: string[]]> = [
  ['loopback', ['127.0.0.0/8', '::1/128']],
  ['private', ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']],
  ['link-local', ['169.254.0.0/16', 'fe80::/10']],
  ['carrier-grade NAT', ['100.64.0.0/10']],
  ['unique-local', ['fc00::/7', 'fec0::/10']],
  ['unspecified ("this network")', ['0.0.0.0/8', '::/128']],
  ['multicast', ['224.0.0.0/4', 'ff00::/8']],
  ['reserved', ['240.0.0.0/4', '192.0.0.0/24', '198.18.0.0/15', '100::/64', '2001:db8::/32']],
  ['documentation', ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24']],
  // Forms that carry an IPv4 address inside IPv6 and may reach it through a gateway: NAT64,
  // 6to4 and the deprecated IPv4-compatible form. (IPv4-mapped ::ffff:a.b.c.d is matched by the
  // IPv4 ranges themselves: BlockList checks mapped addresses against them.)
  ['IPv4 embedded in IPv6', ['64:ff9b::/96', '2002::/16', '::/96']]
]

const BLOCKS = RANGES.map(([reason, cidrs]) => {
  const list = new net.BlockList()
  for (const cidr of cidrs) {
    const [address, prefix] = cidr.split('/') as [string, string]
    list.addSubnet(address, Number(prefix), net.isIPv6(address) ? 'ipv6' : 'ipv4')
  }
  return { reason, list }
})

// Why an address must not be a webhook target, or null when it is public.
export function blockedReason (address: string): string | null {
  const family = net.isIP(address)
  if (family === 0) return 'not an IP address'
  const type = family === 6 ? 'ipv6' : 'ipv4'
  return BLOCKS.find(({ list }) => list.check(address, type))?.reason ?? null
}

export interface ResolvedAddress { address: string, family: number }
export type Resolve = (hostname: string) => Promise<ResolvedAddress[]>

export const resolveAll: Resolve = async (hostname) => await dns.promises.lookup(hostname, { all: true, verbatim: true })

// URL.hostname keeps an IPv6 literal's brackets.
export function bareHostname (url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1')
}

export class TargetRefused extends Error {}

export interface TargetPolicy {
  allowPrivate: boolean
  resolve?: Resolve
}

// Throws TargetRefused naming the reason. Without allowPrivate: https only, no credentials in
// the URL, and every address the host resolves to is public.
export async function checkTarget (raw: string, { allowPrivate, resolve = resolveAll }: TargetPolicy): Promise<URL> {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new TargetRefused('url is not a valid absolute URL')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TargetRefused('url must use https')
  if (url.username !== '' || url.password !== '') throw new TargetRefused('url must not carry credentials')
  if (allowPrivate) return url
  if (url.protocol !== 'https:') throw new TargetRefused('url must use https')
  const host = bareHostname(url)
  const addresses = net.isIP(host) !== 0 ? [host] : await lookupOrRefuse(resolve, host)
  for (const address of addresses) {
    const reason = blockedReason(address)
    if (reason !== null) throw new TargetRefused(`url host ${host} resolves to ${address}, a ${reason} address`)
  }
  return url
}

async function lookupOrRefuse (resolve: Resolve, host: string): Promise<string[]> {
  let resolved: ResolvedAddress[]
  try {
    resolved = await resolve(host)
  } catch {
    throw new TargetRefused(`url host ${host} does not resolve`)
  }
  if (resolved.length === 0) throw new TargetRefused(`url host ${host} does not resolve`)
  return resolved.map((r) => r.address)
}

type LookupCallback = (err: Error | null, address: string | ResolvedAddress[], family?: number) => void

// A `lookup` for net/tls connect: the socket connects only to the addresses this returns, so
// refusing here refuses the connection itself, whatever the name resolved to at registration.
// Node asks with { all: true } when it races address families (autoSelectFamily).
export function connectLookup ({ allowPrivate, resolve = resolveAll }: TargetPolicy) {
  return function guardedLookup (hostname: string, options: { all?: boolean }, callback: LookupCallback): void {
    resolve(hostname).then((resolved) => {
      const refused = allowPrivate ? undefined : resolved.find((r) => blockedReason(r.address) !== null)
      if (refused !== undefined) {
        callback(new TargetRefused(`refused to connect: ${hostname} resolves to ${refused.address}, a ${blockedReason(refused.address)} address`), [])
      } else if (resolved.length === 0) {
        callback(new TargetRefused(`${hostname} does not resolve`), [])
      } else if (options.all === true) {
        callback(null, resolved)
      } else {
        callback(null, resolved[0]!.address, resolved[0]!.family)
      }
    }, (err: Error) => { callback(err, []) })
  }
}
