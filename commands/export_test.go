package commands

// Folds, exported for the external tests.
var (
	FoldUser        = foldUser
	FoldReservation = foldReservation
	FoldSession     = foldSession
)
