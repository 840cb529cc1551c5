// Package events defines the account service's event types: explicit, stable
// past-tense names and their JSON payloads. It imports nothing internal.
package events
