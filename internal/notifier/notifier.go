// Package notifier raises the users' notifications: an event subscriber
// (a durable JetStream consumer of the event feed) turns security-relevant
// events into notifications, and a reminder job raises one before each
// token or service credential expires, at the user's lead times. Delivery
// is at least once; commands.Notify raises one notification per cause, so
// redelivery raises nothing twice.
package notifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/notices"
	"github.com/accountd/accountd/internal/principals"
	"github.com/accountd/accountd/internal/projector"
)

// Consumer is the durable consumer's name: renaming it replays the feed
// (harmless, every notification is raised once, but slow).
const Consumer = "notifier"

// Commands is what the notifier needs of the command side.
type Commands interface {
	Notify(ctx context.Context, userID string, n commands.Raise, meta events.Metadata) (commands.Result, error)
	NewAddress(ctx context.Context, userID, tokenID, address string, revision uint64) (string, bool, error)
	TokenTitle(ctx context.Context, userID, tokenID string) string
	CredentialService(ctx context.Context, userID, credentialID string) string
	NotificationPreferences(ctx context.Context, userID string) (commands.Preferences, error)
}

// Opener opens an event's personal fields (a token's title, a
// credential's service, the old e-mail address).
type Opener interface {
	OpenPayload(ctx context.Context, owner string, p events.Payload) (events.Payload, bool, error)
}

// Notifier runs the subscriber.
type Notifier struct {
	Commands  Commands
	Keys      Opener
	JetStream jetstream.JetStream
	Stream    string
	Subject   string
	Logger    *slog.Logger
	// PinnedTTL: as the projectors' executors (zero: projector.DefaultPinnedTTL).
	PinnedTTL time.Duration
}

// Run consumes until ctx ends (nil) or the consumer fails (run it under a
// supervisor).
func (n *Notifier) Run(ctx context.Context) error {
	if n.Logger == nil {
		n.Logger = slog.New(slog.DiscardHandler)
	}
	ttl := n.PinnedTTL
	if ttl <= 0 {
		ttl = projector.DefaultPinnedTTL
	}
	cons, err := n.JetStream.CreateOrUpdateConsumer(ctx, n.Stream, jetstream.ConsumerConfig{
		Durable:       Consumer,
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		FilterSubjects: []string{n.Subject + "." + events.UserCategory, n.Subject + "." + events.TokensCategory,
			n.Subject + "." + events.CredentialsCategory},
		AckWait:       30 * time.Second,
		MaxAckPending: 1000,
		// One replica's notifier at a time (the others stand by), like the
		// projectors'; raising a notification is idempotent all the same.
		PriorityPolicy: jetstream.PriorityPolicyPinned,
		PriorityGroups: []string{projector.PriorityGroup},
		PinnedTTL:      ttl,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("notifier: consumer: %w", err)
	}
	pin := ""
	defer func() { projector.Unpin(n.JetStream, n.Stream, Consumer, pin, n.Logger) }()
	for ctx.Err() == nil {
		batch, err := cons.Fetch(64, jetstream.FetchMaxWait(min(time.Second, ttl/3)), jetstream.FetchPriorityGroup(projector.PriorityGroup))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("notifier: fetch: %w", err)
		}
		for m := range batch.Messages() {
			pin = m.Headers().Get("Nats-Pin-Id")
			if ctx.Err() != nil {
				_ = m.Nak() // stopping: the next holder gets it at once
				continue
			}
			n.handle(ctx, m)
		}
		if err := batch.Error(); errors.Is(err, jetstream.ErrPinIDMismatch) {
			pin = "" // another replica's notifier holds it
		} else if projector.Leaderless(err) {
			// No consumer leader yet (being elected): "no responders"
			// comes back at once, so pause rather than spin.
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// handle raises what one event calls for, then acknowledges it; a failure
// leaves it to be redelivered.
func (n *Notifier) handle(ctx context.Context, m jetstream.Msg) {
	var env events.Envelope
	if err := json.Unmarshal(m.Data(), &env); err != nil {
		_ = m.Term() // never readable; the projectors park it
		return
	}
	rec, err := env.Decode()
	if err != nil {
		_ = m.Ack() // an event this version does not know raises nothing
		return
	}
	if err := n.Handle(ctx, rec); err != nil {
		if ctx.Err() == nil {
			n.Logger.Warn("notification not raised; it will be retried", "event", rec.ID, "type", rec.Type, "err", err)
		}
		_ = m.NakWithDelay(time.Second)
		return
	}
	_ = m.Ack()
}

// Handle raises the notifications one event calls for. The feed carries
// events sealed; what a notification names is opened here, and the inbox
// seals it again with the notification.
func (n *Notifier) Handle(ctx context.Context, rec events.Recorded) error {
	user := events.StreamID(rec.Stream)
	if _, personal := rec.Payload.(events.Personal); personal {
		opened, _, err := n.Keys.OpenPayload(ctx, user, rec.Payload)
		if err != nil {
			return err
		}
		rec.Payload = opened // an erased account's values are "": Notify tells nobody then
	}
	meta := events.Metadata{Actor: events.ActorSystem, CausationID: rec.ID.String(), CorrelationID: rec.Metadata.CorrelationID, Time: time.Now().UTC()}
	raise := func(r commands.Raise) error {
		if r.Category == "" {
			r.Category = notices.Category(r.Kind)
		}
		if r.Cause == "" {
			r.Cause = rec.ID.String()
		}
		if r.At.IsZero() {
			r.At = rec.Metadata.Time
		}
		_, err := n.Commands.Notify(ctx, user, r, meta)
		return err
	}
	switch p := rec.Payload.(type) {
	case events.UserPasswordChangedV1:
		return raise(commands.Raise{Kind: notices.PasswordChanged})
	case events.UserRenamedV1:
		return raise(commands.Raise{Kind: notices.UsernameChanged, Params: map[string]string{"old": p.OldUsername, "new": p.NewUsername}})
	case events.UserDisabledV1:
		return raise(commands.Raise{Kind: notices.AccountDisabled})
	case events.UserProfileUpdatedV1:
		if _, ok := p.Given(events.FieldEmail); !ok {
			return nil
		}
		if err := raise(commands.Raise{Kind: notices.EmailChanged}); err != nil {
			return err
		}
		// The old address hears of it too: it is the one an attacker
		// would have changed away from.
		if prev := p.Previous; prev != nil && prev.Get(events.FieldEmail) != "" {
			return raise(commands.Raise{Kind: notices.EmailChanged, Cause: rec.ID.String() + ":previous", EmailTo: prev.Get(events.FieldEmail), InAppOff: true})
		}
	case events.TokenCreatedV1:
		return raise(commands.Raise{Kind: notices.TokenCreated, Params: map[string]string{"title": p.Title}})
	case events.TokenReuseDetectedV1:
		return raise(commands.Raise{Kind: notices.TokenReused, Params: map[string]string{"title": n.Commands.TokenTitle(ctx, user, p.TokenID), "address": p.ClientIP}})
	case events.TokenUsedV1:
		title, isNew, err := n.Commands.NewAddress(ctx, user, p.TokenID, p.ClientIP, rec.Revision)
		if err != nil || !isNew {
			return err
		}
		return raise(commands.Raise{Kind: notices.TokenNewAddress, Cause: "token-address:" + p.TokenID + ":" + p.ClientIP,
			Params: map[string]string{"title": title, "address": p.ClientIP}})
	case events.CredentialCreatedV1:
		if p.ProvisionedBy != "" {
			return raise(commands.Raise{Kind: notices.CredentialChanged, Params: map[string]string{"service": p.Service}})
		}
	case events.CredentialUpdatedV1:
		return raise(commands.Raise{Kind: notices.CredentialChanged, Params: map[string]string{"service": n.Commands.CredentialService(ctx, user, p.CredentialID)}})
	}
	return nil
}

// Index is what the reminder job needs of the credential index.
type Index interface {
	ExpiringBetween(from, until time.Time) []principals.Expiry
}

// Remind raises the reminders due at now: for each live token and service
// credential that expires within the user's longest lead time, one
// reminder for the shortest lead time it is within. A lead time already
// passed when a reminder was raised for a shorter one is never raised
// late; each (item, expiry, lead time) is raised once.
func Remind(ctx context.Context, cmds Commands, index Index, now time.Time) error {
	var errs []error
	prefs := map[string]commands.Preferences{}
	for _, e := range index.ExpiringBetween(now, now.Add(commands.MaxLeadDays*24*time.Hour)) {
		p, ok := prefs[e.UserID]
		if !ok {
			var err error
			if p, err = cmds.NotificationPreferences(ctx, e.UserID); err != nil {
				errs = append(errs, err)
				continue
			}
			prefs[e.UserID] = p
		}
		left := e.ExpiresAt.Sub(now)
		lead := 0
		for _, d := range p.LeadDays {
			if left <= time.Duration(d)*24*time.Hour && (lead == 0 || d < lead) {
				lead = d
			}
		}
		if lead == 0 {
			continue
		}
		days := fmt.Sprint(max(1, int(math.Ceil(left.Hours()/24))))
		r := commands.Raise{Cause: fmt.Sprintf("expiring:%s:%s:%d:%d", e.Kind, e.ID, e.ExpiresAt.Unix(), lead), At: now,
			Params: map[string]string{"days": days, "expires_at": e.ExpiresAt.Format("2006-01-02 15:04 UTC")}}
		if e.Kind == principals.KindToken {
			r.Kind, r.Params["title"] = notices.TokenExpiring, cmds.TokenTitle(ctx, e.UserID, e.ID)
		} else {
			r.Kind, r.Params["service"] = notices.CredentialExpiring, cmds.CredentialService(ctx, e.UserID, e.ID)
		}
		r.Category = notices.Category(r.Kind)
		if _, err := cmds.Notify(ctx, e.UserID, r, events.Metadata{Actor: events.ActorSystem, Time: now.UTC()}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
