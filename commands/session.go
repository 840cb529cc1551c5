package commands

import (
	"errors"
	"time"

	"github.com/accountd/accountd/events"
)

// Session is the state of one session-<id> stream.
type Session struct {
	ID        string
	UserID    string
	Digest    string
	ExpiresAt time.Time
	Ended     bool
}

// foldSession applies one past event of a session stream. Pure.
func foldSession(s Session, e events.Recorded) Session {
	switch p := e.Payload.(type) {
	case events.SessionStartedV1:
		return Session{ID: p.SessionID, UserID: p.UserID, Digest: p.TokenDigest, ExpiresAt: p.ExpiresAt}
	case events.SessionEndedV1:
		s.Ended = true
	}
	return s
}

var errSessionExists = errors.New("session id collision")

// start opens the session; the stream must be new.
func (s Session) start(started events.SessionStartedV1) ([]events.Payload, error) {
	if s.ID != "" {
		return nil, errSessionExists
	}
	return []events.Payload{started}, nil
}

// end ends userID's session; ending an ended session changes nothing.
func (s Session) end(userID, reason string) ([]events.Payload, error) {
	switch {
	case s.ID == "" || s.UserID != userID:
		return nil, ErrSessionNotFound
	case s.Ended:
		return nil, nil
	}
	return []events.Payload{events.SessionEndedV1{SessionID: s.ID, UserID: s.UserID, Reason: reason}}, nil
}
