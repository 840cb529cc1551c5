package projections

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/accountd/accountd/events"
)

// UsernameHistoryDoc is every holding of one case-folded username, keyed by
// the name and guarded by $all position. A holding starts with a claim and
// ends with its release; a claim released as abandoned (its holder never
// carried the name) was never a holding and is removed. A reservation
// stream alternates claims and releases, so a release's claim is the event
// just before it: holdings are keyed by the claim's stream revision.
type UsernameHistoryDoc struct {
	ID       string                `bson:"_id,omitempty"`
	Version  int64                 `bson:"_v,omitempty"`
	Holdings map[string]HoldingDoc `bson:"holdings,omitempty"`
}

// HoldingDoc is one holding.
type HoldingDoc struct {
	UserID   string `bson:"user_id,omitempty"`
	Username string `bson:"username,omitempty"` // as the holder typed it
	From     string `bson:"from,omitempty"`
	Until    string `bson:"until,omitempty"` // "" while held
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
		set, err := under("holdings."+holdingKey(e.Revision), HoldingDoc{UserID: p.UserID, Username: p.Username, From: stamp(e.Metadata.Time)})
		if err != nil {
			return nil, err
		}
		return []Write{{Collection: UsernameHistoryCollection, ID: name, Version: e.Position, Set: set}}, nil
	case events.UsernameReleasedV1:
		if e.Revision == 0 {
			return nil, nil
		}
		path := "holdings." + holdingKey(e.Revision-1)
		if p.Reason == events.ReleaseAbandonedClaim {
			return []Write{{Collection: UsernameHistoryCollection, ID: name, Version: e.Position, Set: map[string]any{path: Removal{}}}}, nil
		}
		return []Write{{Collection: UsernameHistoryCollection, ID: name, Version: e.Position, Set: map[string]any{path + ".until": stamp(e.Metadata.Time)}}}, nil
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

// Holdings are a history document's holdings, oldest first.
func (d UsernameHistoryDoc) HoldingsInOrder() []Holding {
	out := make([]Holding, 0, len(d.Holdings))
	for _, h := range d.Holdings {
		if h.UserID == "" {
			continue // only an end was recorded: a release whose claim was never seen
		}
		out = append(out, Holding{UserID: h.UserID, Username: h.Username, From: Time(h.From), Until: Time(h.Until)})
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
