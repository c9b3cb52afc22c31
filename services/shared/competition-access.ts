// Who may see and who may manage a competition: one rule for the catalogue, the leaderboard
// and its feed, prizes, joining, invites and editing.

export interface Viewer { id: string, isAdmin: boolean }

// Seen without being a participant or holding an invite: a public competition, or any
// competition by its creator and by admins.
export function seenWithoutMembership (competition: { visibility: string, createdBy: string | null }, viewer: Viewer): boolean {
  return competition.visibility === 'public' || managedBy(competition.createdBy, viewer)
}

// Its creator and admins manage it (invites, edits).
export function managedBy (createdBy: string | null, viewer: Viewer): boolean {
  return viewer.isAdmin || createdBy === viewer.id
}
