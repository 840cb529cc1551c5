package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/spf13/cobra"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/platform"
)

// adminJSON is one account holding the admin role, and the grant that gave
// it (the first since the account last did not hold it).
type adminJSON struct {
	UserID   string `json:"user_id"`
	Username string `json:"username"` // held now
	Disabled bool   `json:"disabled"`
	// Source is "configuration" (--admin) or "admin" (an admin's grant).
	Source string `json:"source"`
	// ConfiguredAs: the configured value (a username, or id:<uuid>).
	ConfiguredAs string `json:"configured_as,omitempty"`
	// GrantedBy: the admin who granted it (user id) and their username now.
	GrantedBy         string `json:"granted_by,omitempty"`
	GrantedByUsername string `json:"granted_by_username,omitempty"`
	GrantedAt         string `json:"granted_at"`
	Position          uint64 `json:"position"` // of the grant in the log
}

func (e *env) adminsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "admins",
		Short: "Who holds the admin role now, and why: granted by configuration (--admin) or by which admin, when",
		Long: "Reads the event log itself (every account's role events). A configured admin (--admin NAME) holds the role by a\n" +
			"grant the service recorded once, to the first account it saw holding NAME; the role follows that account,\n" +
			"whatever it is called now.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := e.dial(platform.NeedEventStore)
			if err != nil {
				return err
			}
			defer p.Close()
			admins, err := adminsFromLog(e.ctx, p.ESDB)
			if err != nil {
				return err
			}
			return e.printAdmins(admins)
		},
	}
}

type adminAccount struct {
	username                string
	disabled, deleted, held bool
	grant                   adminJSON
}

// adminsFromLog folds every user event of the log (filtered by the event
// store) into the accounts' roles, names and standing.
func adminsFromLog(ctx context.Context, client *esdb.Client) ([]adminJSON, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, err := client.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{
		From:   esdb.Start{},
		Filter: &esdb.SubscriptionFilter{Type: esdb.EventFilterType, Prefixes: []string{events.UserCategory + "."}},
	})
	if err != nil {
		return nil, err
	}
	defer sub.Close()
	accounts := map[string]*adminAccount{}
	for {
		ev := sub.Recv()
		switch {
		case ev.SubscriptionDropped != nil:
			if err := ev.SubscriptionDropped.Error; err != nil {
				return nil, err
			}
			return nil, errors.New("the event store ended the subscription")
		case ev.CaughtUp != nil:
			return listAdmins(accounts), nil
		case ev.EventAppeared != nil:
			rec, err := eventlog.Decode(ev.EventAppeared.Event)
			if err != nil || events.Category(rec.Stream) != events.UserCategory {
				continue // the projectors park what cannot be read
			}
			foldAdmin(accounts, rec)
		}
	}
}

func foldAdmin(accounts map[string]*adminAccount, rec events.Recorded) {
	id := events.StreamID(rec.Stream)
	a := accounts[id]
	if a == nil {
		a = &adminAccount{}
		accounts[id] = a
	}
	switch p := rec.Payload.(type) {
	case events.UserRegisteredV1:
		a.username = p.Username
	case events.UserRenamedV1:
		a.username = p.NewUsername
	case events.UserDisabledV1:
		a.disabled = true
	case events.UserEnabledV1:
		a.disabled = false
	case events.UserDeletedV1:
		a.deleted = true
	case events.UserRoleRevokedV1:
		if p.Role == events.RoleAdmin {
			a.held = false
		}
	case events.UserRoleGrantedV1:
		if p.Role != events.RoleAdmin || a.held {
			return
		}
		a.held = true
		a.grant = adminJSON{UserID: id, Source: "admin", GrantedBy: rec.Metadata.Actor,
			GrantedAt: rec.Metadata.Time.UTC().Format(time.RFC3339Nano), Position: rec.Position}
		if p.Source == events.RoleSourceConfiguration {
			a.grant.Source, a.grant.ConfiguredAs, a.grant.GrantedBy = p.Source, p.ConfiguredAs, ""
		}
	}
}

// listAdmins: the live accounts holding the role, oldest grant first.
func listAdmins(accounts map[string]*adminAccount) []adminJSON {
	out := []adminJSON{}
	for _, a := range accounts {
		if !a.held || a.deleted {
			continue
		}
		g := a.grant
		g.Username, g.Disabled = a.username, a.disabled
		if by := accounts[g.GrantedBy]; by != nil {
			g.GrantedByUsername = by.username
		}
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b adminJSON) int { return cmp.Compare(a.Position, b.Position) })
	return out
}

func (e *env) printAdmins(admins []adminJSON) error {
	if e.json {
		return e.printJSON(admins)
	}
	if len(admins) == 0 {
		fmt.Fprintln(e.stdout, "nobody holds the admin role (accountd --admin NAME grants it)")
		return nil
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "USER ID\tUSERNAME\tSTATUS\tSINCE\tWHY")
	for _, a := range admins {
		status := "active"
		if a.Disabled {
			status = "disabled"
		}
		why := "configuration: --admin " + a.ConfiguredAs
		if a.Source != events.RoleSourceConfiguration {
			why = "granted by " + a.GrantedBy
			if a.GrantedByUsername != "" {
				why = "granted by " + a.GrantedByUsername + " (" + a.GrantedBy + ")"
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", a.UserID, a.Username, status, a.GrantedAt, why)
	}
	return w.Flush()
}
