package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/platform"
	"github.com/accountd/accountd/internal/validate"
	"github.com/accountd/accountd/projections"
)

type holdingJSON struct {
	UserID   string  `json:"user_id"`
	Username string  `json:"username"`
	From     string  `json:"from"`
	Until    *string `json:"until"`
}

func toJSON(h projections.Holding) holdingJSON {
	out := holdingJSON{UserID: h.UserID, Username: h.Username, From: h.From.UTC().Format(time.RFC3339Nano)}
	if !h.Until.IsZero() {
		u := h.Until.UTC().Format(time.RFC3339Nano)
		out.Until = &u
	}
	return out
}

func (e *env) usernameHistoryCmd() *cobra.Command {
	var at string
	cmd := &cobra.Command{
		Use:   "username-history NAME",
		Short: "Who held a username, and when (from the event store, not a read model)",
		Long: "Every holding of NAME (case-insensitive): the holder's user id, the name as they typed it, and the half-open\n" +
			"interval [from, until) they held it; until is empty while held. With --at, the holding in force then.\n" +
			"Answers from the reservation stream and the holders' own streams, so it is right even while read models are wrong.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var when time.Time
			if at != "" {
				var err error
				if when, err = parseTime("at", at); err != nil {
					return err
				}
			}
			p, err := e.dial(platform.NeedEventStore)
			if err != nil {
				return err
			}
			defer p.Close()
			hs, err := holdingsFromLog(e, eventlog.New(p.ESDB), args[0])
			if err != nil {
				return err
			}
			if at != "" {
				h, ok := projections.HolderAt(hs, when)
				if !ok {
					return exitError{1, fmt.Sprintf("nobody held %q at %s", args[0], when.UTC().Format(time.RFC3339Nano))}
				}
				hs = []projections.Holding{h}
			}
			return e.printHoldings(hs)
		},
	}
	cmd.Flags().StringVar(&at, "at", "", "an RFC 3339 instant: only the holding in force then")
	return cmd
}

// holdingsFromLog reads a name's reservation stream. A holding released
// because its holder renamed was carried; the one still open is checked
// against the holder's own stream, and left out if the holder never carried
// the name (a claim abandoned by a crash between the claim and the rename,
// not yet reconciled) unless it is a moment old (a rename in flight).
func holdingsFromLog(e *env, log *eventlog.ESDB, name string) ([]projections.Holding, error) {
	canonical := validate.CanonicalUsername(name)
	recs, err := log.ReadStream(e.ctx, events.UsernameStream(canonical), commands.NoStream)
	if err != nil {
		return nil, err
	}
	hs := projections.HoldingsOf(recs)
	if n := len(hs); n > 0 && hs[n-1].Until.IsZero() && time.Since(hs[n-1].From) >= 10*time.Second {
		userEvents, err := log.ReadStream(e.ctx, events.UserStream(hs[n-1].UserID), commands.NoStream)
		if err != nil {
			return nil, err
		}
		carried := false
		for _, u := range userEvents {
			switch p := u.Payload.(type) {
			case events.UserRegisteredV1:
				carried = carried || validate.CanonicalUsername(p.Username) == canonical
			case events.UserRenamedV1:
				carried = carried || validate.CanonicalUsername(p.NewUsername) == canonical
			}
		}
		if !carried {
			hs = hs[:n-1]
		}
	}
	return hs, nil
}

func (e *env) printHoldings(hs []projections.Holding) error {
	if e.json {
		out := make([]holdingJSON, len(hs))
		for i, h := range hs {
			out[i] = toJSON(h)
		}
		return e.printJSON(out)
	}
	if len(hs) == 0 {
		fmt.Fprintln(e.stdout, "nobody has held this name")
		return nil
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "FROM\tUNTIL\tUSER ID\tUSERNAME")
	for _, h := range hs {
		until := "(holds it now)"
		if !h.Until.IsZero() {
			until = h.Until.UTC().Format(time.RFC3339Nano)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", h.From.UTC().Format(time.RFC3339Nano), until, h.UserID, h.Username)
	}
	return w.Flush()
}
