package hls

import (
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadLimited(t *testing.T) {
	boom := errors.New("connection reset by peer")
	for _, tc := range []struct {
		name    string
		body    string
		limit   int64
		wantErr func(error) bool
	}{
		{name: "body at the limit is read", body: "#EXTM3U\n", limit: 8},
		{name: "empty body is read", body: "", limit: 8},
		{name: "body one byte over the limit is refused", body: "#EXTM3U\n#", limit: 8, wantErr: func(err error) bool {
			var tl *TooLargeError
			return errors.Is(err, ErrTooLarge) && errors.As(err, &tl) && tl.Limit == 8
		}},
		{name: "zero limit is refused", body: "x", limit: 0, wantErr: func(err error) bool { return err != nil && !errors.Is(err, ErrTooLarge) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadLimited(strings.NewReader(tc.body), tc.limit)
			if tc.wantErr != nil {
				if !tc.wantErr(err) {
					t.Fatalf("ReadLimited error %v, not the one wanted", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.body {
				t.Errorf("ReadLimited = %q, want %q", got, tc.body)
			}
		})
	}
	t.Run("reader error is wrapped", func(t *testing.T) {
		_, err := ReadLimited(iotest.ErrReader(boom), 8)
		if !errors.Is(err, boom) {
			t.Errorf("ReadLimited error %v, want one wrapping %v", err, boom)
		}
	})
	t.Run("stops reading one byte past the limit", func(t *testing.T) {
		r := strings.NewReader(strings.Repeat("x", 1000))
		if _, err := ReadLimited(r, 10); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("error %v, want ErrTooLarge", err)
		}
		if got, want := r.Len(), 1000-11; got != want {
			t.Errorf("%d bytes left unread, want %d", got, want)
		}
	})
}
