package events

import "encoding/json"

// Envelope is how an event travels on the message bus from the relay to
// projectors: the event with its place in the log.
type Envelope struct {
	ID       string          `json:"id"`
	Stream   string          `json:"stream"`
	Type     string          `json:"type"`
	Revision uint64          `json:"revision"`
	Position uint64          `json:"position"` // $all commit position
	Data     json.RawMessage `json:"data"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
}
