package commands

import (
	"context"
	"slices"

	"github.com/accountd/accountd/events"
)

// RoleHolders is the state of one role-<name> stream: the accounts that
// hold the role. Rules about the holders as a whole (the last admin keeps
// the role) are decided on it and appended with its expected revision, so
// two admins giving up the role at once cannot both succeed.
//
// It never lists more holders than the account streams do: a holder is
// added after the account's grant is recorded, and removed before its
// revocation or deletion is; a crash in between leaves it listing fewer,
// which only makes the rule stricter, and the next grant or revocation of
// that account puts it right.
type RoleHolders struct {
	Started bool     // the stream exists
	Holders []string // sorted
}

// foldRoleHolders applies one past event of a role stream. Pure.
func foldRoleHolders(s RoleHolders, e events.Recorded) RoleHolders {
	switch p := e.Payload.(type) {
	case events.RoleHoldersFoundV1:
		found := slices.Clone(p.UserIDs)
		slices.Sort(found)
		return RoleHolders{Started: true, Holders: slices.Compact(found)}
	case events.RoleGrantedV1:
		if s.holds(p.UserID) {
			return RoleHolders{Started: true, Holders: s.Holders}
		}
		holders := append(slices.Clone(s.Holders), p.UserID) // cached states are shared: never change one
		slices.Sort(holders)
		return RoleHolders{Started: true, Holders: holders}
	case events.RoleRevokedV1:
		return RoleHolders{Started: true, Holders: slices.DeleteFunc(slices.Clone(s.Holders), func(id string) bool { return id == p.UserID })}
	}
	return s
}

func (s RoleHolders) holds(userID string) bool { return slices.Contains(s.Holders, userID) }

// found opens the stream with the holders the log shows, once: of two
// replicas opening it at once, one appends (expected revision: no stream)
// and the other, losing the race, finds it open.
func (s RoleHolders) found(role string, holders []string) ([]events.Payload, error) {
	if s.Started {
		return nil, nil
	}
	return []events.Payload{events.RoleHoldersFoundV1{Role: role, UserIDs: append([]string{}, holders...)}}, nil
}

// grant adds the holder; holding the role already changes nothing.
func (s RoleHolders) grant(role, userID string) ([]events.Payload, error) {
	if s.holds(userID) {
		return nil, nil
	}
	return []events.Payload{events.RoleGrantedV1{Role: role, UserID: userID}}, nil
}

// revoke removes the holder. With keepOne set (an admin giving up their
// own admin role), it is refused unless another holder remains, counting
// only those live says still hold the role on their own stream.
func (s RoleHolders) revoke(role, userID, reason string, keepOne bool, live []string) ([]events.Payload, error) {
	if keepOne && !slices.ContainsFunc(s.Holders, func(id string) bool { return id != userID && slices.Contains(live, id) }) {
		return nil, ErrLastAdmin
	}
	if !s.holds(userID) {
		return nil, nil
	}
	return []events.Payload{events.RoleRevokedV1{Role: role, UserID: userID, Reason: reason}}, nil
}

// roleHolders loads a role's stream, opening it first if it does not exist
// yet with the holders the log shows: the accounts the directory and the
// configured admins name, each confirmed on its own stream.
func (h *Handlers) roleHolders(ctx context.Context, role string, meta events.Metadata) (RoleHolders, error) {
	stream := events.RoleStream(role)
	s, _, err := h.roles.load(ctx, stream, true)
	if err != nil || s.Started {
		return s, err
	}
	candidates := h.directory.Admins()
	if role == events.RoleAdmin {
		configured, _, err := h.admins.load(ctx, events.ConfiguredAdminsStream, true)
		if err != nil {
			return s, err
		}
		for _, id := range configured.Resolved {
			candidates = append(candidates, id)
		}
	}
	slices.Sort(candidates)
	holders, err := h.holdingRole(ctx, role, slices.Compact(candidates))
	if err != nil {
		return s, err
	}
	out, err := update(ctx, h, h.roles, stream, nil, meta, func(s RoleHolders) ([]events.Payload, error) {
		return s.found(role, holders)
	})
	return out.State, err
}

// holdingRole keeps the accounts whose own stream says they hold role
// (and that are not deleted), read from the log.
func (h *Handlers) holdingRole(ctx context.Context, role string, ids []string) ([]string, error) {
	var out []string
	for _, id := range ids {
		u, _, err := h.users.load(ctx, events.UserStream(id), true)
		if err != nil {
			return nil, err
		}
		if u.Exists() && u.HasRole(role) {
			out = append(out, id)
		}
	}
	return out, nil
}

// addRoleHolder lists the account among the role's holders, after its
// grant is recorded on its own stream.
func (h *Handlers) addRoleHolder(ctx context.Context, role, userID string, meta events.Metadata) (uint64, error) {
	if _, err := h.roleHolders(ctx, role, meta); err != nil {
		return 0, err
	}
	out, err := update(ctx, h, h.roles, events.RoleStream(role), nil, meta, func(s RoleHolders) ([]events.Payload, error) {
		return s.grant(role, userID)
	})
	return out.Position, err
}

// dropRoleHolder takes the account off the role's holders, before its
// revocation or deletion is recorded on its own stream. keepOne: refuse
// if no other holder would be left (ErrLastAdmin).
func (h *Handlers) dropRoleHolder(ctx context.Context, role, userID, reason string, keepOne bool, meta events.Metadata) (uint64, error) {
	s, err := h.roleHolders(ctx, role, meta)
	if err != nil {
		return 0, err
	}
	var live []string
	if keepOne {
		// The other holders are confirmed on their own streams: a grant and
		// a revocation of one account racing could leave the role stream
		// listing an account that no longer holds the role.
		others := slices.DeleteFunc(slices.Clone(s.Holders), func(id string) bool { return id == userID })
		if live, err = h.holdingRole(ctx, role, others); err != nil {
			return 0, err
		}
	}
	out, err := update(ctx, h, h.roles, events.RoleStream(role), nil, meta, func(s RoleHolders) ([]events.Payload, error) {
		return s.revoke(role, userID, reason, keepOne, live)
	})
	return out.Position, err
}

// leaveRoles takes a deleted (or being deleted) account off the holders of
// roles, where a role's stream exists and lists it (a stream not opened
// yet will not list a deleted account). Repeating it changes nothing.
func (h *Handlers) leaveRoles(ctx context.Context, userID string, roles []string, meta events.Metadata) (uint64, error) {
	var last uint64
	for _, role := range roles {
		s, _, err := h.roles.load(ctx, events.RoleStream(role), true)
		if err != nil {
			return last, err
		}
		if !s.holds(userID) {
			continue
		}
		pos, err := h.dropRoleHolder(ctx, role, userID, events.RoleLeftDeleted, false, meta)
		if err != nil {
			return last, err
		}
		last = max(last, pos)
	}
	return last, nil
}
