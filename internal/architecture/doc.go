// Package architecture holds no code: its test checks the import rules
// that ARCHITECTURE.md states, so a forbidden import fails the suite.
package architecture
