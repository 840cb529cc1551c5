// Package commands holds one file per use case: the command, and a handler
// that loads a stream, decides, and appends with the expected revision.
package commands
