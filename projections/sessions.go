package projections

import "github.com/accountd/accountd/events"

// UserSessionsDoc holds one user's live sessions, keyed by user id and
// guarded by $all position (many session streams feed one document). Ended
// sessions are removed from it.
type UserSessionsDoc struct {
	ID       string                `bson:"_id,omitempty"`
	Version  int64                 `bson:"_v,omitempty"`
	Sessions map[string]SessionDoc `bson:"sessions,omitempty"`
}

// SessionDoc is one session; client_ip and user_agent are the sign-in's.
type SessionDoc struct {
	CreatedAt  string `bson:"created_at,omitempty"`
	ExpiresAt  string `bson:"expires_at,omitempty"`
	LastSeenAt string `bson:"last_seen_at,omitempty"`
	ClientIP   string `bson:"client_ip,omitempty"`
	UserAgent  string `bson:"user_agent,omitempty"`
}

// SessionsProjector keeps the user_sessions collection.
func SessionsProjector() Projector {
	return Projector{Name: "sessions", Categories: []string{events.SessionCategory}, Collections: []string{SessionsCollection}, Reduce: reduceSession}
}

func reduceSession(e events.Recorded) ([]Write, error) {
	var userID, path string
	var set map[string]any
	var err error
	switch p := e.Payload.(type) {
	case events.SessionStartedV1:
		userID, path = p.UserID, "sessions."+p.SessionID
		set, err = under(path, SessionDoc{CreatedAt: stamp(e.Metadata.Time), ExpiresAt: stamp(p.ExpiresAt), LastSeenAt: stamp(e.Metadata.Time),
			ClientIP: e.Metadata.ClientIP, UserAgent: e.Metadata.UserAgent})
	case events.SessionSeenV1:
		userID, path = p.UserID, "sessions."+p.SessionID
		set, err = under(path, SessionDoc{LastSeenAt: stamp(p.At)})
	case events.SessionEndedV1:
		userID, set = p.UserID, map[string]any{"sessions." + p.SessionID: Removal{}}
	default:
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []Write{{Collection: SessionsCollection, ID: userID, Version: e.Position, Set: set}}, nil
}
