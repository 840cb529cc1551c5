package main

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/keystore"
	"github.com/accountd/accountd/internal/platform"
	"github.com/accountd/accountd/internal/summary"
	"github.com/accountd/accountd/internal/validate"
	"github.com/accountd/accountd/projections"
	"github.com/accountd/accountd/queries"
)

type timelineJSON struct {
	Position   uint64                    `json:"position"`
	Time       string                    `json:"time"`
	Type       string                    `json:"type"`
	Stream     string                    `json:"stream"`
	Actor      string                    `json:"actor"`
	Credential *credentialJSON           `json:"credential"`
	ClientIP   string                    `json:"client_ip"`
	UserAgent  string                    `json:"user_agent"`
	Summary    string                    `json:"summary"`
	Changes    []projections.AuditChange `json:"changes,omitempty"`
}

type credentialJSON struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

func (e *env) userHistoryCmd() *cobra.Command {
	var since string
	cmd := &cobra.Command{
		Use:   "user-history USER_ID|USERNAME",
		Short: "An account's timeline: every event about it, in order, with actor, credential, address and what changed",
		Long: "Reads the event log itself. A username is the account holding it now; give a user id for an account\n" +
			"that has since renamed or for a name held by someone else today.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var from time.Time
			if since != "" {
				var err error
				if from, err = parseTime("since", since); err != nil {
					return err
				}
			}
			p, err := e.dial(platform.NeedEventStore | platform.NeedMongo)
			if err != nil {
				return err
			}
			defer p.Close()
			keys, err := e.keys(p)
			if err != nil {
				return err
			}
			userID, err := resolveUser(e, eventlog.New(p.ESDB), args[0])
			if err != nil {
				return err
			}
			lines, err := timeline(e, p.ESDB, keys, userID, from)
			if err != nil {
				return err
			}
			return e.printTimeline(lines)
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "only events written at or after this RFC 3339 time")
	return cmd
}

// resolveUser is the account an argument names: a user id that has a
// stream, or the current holder of a username.
func resolveUser(e *env, log *eventlog.ESDB, arg string) (string, error) {
	if id, err := uuid.Parse(arg); err == nil {
		recs, err := log.ReadStream(e.ctx, events.UserStream(id.String()), commands.NoStream)
		if err != nil {
			return "", err
		}
		if len(recs) == 0 {
			return "", fmt.Errorf("no account with id %s", id)
		}
		return id.String(), nil
	}
	hs, err := holdingsFromLog(e, log, arg)
	if err != nil {
		return "", err
	}
	if h, ok := projections.HolderAt(hs, time.Now()); ok {
		return h.UserID, nil
	}
	if len(validate.Username("username", arg)) > 0 {
		return "", fmt.Errorf("%q is neither a user id nor a username", arg)
	}
	return "", fmt.Errorf("nobody holds the username %q now (username-history %s shows who did)", arg, arg)
}

// timeline reads every event about the account: its own streams and the
// session and username events that name it.
func timeline(e *env, client *esdb.Client, keys *keystore.Store, userID string, since time.Time) ([]timelineJSON, error) {
	var out []timelineJSON
	var start esdb.AllPosition = esdb.Start{}
	last := uint64(0)
	for {
		rs, err := client.ReadAll(e.ctx, esdb.ReadAllOptions{From: start}, pageSize)
		if err != nil {
			return nil, err
		}
		n := 0
		for {
			ev, err := rs.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rs.Close()
				return nil, err
			}
			r := ev.Event
			if r == nil || (n == 0 && last > 0 && r.Position.Commit <= last) {
				continue
			}
			n++
			last = r.Position.Commit
			if len(r.EventType) > 0 && r.EventType[0] == '$' {
				continue
			}
			rec, err := eventlog.Decode(r)
			if err != nil || projections.AuditAccount(rec) != userID {
				continue
			}
			if !since.IsZero() && rec.Metadata.Time.Before(since) {
				continue
			}
			a, err := queries.OpenAuditEntry(e.ctx, keys, keystore.ErrErased, userID, projections.AuditEntryOf(rec))
			if err != nil {
				rs.Close()
				return nil, err
			}
			line := timelineJSON{Position: r.Position.Commit, Time: a.Time, Type: a.Type, Stream: r.StreamID, Actor: a.Actor,
				ClientIP: a.ClientIP, UserAgent: a.UserAgent, Summary: summary.Text(a, "en", time.UTC), Changes: a.Changes}
			if a.CredentialKind != "" {
				line.Credential = &credentialJSON{Kind: a.CredentialKind, ID: a.CredentialID}
			}
			out = append(out, line)
		}
		rs.Close()
		if n == 0 {
			return out, nil
		}
		start = esdb.Position{Commit: last, Prepare: last}
	}
}

func (e *env) printTimeline(lines []timelineJSON) error {
	if e.json {
		if lines == nil {
			lines = []timelineJSON{}
		}
		return e.printJSON(lines)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "TIME\tTYPE\tACTOR\tCREDENTIAL\tADDRESS\tSUMMARY")
	for _, l := range lines {
		cred := "-"
		if l.Credential != nil {
			cred = l.Credential.Kind + ":" + l.Credential.ID[:min(8, len(l.Credential.ID))]
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", l.Time, l.Type, l.Actor, cred, dash(l.ClientIP), l.Summary)
	}
	return w.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
