// Package signal defines Aurora's signals as the kernel sees them: their
// numbers (Linux's, which Aurora shares), names, default actions, and the
// set type that pending and blocked signals are kept in. Delivery itself
// belongs to the process code in package kernel.
package signal

import "fmt"

// Signal numbers.
const (
	SIGHUP    = 1
	SIGINT    = 2
	SIGQUIT   = 3
	SIGILL    = 4
	SIGTRAP   = 5
	SIGABRT   = 6
	SIGBUS    = 7
	SIGFPE    = 8
	SIGKILL   = 9
	SIGUSR1   = 10
	SIGSEGV   = 11
	SIGUSR2   = 12
	SIGPIPE   = 13
	SIGALRM   = 14
	SIGTERM   = 15
	SIGSTKFLT = 16
	SIGCHLD   = 17
	SIGCONT   = 18
	SIGSTOP   = 19
	SIGTSTP   = 20
	SIGTTIN   = 21
	SIGTTOU   = 22
	SIGURG    = 23
	SIGWINCH  = 28
	// NSIG is one more than the largest signal number.
	NSIG = 32
)

// Handler values with a meaning of their own; any other value is the
// guest address of a handler function.
const (
	Default = 0 // SIG_DFL
	Ignore  = 1 // SIG_IGN
)

// Valid reports whether sig is a signal number (1..31).
func Valid(sig int) bool { return sig > 0 && sig < NSIG }

// Catchable reports whether a program may install a handler for sig or
// ignore it: every valid signal but SIGKILL and SIGSTOP.
func Catchable(sig int) bool { return Valid(sig) && sig != SIGKILL && sig != SIGSTOP }

// IgnoredByDefault reports whether sig's default action is to do nothing.
// Aurora has no job control, so the stop signals are ignored too (Linux
// would stop the process).
func IgnoredByDefault(sig int) bool {
	switch sig {
	case SIGCHLD, SIGCONT, SIGURG, SIGWINCH, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU:
		return true
	}
	return false
}

var names = map[int]string{
	SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL",
	SIGTRAP: "SIGTRAP", SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE",
	SIGKILL: "SIGKILL", SIGUSR1: "SIGUSR1", SIGSEGV: "SIGSEGV", SIGUSR2: "SIGUSR2",
	SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM", SIGTERM: "SIGTERM", SIGSTKFLT: "SIGSTKFLT",
	SIGCHLD: "SIGCHLD", SIGCONT: "SIGCONT", SIGSTOP: "SIGSTOP", SIGTSTP: "SIGTSTP",
	SIGTTIN: "SIGTTIN", SIGTTOU: "SIGTTOU", SIGURG: "SIGURG", 24: "SIGXCPU",
	25: "SIGXFSZ", 26: "SIGVTALRM", 27: "SIGPROF", SIGWINCH: "SIGWINCH",
	29: "SIGIO", 30: "SIGPWR", 31: "SIGSYS",
}

// Name is the signal's name, such as "SIGSEGV", or "signal N".
func Name(sig int) string {
	if n, ok := names[sig]; ok {
		return n
	}
	return fmt.Sprintf("signal %d", sig)
}

// Set is a set of signals, bit n standing for signal n.
type Set uint32

// Of returns the set holding sig alone.
func Of(sig int) Set { return 1 << uint(sig) }

// Has reports whether sig is in the set.
func (s Set) Has(sig int) bool { return s&Of(sig) != 0 }

// Lowest returns the lowest signal in the set, or 0 when it is empty.
func (s Set) Lowest() int {
	for sig := 1; sig < NSIG; sig++ {
		if s.Has(sig) {
			return sig
		}
	}
	return 0
}
