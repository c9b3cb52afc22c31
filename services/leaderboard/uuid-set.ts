// A set of UUIDs added in ascending order (as Postgres sorts them: by their 16 bytes), kept as
// packed bytes: 16 bytes per id instead of a string and a hash-table entry each, so a rebuild
// can remember 100,000 participants in under 2 MB outside the JavaScript heap.
// `has` answers "certainly added": should an id ever arrive out of order or malformed, the set
// answers false from then on and the caller falls back to asking the source.
export class AscendingUuidSet {
  private bytes = new Uint8Array(16 * 1024)
  private count = 0
  private usable = true
  private readonly probe = new Uint8Array(16)

  get size (): number {
    return this.count
  }

  add (uuid: string): void {
    if (!this.usable) return
    if (!pack(uuid, this.probe) || (this.count > 0 && this.compareAt(this.count - 1) <= 0)) {
      this.usable = false
      return
    }
    if ((this.count + 1) * 16 > this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2)
      grown.set(this.bytes)
      this.bytes = grown
    }
    this.bytes.set(this.probe, this.count * 16)
    this.count++
  }

  has (uuid: string): boolean {
    if (!this.usable || !pack(uuid, this.probe)) return false
    let lo = 0
    let hi = this.count - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const c = this.compareAt(mid)
      if (c === 0) return true
      if (c > 0) lo = mid + 1
      else hi = mid - 1
    }
    return false
  }

  // The probe compared with the id at `index`: negative, zero or positive.
  private compareAt (index: number): number {
    const base = index * 16
    for (let i = 0; i < 16; i++) {
      const d = this.probe[i]! - this.bytes[base + i]!
      if (d !== 0) return d
    }
    return 0
  }
}

// The 16 bytes of a UUID written as 32 hex digits with or without dashes, any case.
function pack (uuid: string, out: Uint8Array): boolean {
  let n = 0
  let high = -1
  for (let i = 0; i < uuid.length; i++) {
    const c = uuid.charCodeAt(i)
    if (c === 45) continue
    const v = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1
    if (v < 0 || n >= 16) return false
    if (high < 0) high = v
    else { out[n++] = high * 16 + v; high = -1 }
  }
  return n === 16 && high < 0
}
