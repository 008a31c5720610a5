package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"user and password", "GET https://alice:s3cr3t@h.example/x.m3u8: HTTP 404", "GET https://***@h.example/x.m3u8: HTTP 404"},
		{"net/http's own masking", `Get "http://alice:***@127.0.0.1:1/clusters": refused`, `Get "http://***@127.0.0.1:1/clusters": refused`},
		{"token alone", "http://tok3n@h.example", "http://***@h.example"},
		{"an @ in the path stays", "https://h.example/a@b.m3u8", "https://h.example/a@b.m3u8"},
		{"an e-mail address stays", "by alice@example.com", "by alice@example.com"},
		{"two URLs", "a=http://u:p@x.example b=http://v:q@y.example", "a=http://***@x.example b=http://***@y.example"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := redact(tc.in); got != tc.want {
				t.Fatalf("redact(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestPrefixWriter(t *testing.T) {
	var out bytes.Buffer
	w := &prefixWriter{prefix: "cvsctl x: ", out: &out}
	fmt.Fprint(w, "one\ntw")
	fmt.Fprint(w, "o\nthree")
	w.Flush()
	if got, want := out.String(), "cvsctl x: one\ncvsctl x: two\ncvsctl x: three\n"; got != want {
		t.Fatalf("wrote %q, want %q", got, want)
	}
}

func TestPrintWarnings(t *testing.T) {
	for _, n := range []int{0, 1, maxWarnings, maxWarnings + 1, 5000} {
		t.Run(fmt.Sprint(n, " warnings"), func(t *testing.T) {
			warnings := make([]string, n)
			for i := range warnings {
				warnings[i] = fmt.Sprint("w", i)
			}
			var out bytes.Buffer
			printWarnings(&out, "# ", warnings, "")
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if n == 0 {
				if out.Len() != 0 {
					t.Fatalf("wrote %q for no warnings", out.String())
				}
				return
			}
			shown := min(n, maxWarnings)
			if n > maxWarnings {
				if got, want := lines[len(lines)-1], fmt.Sprintf("# %d more warnings not shown (%d in all)", n-maxWarnings, n); got != want {
					t.Fatalf("last line %q, want %q", got, want)
				}
				lines = lines[:len(lines)-1]
			}
			if len(lines) != shown || lines[0] != "# warning: w0" {
				t.Fatalf("lines %q, want %d warnings from w0", lines, shown)
			}
		})
	}
}
