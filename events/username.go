package events

// UsernameClaimedV1 reserves a name for a user.
type UsernameClaimedV1 struct {
	Username string `json:"username"` // as the user typed it
	UserID   string `json:"user_id"`
}

// UsernameReleasedV1 frees a name.
type UsernameReleasedV1 struct {
	Username string `json:"username"`
	UserID   string `json:"user_id"`
	Reason   string `json:"reason"` // renamed, abandoned_claim
}

// Release reasons.
const (
	ReleaseRenamed        = "renamed"
	ReleaseAbandonedClaim = "abandoned_claim"
)

func (UsernameClaimedV1) EventType() string  { return UsernameClaimed }
func (UsernameReleasedV1) EventType() string { return UsernameReleased }
