package projections

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/accountd/accountd/events"
)

// UsernameHistoryDoc is every holding of one case-folded username, keyed by
// the name and guarded by $all position. A holding starts with a claim and
// ends with its release; a claim released as abandoned (its holder never
// carried the name) was never a holding and is removed. A reservation
// stream alternates claims and releases, so a release's claim is the event
// just before it: holdings are keyed by the claim's stream revision. Each
// holding is one string, "<user id> <username as typed> <from>", and its
// end another: FerretDB reads a document of thousands of strings several
// times faster than one of thousands of sub-documents.
type UsernameHistoryDoc struct {
	ID       string            `bson:"_id,omitempty"`
	Version  int64             `bson:"_v,omitempty"`
	Holdings map[string]string `bson:"holdings,omitempty"`
	Ends     map[string]string `bson:"ends,omitempty"`
}

// UsernameHistoryCollection is the collection of username histories.
const UsernameHistoryCollection = "username_history"

// UsernameHistoryProjector keeps the username histories.
func UsernameHistoryProjector() Projector {
	return Projector{Name: "username-history", Categories: []string{events.UsernameCategory}, Collections: []string{UsernameHistoryCollection}, Reduce: reduceHolding}
}

func holdingKey(claimRevision uint64) string { return fmt.Sprintf("%010d", claimRevision) }

func reduceHolding(e events.Recorded) ([]Write, error) {
	name := events.StreamID(e.Stream)
	switch p := e.Payload.(type) {
	case events.UsernameClaimedV1:
		holding := p.UserID + " " + p.Username + " " + stamp(e.Metadata.Time)
		return []Write{{Collection: UsernameHistoryCollection, ID: name, Version: e.Position, Set: map[string]any{"holdings." + holdingKey(e.Revision): holding}}}, nil
	case events.UsernameReleasedV1:
		if e.Revision == 0 {
			return nil, nil
		}
		key := holdingKey(e.Revision - 1)
		if p.Reason == events.ReleaseAbandonedClaim {
			return []Write{{Collection: UsernameHistoryCollection, ID: name, Version: e.Position, Set: map[string]any{"holdings." + key: Removal{}, "ends." + key: Removal{}}}}, nil
		}
		return []Write{{Collection: UsernameHistoryCollection, ID: name, Version: e.Position, Set: map[string]any{"ends." + key: stamp(e.Metadata.Time)}}}, nil
	}
	return nil, nil
}

// Holding is one holding of a name: [From, Until), Until zero while held.
type Holding struct {
	UserID   string
	Username string
	From     time.Time
	Until    time.Time
}

// HoldingsInOrder are a history document's holdings, oldest first.
func (d UsernameHistoryDoc) HoldingsInOrder() []Holding {
	out := make([]Holding, 0, len(d.Holdings))
	for key, h := range d.Holdings {
		parts := strings.SplitN(h, " ", 3)
		if len(parts) != 3 {
			continue
		}
		out = append(out, Holding{UserID: parts[0], Username: parts[1], From: Time(parts[2]), Until: Time(d.Ends[key])})
	}
	slices.SortFunc(out, func(a, b Holding) int { return cmp.Compare(a.From.UnixNano(), b.From.UnixNano()) })
	return out
}

// HoldingsOf computes a name's holdings straight from its reservation
// stream (oldest first), by the same rules as the projection.
func HoldingsOf(stream []events.Recorded) []Holding {
	var out []Holding
	open := -1
	for _, e := range stream {
		switch p := e.Payload.(type) {
		case events.UsernameClaimedV1:
			out = append(out, Holding{UserID: p.UserID, Username: p.Username, From: e.Metadata.Time.UTC()})
			open = len(out) - 1
		case events.UsernameReleasedV1:
			if open < 0 {
				continue
			}
			if p.Reason == events.ReleaseAbandonedClaim {
				out = slices.Delete(out, open, open+1)
			} else {
				out[open].Until = e.Metadata.Time.UTC()
			}
			open = -1
		}
	}
	return out
}

// HolderAt is the holding in force at t: From <= t < Until.
func HolderAt(hs []Holding, t time.Time) (Holding, bool) {
	for _, h := range hs {
		if !t.Before(h.From) && (h.Until.IsZero() || t.Before(h.Until)) {
			return h, true
		}
	}
	return Holding{}, false
}
