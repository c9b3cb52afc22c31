import { replayFrames } from './frames.ts'
import type { StoredUpdate } from './windows.ts'
import { updatesOf, type Client } from './feed-state.ts'
import type { FanOut, FanOutDeps } from './fan-out.ts'

// Starting a client (snapshot, or the replay of what it missed when it resumes with a seq) and
// resumes asked for on an open socket. A client may see seq jump; the stream stays complete:
// replay from the buffer, else a fresh snapshot.

export interface ResumeDeps {
  send: FanOutDeps['send']
  fanOut: Pick<FanOut, 'handle' | 'loadView' | 'sendSnapshot'>
}

function resumedFrame (client: Client, fromSeq: number, seq: number): string {
  return JSON.stringify({ type: 'resumed', competitionId: client.feed.competitionId, fromSeq, seq })
}

export function createResume (deps: ResumeDeps) {
  const { send, fanOut } = deps

  // Replays `frames` (the ones after `fromSeq`, ending at the feed's current seq) to a client.
  function replay (client: Client, fromSeq: number, frames: StoredUpdate[], previousRank: number | null): boolean {
    const seq = client.feed.view!.seq
    if (!send(client, resumedFrame(client, fromSeq, seq), 'resumed')) return false
    const own = client.rank === null && client.score === null ? null : { rank: client.rank, previousRank, score: client.score }
    for (const text of replayFrames(frames, client.feed.view!.top, client.limit, own)) send(client, text, 'update')
    client.lastSeq = seq
    return true
  }

  async function start (client: Client, resumeSeq: number | undefined): Promise<void> {
    const { feed } = client
    const view = feed.view ?? await fanOut.loadView(feed, client.userId)
    if (resumeSeq !== undefined) {
      const resumed = await feed.source.resume(feed.competitionId, client.userId, resumeSeq)
      const frames = updatesOf(resumed?.frames)
      if (resumed && frames && resumeSeq <= view.seq && resumed.seq >= view.seq) {
        // The feed's copy first moves to the resumed seq (other clients get those frames now).
        for (const frame of frames) if (frame.seq === view.seq + 1) await fanOut.handle(feed, frame)
        if (feed.view === view && view.seq === resumed.seq) {
          client.rank = resumed.me?.rank ?? null
          client.score = resumed.me?.score ?? null
          if (replay(client, resumeSeq, frames, null)) client.ready = true
          return
        }
      }
    }
    await fanOut.sendSnapshot(client)
    client.ready = true
  }

  // A resume on an open socket: replay what the client says it missed before this socket's
  // position, from the buffer, or send a snapshot.
  async function resumeOpen (client: Client, fromSeq: number): Promise<void> {
    if (fromSeq >= client.lastSeq) {
      send(client, resumedFrame(client, fromSeq, client.lastSeq), 'resumed')
      return
    }
    const view = client.feed.view
    const frames = updatesOf(await client.feed.source.framesSince(client.feed.competitionId, fromSeq).catch(() => null))
    const missed = frames?.filter((f) => f.seq <= client.lastSeq)
    if (!view || view.seq !== client.lastSeq || !missed || missed.length !== client.lastSeq - fromSeq) {
      await fanOut.sendSnapshot(client)
      return
    }
    replay(client, fromSeq, missed, client.rank)
  }

  return { start, resumeOpen }
}
