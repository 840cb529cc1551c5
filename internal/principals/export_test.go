package principals

import "github.com/accountd/accountd/events"

// Feed applies events as if read from the log, for tests of the ordering
// rules without a server.
func Feed(x *Index) func(events.Recorded) {
	return func(r events.Recorded) {
		(*follower)(x).Event(r.Stream, r.Revision, func() (events.Recorded, error) { return r, nil })
	}
}
