package queries

import "github.com/accountd/accountd/projections"

// Standings is the one home of "is this account active, disabled or
// deleted": queries ask it, and the API and console ask the queries. The
// credential index answers it; it learns of a disable, an enable or a
// deletion with the write itself on the replica that made it (and from
// the log on the others), so a lagging read model neither shows a
// disabled account nor hides one enabled again. "" means the port does not
// know the account (not yet followed): the document's own record decides.
type Standings interface {
	Standing(userID string) projections.Standing
}

// Standings sets the port; without one, each document's record decides.
func (r *Reader) Standings(s Standings) { r.standings = s }

// Standing is the account's standing: the port's answer, or the record of
// doc (the account's document, read already) where the port has none.
func (r *Reader) Standing(doc projections.UserDoc) projections.Standing {
	if r.standings != nil {
		if s := r.standings.Standing(doc.ID); s != "" {
			return s
		}
	}
	return doc.Standing()
}
