package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestParseStrict(t *testing.T) {
	for _, tc := range []struct {
		v       string
		want    bool
		wantErr bool
	}{
		{"", false, false}, {"0", false, false}, {"1", true, false},
		{"yes", false, true}, {"true", false, true}, {"TRUE", false, true}, {" 1", false, true}, {"2", false, true},
	} {
		t.Run(strings.ReplaceAll("value "+tc.v, " ", "_"), func(t *testing.T) {
			got, err := parseStrict(tc.v)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Fatalf("parseStrict(%q) = %v, %v; want %v, error %v", tc.v, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestStrictRefusesOtherValues runs this test binary under CVS_STRICT=yes: it must refuse to
// run at all, not skip its way to green.
func TestStrictRefusesOtherValues(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestParseStrict$")
	cmd.Env = append(os.Environ(), StrictEnv+"=yes")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), `CVS_STRICT="yes": want 0 or 1`) {
		t.Fatalf("CVS_STRICT=yes: %v\n%s\nwant exit status 2 naming the value", err, out)
	}
}
