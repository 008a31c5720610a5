package main

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"sync"
)

// maxWarnings is how many warnings a command prints before a summary of the rest.
const maxWarnings = 10

// userinfoRE matches the user info of a URL in text: "scheme://" then everything up to an "@"
// that comes before the host's end.
var userinfoRE = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s"]*@`)

// redact hides the user info of every URL in s: net/http and our fetchers name URLs in errors.
func redact(s string) string {
	return userinfoRE.ReplaceAllString(s, "${1}***@")
}

// prefixWriter writes each line as "cvsctl <command>: <line>", with URLs' user info redacted.
// A command's stderr goes through one, so no line lacks the prefix or echoes a credential, the
// dashboard's log lines included.
type prefixWriter struct {
	prefix string
	out    io.Writer

	mu      sync.Mutex
	partial []byte
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(w.partial[:i])
		w.partial = w.partial[i+1:]
		if _, err := io.WriteString(w.out, w.prefix+redact(line)+"\n"); err != nil {
			return len(p), err
		}
	}
}

// Flush writes what is left of an unfinished line.
func (w *prefixWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		io.WriteString(w.out, w.prefix+redact(string(w.partial))+"\n")
		w.partial = nil
	}
}

// printWarnings writes the first maxWarnings warnings, each line started with lead, then one line
// that counts the rest: a pair of mismatched ladders can hold tens of thousands.
func printWarnings[T any](w io.Writer, lead string, warnings []T, more string) {
	for i, warning := range warnings {
		if i == maxWarnings {
			fmt.Fprintf(w, "%s%d more warnings not shown (%d in all)%s\n", lead, len(warnings)-maxWarnings, len(warnings), more)
			return
		}
		fmt.Fprintf(w, "%swarning: %v\n", lead, warning)
	}
}
