// Package projections turns the event log into MongoDB read models: a pure
// reduce step per projector and an executor that writes and checkpoints.
package projections
