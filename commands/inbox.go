package commands

import (
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/validate"
)

// ErrNotificationNotFound: no such notification of the user.
var ErrNotificationNotFound = errors.New("notification not found")

// Notification categories, and the lead times of expiry reminders.
var (
	NotificationCategories = []string{events.CategorySecurity, events.CategoryTokens, events.CategoryAccount, events.CategoryProduct}
	DefaultLeadDays        = []int{7, 1}
)

// Limits of the preferences.
const (
	MinLeadDays = 1
	MaxLeadDays = 60
	maxLeadDays = 5 // reminders per expiry
)

// Preferences say where each category's notifications go.
type Preferences struct {
	Categories map[string]events.Channels
	LeadDays   []int // descending
}

// DefaultPreferences: everything in the app; e-mail for security, tokens
// and account, none for product news.
func DefaultPreferences() Preferences {
	return Preferences{Categories: map[string]events.Channels{
		events.CategorySecurity: {InApp: true, Email: true},
		events.CategoryTokens:   {InApp: true, Email: true},
		events.CategoryAccount:  {InApp: true, Email: true},
		events.CategoryProduct:  {InApp: true, Email: false},
	}, LeadDays: slices.Clone(DefaultLeadDays)}
}

// PreferencesOver is what a user's stored choices come to: each category
// they chose over the default, their lead days if they chose any.
func PreferencesOver(categories map[string]events.Channels, leadDays []int) Preferences {
	prefs := DefaultPreferences()
	for c, ch := range categories {
		prefs.Categories[c] = ch
	}
	if leadDays != nil {
		prefs.LeadDays = leadDays
	}
	return prefs
}

// Inbox is the state of one inbox-<user id> stream.
type Inbox struct {
	prefs  *Preferences        // nil: the defaults
	causes map[string]struct{} // of every notification raised: one per cause
	ids    map[string]struct{}
	sent   map[string]struct{} // notifications whose e-mail was sent
}

// Preferences are the user's, or the defaults.
func (in Inbox) Preferences() Preferences {
	if in.prefs == nil {
		return DefaultPreferences()
	}
	return *in.prefs
}

// Raised says whether a notification with this cause exists.
func (in Inbox) Raised(cause string) bool {
	_, ok := in.causes[cause]
	return ok
}

func foldInbox(in Inbox, e events.Recorded) Inbox {
	switch p := e.Payload.(type) {
	case events.NotificationPreferencesSetV1:
		prefs := Preferences{Categories: maps.Clone(p.Categories), LeadDays: slices.Clone(p.LeadDays)}
		in.prefs = &prefs
	case events.NotificationRaisedV1:
		in.causes = maps.Clone(in.causes)
		in.ids = maps.Clone(in.ids)
		if in.causes == nil {
			in.causes, in.ids = map[string]struct{}{}, map[string]struct{}{}
		}
		in.causes[p.Cause] = struct{}{}
		in.ids[p.NotificationID] = struct{}{}
	case events.NotificationEmailedV1:
		in.sent = maps.Clone(in.sent)
		if in.sent == nil {
			in.sent = map[string]struct{}{}
		}
		in.sent[p.NotificationID] = struct{}{}
	}
	return in
}

// validPreferences checks a whole set of preferences and gives it in
// canonical form: every category present, lead days unique, descending.
func validPreferences(p Preferences) (Preferences, []validate.Violation) {
	var vs []validate.Violation
	out := DefaultPreferences()
	for c, ch := range p.Categories {
		if !slices.Contains(NotificationCategories, c) {
			vs = append(vs, validate.Violation{Field: "categories." + c, Code: "categories.unknown"})
			continue
		}
		out.Categories[c] = ch
	}
	if !out.Categories[events.CategorySecurity].InApp {
		vs = append(vs, validate.Violation{Field: "categories.security.in_app", Code: "security.in_app_required"})
	}
	if p.LeadDays != nil {
		days := slices.Clone(p.LeadDays)
		slices.Sort(days)
		days = slices.Compact(days)
		slices.Reverse(days)
		for _, d := range days {
			if d < MinLeadDays || d > MaxLeadDays {
				vs = append(vs, validate.Violation{Field: "lead_days", Code: "lead_days.out_of_range", Params: map[string]int{"min": MinLeadDays, "max": MaxLeadDays}})
				break
			}
		}
		if len(days) > maxLeadDays {
			vs = append(vs, validate.Violation{Field: "lead_days", Code: "lead_days.too_many", Params: map[string]int{"max": maxLeadDays}})
		}
		out.LeadDays = days
	}
	slices.SortFunc(vs, func(a, b validate.Violation) int { return compareStrings(a.Field, b.Field) })
	return out, vs
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Raise is a notification to raise, once per Cause.
type Raise struct {
	Cause    string // what raised it: an event id, or expiring:<id>:<expiry>:<days>
	Kind     string
	Category string
	Params   map[string]string
	At       time.Time
	// EmailTo overrides the address the e-mail goes to (the old address,
	// when the address itself changed); "": the account's.
	EmailTo string
	// InAppOff: only an e-mail (to the old address) for this one.
	InAppOff bool
}
