//go:build !unix

package platform

// restrictUmask: no umask here; makePrivate's walk at start is all.
func restrictUmask() {}
