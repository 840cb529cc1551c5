package commands

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/validate"
)

// ConfiguredAdmin is one admin named in the configuration (--admin): a
// username, or an account id. Configuration is never consulted when a
// request is authorized: the service turns each configured admin into an
// ordinary, recorded grant of the admin role, once, to the first account
// it sees answer to it. From then on the role follows that account (it
// survives renames and can be revoked), and a later holder of the name
// never gets it.
type ConfiguredAdmin struct {
	Username string // lower case; "" for an id
	UserID   string // for "id:<uuid>" (or, as before, a bare uuid)
}

// Key is how the log records the configured admin: the username, or
// "id:<uuid>".
func (c ConfiguredAdmin) Key() string {
	if c.UserID != "" {
		return "id:" + c.UserID
	}
	return c.Username
}

// ParseConfiguredAdmin reads one configured admin: "id:<uuid>" is an
// account id; a bare uuid is read as one too (usernames cannot contain
// "-", so it is no username); anything else must be a username.
func ParseConfiguredAdmin(s string) (ConfiguredAdmin, error) {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "id:"); ok {
		id, err := uuid.Parse(rest)
		if err != nil || len(rest) != 36 {
			return ConfiguredAdmin{}, fmt.Errorf("admin %q: not an account id (want id:<uuid>, like id:6ba7b810-9dad-11d1-80b4-00c04fd430c8)", s)
		}
		return ConfiguredAdmin{UserID: id.String()}, nil
	}
	if id, err := uuid.Parse(s); err == nil && len(s) == 36 {
		return ConfiguredAdmin{UserID: id.String()}, nil
	}
	if vs := validate.Username("admin", s); len(vs) > 0 {
		return ConfiguredAdmin{}, fmt.Errorf("admin %q: not a username (%s) nor an account id (id:<uuid>)", s, vs[0].Code)
	}
	return ConfiguredAdmin{Username: validate.CanonicalUsername(s)}, nil
}

// ParseConfiguredAdmins reads every configured admin, reporting every bad
// one; the same admin given twice counts once.
func ParseConfiguredAdmins(values []string) ([]ConfiguredAdmin, error) {
	var out []ConfiguredAdmin
	var errs []error
	seen := map[string]bool{}
	for _, v := range values {
		c, err := ParseConfiguredAdmin(v)
		switch {
		case err != nil:
			errs = append(errs, err)
		case !seen[c.Key()]:
			seen[c.Key()] = true
			out = append(out, c)
		}
	}
	return out, errors.Join(errs...)
}

// ConfiguredAdmins is the state of the configured-admins stream: the
// account each configured admin was resolved to (by key).
type ConfiguredAdmins struct {
	Resolved map[string]string
}

// foldConfiguredAdmins applies one past event of the stream. Pure; the
// first resolution of a key stands.
func foldConfiguredAdmins(s ConfiguredAdmins, e events.Recorded) ConfiguredAdmins {
	p, ok := e.Payload.(events.ConfiguredAdminResolvedV1)
	if !ok {
		return s
	}
	if _, done := s.Resolved[p.ConfiguredAs]; done {
		return s
	}
	resolved := maps.Clone(s.Resolved) // cached states are shared: never change one
	if resolved == nil {
		resolved = map[string]string{}
	}
	resolved[p.ConfiguredAs] = p.UserID
	return ConfiguredAdmins{Resolved: resolved}
}

// resolve records that key is the account userID, unless it was resolved
// already (to whichever account: the first one stands).
func (s ConfiguredAdmins) resolve(key, userID string) ([]events.Payload, error) {
	if _, done := s.Resolved[key]; done {
		return nil, nil
	}
	return []events.Payload{events.ConfiguredAdminResolvedV1{ConfiguredAs: key, UserID: userID}}, nil
}

// grantConfigured records the configuration's grant of the admin role,
// once per configured admin: a role an admin revoked since is not given
// back by the configuration. It is recorded even if the account holds the
// role already, so that the log says the configuration named it.
func (u User) grantConfigured(key string) ([]events.Payload, error) {
	if !u.Exists() {
		return nil, ErrUserNotFound
	}
	if slices.Contains(u.ConfiguredGrants, key) {
		return nil, nil
	}
	return []events.Payload{events.UserRoleGrantedV1{UserID: u.ID, Role: events.RoleAdmin,
		Source: events.RoleSourceConfiguration, ConfiguredAs: key}}, nil
}

// settledAdmins remembers the configured admins whose grant is in the log
// for good (or whose account is gone), so that later passes and the
// rename and registration hooks skip them without a read. Per process and
// harmless: it only saves reads of what the log already says.
type settledAdmins struct{ m sync.Map }

func (s *settledAdmins) has(key string) bool { _, ok := s.m.Load(key); return ok }
func (s *settledAdmins) add(key string)      { s.m.Store(key, true) }

// GrantConfiguredAdmins turns every configured admin whose account exists
// now into a recorded grant (see ConfiguredAdmin). Run it at start and now
// and then: a configured admin already settled changes nothing. It
// returns the configured admins no account answers to yet.
func (h *Handlers) GrantConfiguredAdmins(ctx context.Context, meta events.Metadata) (waiting []ConfiguredAdmin, err error) {
	var errs []error
	for _, c := range h.configuredAdmins {
		settled, _, err := h.settleConfigured(ctx, c, meta)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("configured admin %s: %w", c.Key(), err))
		case !settled:
			waiting = append(waiting, c)
		}
	}
	return waiting, errors.Join(errs...)
}

// configuredNamed is the configured admin with this username, if any.
func (h *Handlers) configuredNamed(name string) (ConfiguredAdmin, bool) {
	name = validate.CanonicalUsername(name)
	for _, c := range h.configuredAdmins {
		if c.Username != "" && c.Username == name {
			return c, true
		}
	}
	return ConfiguredAdmin{}, false
}

// settleConfiguredName settles the configured admin named name, if there
// is one, before its holder lets the name go (a rename away, a deletion):
// should the grant at registration have failed, the name must not pass to
// its next holder unresolved. The position is of what it wrote (0:
// nothing).
func (h *Handlers) settleConfiguredName(ctx context.Context, name string, cause events.Metadata) (uint64, error) {
	c, ok := h.configuredNamed(name)
	if !ok || h.settled.has(c.Key()) {
		return 0, nil
	}
	_, pos, err := h.settleConfigured(ctx, c, cause)
	return pos, err
}

// settleConfigured resolves the configured admin c to an account, unless
// the log has it resolved already, and records that account's grant. It
// says whether c is settled for good, and the $all position of what it
// wrote.
//
// Which account a configured admin is, is decided once for every replica
// through one small stream, events.ConfiguredAdminsStream, written through
// the update path with its expected revision: of two replicas that see
// the name held at once (even by different accounts, a moment apart), one
// appends the resolution and the other, losing the race, reads it back and
// grants the role to the account recorded there. The grant itself goes to
// the account's stream, once per configured admin (User.ConfiguredGrants);
// should the process stop between the two appends, the next pass (any
// replica's) finds the resolution and records the grant.
func (h *Handlers) settleConfigured(ctx context.Context, c ConfiguredAdmin, cause events.Metadata) (settled bool, position uint64, err error) {
	key := c.Key()
	if h.settled.has(key) {
		return true, 0, nil
	}
	meta := h.stamp(events.Metadata{Actor: events.ActorSystem, CorrelationID: cause.CorrelationID, CausationID: cause.CausationID})
	state, _, err := h.admins.load(ctx, events.ConfiguredAdminsStream, true)
	if err != nil {
		return false, 0, err
	}
	userID, resolved := state.Resolved[key]
	if !resolved {
		candidate, err := h.configuredAccount(ctx, c)
		if err != nil || candidate == "" {
			return false, 0, err
		}
		out, err := update(ctx, h, h.admins, events.ConfiguredAdminsStream, nil, meta, func(s ConfiguredAdmins) ([]events.Payload, error) {
			return s.resolve(key, candidate)
		})
		if err != nil {
			return false, 0, err
		}
		userID, position = out.State.Resolved[key], out.Position
	}
	out, err := update(ctx, h, h.users, events.UserStream(userID), nil, meta, func(u User) ([]events.Payload, error) {
		return u.grantConfigured(key)
	})
	switch {
	case errors.Is(err, ErrUserNotFound):
		// The account was deleted: the configured admin stays resolved to
		// it, and nobody else ever answers to it.
	case err != nil:
		return false, position, err
	case out.State.HasRole(events.RoleAdmin):
		// The role's holders list the account too (a role it gave up since
		// is not listed again).
		pos, err := h.addRoleHolder(ctx, events.RoleAdmin, userID, meta)
		if err != nil {
			return false, max(position, out.Position), err
		}
		position = max(position, pos)
	}
	h.settled.add(key)
	return true, max(position, out.Position), nil
}

// configuredAccount is the account that answers to c now: the holder of
// the name, or the account with the id if it exists ("": none).
func (h *Handlers) configuredAccount(ctx context.Context, c ConfiguredAdmin) (string, error) {
	if c.Username != "" {
		return h.holderOf(ctx, c.Username)
	}
	u, _, err := h.users.load(ctx, events.UserStream(c.UserID), true)
	if err != nil || !u.Exists() {
		return "", err
	}
	return c.UserID, nil
}

// grantIfConfigured is the hook of the commands that give an account a
// name (registration, rename): if the configuration names an admin so, it
// is settled now, so the role works on the account's very next request. A
// failure is logged, not the command's: the background pass retries it.
func (h *Handlers) grantIfConfigured(ctx context.Context, name string, res *UserResult, cause events.Metadata) {
	c, ok := h.configuredNamed(name)
	if !ok || h.settled.has(c.Key()) {
		return
	}
	_, pos, err := h.settleConfigured(ctx, c, cause)
	if err != nil {
		h.security.Warn("configured admin not granted yet; retrying in the background", "configured_as", c.Key(), "err", err)
		return
	}
	if pos == 0 {
		return
	}
	res.Position = max(res.Position, pos)
	if u, version, err := h.users.load(ctx, events.UserStream(res.User.ID), false); err == nil && u.ID == res.User.ID {
		res.User, res.Revision = u, uint64(max(version, 0))
	}
}

// holderOf is the account that holds name, deleted or not: an account
// being deleted still holds its name until the erasure releases it, and a
// configured admin's name is settled to it first (accountNamed, for
// sign-in, knows no deleted account).
func (h *Handlers) holderOf(ctx context.Context, name string) (string, error) {
	r, _, err := h.reservations.load(ctx, reservationStream(name), true)
	if err != nil || !r.Held {
		return "", err
	}
	holder, _, err := h.users.load(ctx, events.UserStream(r.Holder), true)
	if err != nil {
		return "", err
	}
	if validate.CanonicalUsername(holder.Username) != validate.CanonicalUsername(name) {
		return "", nil // a claim left behind by a crash is nobody's name
	}
	return r.Holder, nil
}
