package httpapi

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/projections"
)

type sessionInfo struct {
	ID         string `json:"id"`
	CreatedAt  string `json:"created_at"`
	ExpiresAt  string `json:"expires_at"`
	LastSeenAt string `json:"last_seen_at"`
	ClientIP   string `json:"client_ip"`
	UserAgent  string `json:"user_agent"`
	Current    bool   `json:"current"`
}

type sessionsResponse struct {
	Sessions []sessionInfo `json:"sessions"`
}

// getSessions lists the user's live sessions.
func (a *API) getSessions(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	list, err := a.queries.ListSessions(r.Context(), subject(r), a.now())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := sessionsResponse{Sessions: make([]sessionInfo, len(list))}
	for i, s := range list {
		out.Sessions[i] = sessionInfo{
			ID: s.ID, ClientIP: s.ClientIP, UserAgent: s.UserAgent, Current: s.ID == p.Credential.ID,
			CreatedAt:  a.renderTime(projections.Time(s.CreatedAt), p.Timezone),
			ExpiresAt:  a.renderTime(projections.Time(s.ExpiresAt), p.Timezone),
			LastSeenAt: a.renderTime(projections.Time(s.LastSeenAt), p.Timezone),
		}
	}
	w.Header().Set("Cache-Control", "private, no-cache")
	writeJSON(w, http.StatusOK, out)
}

// deleteSession ends one session of the user's (another user's is 404).
func (a *API) deleteSession(w http.ResponseWriter, r *http.Request) {
	if _, err := a.cmd.EndSession(r.Context(), commands.EndSession{UserID: subject(r), SessionID: mux.Vars(r)["id"]}, metadata(r)); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// deleteOtherSessions ends every session but the current one.
func (a *API) deleteOtherSessions(w http.ResponseWriter, r *http.Request) {
	p := caller(r)
	if _, err := a.cmd.EndOtherSessions(r.Context(), commands.EndOtherSessions{UserID: p.UserID, KeepSessionID: p.Credential.ID}, metadata(r)); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
