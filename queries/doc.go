// Package queries serves read models, one file per query.
package queries
