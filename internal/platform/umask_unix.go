//go:build unix

package platform

import "syscall"

// restrictUmask makes every file the process creates from now on its
// owner's only (0600 files, 0700 directories), whatever mode the creator
// asks for: the embedded servers (Pebble, SQLite) create theirs 0644 and
// 0755 and take no option for it. The umask is the process's, which is
// what a service wants; it is set before the servers start.
func restrictUmask() { syscall.Umask(0o077) }
