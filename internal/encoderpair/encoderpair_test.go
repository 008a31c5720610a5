package encoderpair_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"

	awss3 "github.com/clustered-video-streams/cvs/internal/aws/s3"
	"github.com/clustered-video-streams/cvs/internal/encoderpair"
	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/lambdaevent"
	"github.com/clustered-video-streams/cvs/internal/testenv"
	"github.com/clustered-video-streams/cvs/internal/testenv/motoclient"
)

// bucket is the bucket the sample events name.
const bucket = "cvs-encoder-example"

var layout = encoderpair.Layout{PrimaryKey: "primary/index.m3u8", FailoverKey: "failover/index.m3u8", OutputKey: "index.m3u8"}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func event(t testing.TB, name string) []byte {
	t.Helper()
	return readFile(t, filepath.Join(testenv.RepoRoot(t), "events", "merge-"+name+".json"))
}

// fixture is a fresh versioned encoder bucket on moto and a handler on it.
type fixture struct {
	s3  *s3.Client
	h   *encoderpair.Handler
	log *bytes.Buffer
}

func newFixture(t *testing.T, endpoint string) *fixture {
	t.Helper()
	motoclient.Reset(t, endpoint)
	f := &fixture{s3: motoclient.S3(endpoint), log: &bytes.Buffer{}}
	motoclient.Bucket(t, f.s3, bucket, true)
	h, err := encoderpair.New(encoderpair.Config{S3: awss3.New(f.s3), Bucket: bucket, Layout: layout, Logger: slog.New(slog.NewJSONHandler(f.log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	return f
}

// output returns the merged master and its response, or nil when there is none.
func (f *fixture) output(t *testing.T) (*s3.GetObjectOutput, []byte) {
	t.Helper()
	out, err := f.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(layout.OutputKey)})
	if err != nil {
		if strings.Contains(err.Error(), "NoSuchKey") {
			return nil, nil
		}
		t.Fatalf("get output: %v", err)
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	return out, b
}

func (f *fixture) outputVersions(t *testing.T) int {
	v, _ := motoclient.Versions(t, f.s3, bucket, layout.OutputKey)
	return len(v)
}

// checkPairs checks that the merged master parses and that every variant and I-frame variant
// of source "primary" sits right before its redundant "failover" twin: same attributes (group
// names namespaced per source), URI in the other folder.
func checkPairs(t *testing.T, body []byte, wantPairs, wantIFramePairs int) {
	t.Helper()
	m, err := hls.ParseMaster(body)
	if err != nil {
		t.Fatalf("merged master does not parse: %v\n%s", err, body)
	}
	pairs := func(tags []hls.MasterTag, uriOf func(hls.MasterTag) string) int {
		if len(tags)%2 != 0 {
			t.Fatalf("%d entries, want pairs", len(tags))
		}
		for i := 0; i < len(tags); i += 2 {
			p, q := tags[i], tags[i+1]
			pu, qu := uriOf(p), uriOf(q)
			if !strings.HasPrefix(pu, "primary/") || "failover/"+strings.TrimPrefix(pu, "primary/") != qu {
				t.Errorf("pair %d: URIs %q and %q are not primary/X and failover/X", i/2, pu, qu)
			}
			norm := func(tag hls.MasterTag, src string) string {
				s := strings.ReplaceAll(tag.Text, `"`+src+`/`, `"`)
				return strings.ReplaceAll(s, uriOf(tag), "")
			}
			if diff := cmp.Diff(norm(p, "primary"), norm(q, "failover")); diff != "" {
				t.Errorf("pair %d is not redundant (-primary +failover):\n%s", i/2, diff)
			}
		}
		return len(tags) / 2
	}
	if got := pairs(m.Variants, func(tag hls.MasterTag) string { return tag.URI }); got != wantPairs {
		t.Errorf("variant pairs = %d, want %d", got, wantPairs)
	}
	iframeURI := func(tag hls.MasterTag) string { a, _ := tag.Attrs.Get("URI"); return a.Unquoted() }
	if got := pairs(m.IFrames, iframeURI); got != wantIFramePairs {
		t.Errorf("I-frame pairs = %d, want %d", got, wantIFramePairs)
	}
	// Every variant's groups exist, in its own source's namespace.
	groups := map[string]bool{}
	for _, r := range m.Renditions {
		typ, _ := r.Attrs.Get("TYPE")
		gid, _ := r.Attrs.Get("GROUP-ID")
		groups[typ.Value+" "+gid.Unquoted()] = true
		if u, ok := r.Attrs.Get("URI"); ok && !strings.HasPrefix(u.Unquoted(), strings.SplitN(gid.Unquoted(), "/", 2)[0]+"/") {
			t.Errorf("rendition %s of group %s points outside its source's folder: %s", r.Text, gid.Value, u.Value)
		}
	}
	for _, v := range m.Variants {
		src := strings.SplitN(v.URI, "/", 2)[0]
		for _, ref := range []string{"AUDIO", "CLOSED-CAPTIONS"} {
			a, ok := v.Attrs.Get(ref)
			if !ok {
				continue
			}
			if g := a.Unquoted(); !strings.HasPrefix(g, src+"/") || !groups[ref+" "+g] {
				t.Errorf("variant %s: %s=%s is not a group of its source %s", v.URI, ref, a.Value, src)
			}
		}
	}
}

func TestEncoderPair(t *testing.T) {
	endpoint := testenv.Moto(t, "the encoder-pair merge wire test")
	master := readFile(t, "testdata/master.m3u8")
	ctx := context.Background()

	t.Run("primary upload merges both masters into redundant pairs", func(t *testing.T) {
		f := newFixture(t, endpoint)
		motoclient.Put(t, f.s3, bucket, layout.FailoverKey, master)
		motoclient.Put(t, f.s3, bucket, layout.PrimaryKey, master)
		got, err := f.h.HandleEvent(ctx, event(t, "encoder-primary"))
		if err != nil {
			t.Fatalf("HandleEvent: %v", err)
		}
		if !got.Written || got.VariantGroups != 3 || got.Variants != 6 || got.IFrames != 4 || got.Renditions != 6 {
			t.Fatalf("outcome = %+v, want written, 6 variants in 3 groups, 4 I-frames, 6 renditions", got)
		}
		if len(got.Warnings) != 0 {
			t.Errorf("warnings = %v, want none for identical encoders", got.Warnings)
		}
		out, body := f.output(t)
		if out == nil {
			t.Fatal("no merged master written")
		}
		checkPairs(t, body, 3, 2)
		if got, want := aws.ToString(out.ContentType), "application/vnd.apple.mpegurl"; got != want {
			t.Errorf("Content-Type = %q, want %q", got, want)
		}
		if got, want := aws.ToString(out.CacheControl), "max-age=5"; got != want {
			t.Errorf("Cache-Control = %q, want %q", got, want)
		}
		if out.Metadata[encoderpair.HashMetadata] != got.Hash || got.Hash == "" {
			t.Errorf("metadata %v, want %s=%s", out.Metadata, encoderpair.HashMetadata, got.Hash)
		}
		// CHANNELS and INSTREAM-ID survive (grafov/m3u8 would drop them).
		for _, want := range []string{`CHANNELS="2"`, `INSTREAM-ID="CC1"`, `URI="primary/index_4_iframe.m3u8"`, `URI="failover/index_audio_es.m3u8"`} {
			if !bytes.Contains(body, []byte(want)) {
				t.Errorf("merged master lacks %s:\n%s", want, body)
			}
		}
	})

	t.Run("unchanged masters are not rewritten", func(t *testing.T) {
		f := newFixture(t, endpoint)
		motoclient.Put(t, f.s3, bucket, layout.FailoverKey, master)
		motoclient.Put(t, f.s3, bucket, layout.PrimaryKey, master)
		if _, err := f.h.HandleEvent(ctx, event(t, "encoder-primary")); err != nil {
			t.Fatal(err)
		}
		// The encoder uploads the same master again.
		motoclient.Put(t, f.s3, bucket, layout.PrimaryKey, master)
		got, err := f.h.HandleEvent(ctx, event(t, "encoder-primary"))
		if err != nil {
			t.Fatal(err)
		}
		if got.Written || got.Reason != "unchanged" {
			t.Fatalf("outcome = %+v, want unchanged", got)
		}
		if n := f.outputVersions(t); n != 1 {
			t.Fatalf("output has %d versions, want 1 (no rewrite)", n)
		}
	})

	t.Run("a changed master is rewritten", func(t *testing.T) {
		f := newFixture(t, endpoint)
		motoclient.Put(t, f.s3, bucket, layout.FailoverKey, master)
		motoclient.Put(t, f.s3, bucket, layout.PrimaryKey, master)
		if _, err := f.h.HandleEvent(ctx, event(t, "encoder-primary")); err != nil {
			t.Fatal(err)
		}
		changed := bytes.Replace(master, []byte("index_3.m3u8"), []byte("index_3b.m3u8"), 1)
		motoclient.Put(t, f.s3, bucket, layout.PrimaryKey, changed)
		got, err := f.h.HandleEvent(ctx, event(t, "encoder-primary"))
		if err != nil {
			t.Fatal(err)
		}
		if !got.Written || f.outputVersions(t) != 2 {
			t.Fatalf("outcome = %+v with %d versions, want a second version", got, f.outputVersions(t))
		}
		if _, body := f.output(t); !bytes.Contains(body, []byte("primary/index_3b.m3u8\n")) {
			t.Errorf("rewritten master lacks the new variant URI:\n%s", body)
		}
	})

	t.Run("missing failover master writes primary alone, its upload adds the pairs", func(t *testing.T) {
		f := newFixture(t, endpoint)
		motoclient.Put(t, f.s3, bucket, layout.PrimaryKey, master)
		got, err := f.h.HandleEvent(ctx, event(t, "encoder-primary"))
		if err != nil {
			t.Fatal(err)
		}
		if !got.Written || got.Variants != 3 || got.VariantGroups != 3 || len(got.Warnings) != 1 || !strings.Contains(got.Warnings[0], "failover/index.m3u8 is missing") {
			t.Fatalf("outcome = %+v, want the 3 primary variants and a warning about the failover master", got)
		}
		_, body := f.output(t)
		if bytes.Contains(body, []byte("failover/")) || !bytes.Contains(body, []byte("primary/index_1.m3u8")) {
			t.Fatalf("primary-only master:\n%s", body)
		}
		motoclient.Put(t, f.s3, bucket, layout.FailoverKey, master)
		got, err = f.h.HandleEvent(ctx, event(t, "encoder-failover"))
		if err != nil {
			t.Fatal(err)
		}
		if !got.Written || got.Variants != 6 {
			t.Fatalf("after the failover upload: %+v, want 6 variants written", got)
		}
		_, body = f.output(t)
		checkPairs(t, body, 3, 2)
	})

	t.Run("no master yet writes nothing", func(t *testing.T) {
		f := newFixture(t, endpoint)
		got, err := f.h.HandleEvent(ctx, event(t, "encoder-primary"))
		if err != nil || got.Written {
			t.Fatalf("outcome = %+v, %v; want nothing written", got, err)
		}
		if out, _ := f.output(t); out != nil {
			t.Fatal("an output was written without any master")
		}
	})

	t.Run("a malformed master is refused and the previous output stays", func(t *testing.T) {
		f := newFixture(t, endpoint)
		motoclient.Put(t, f.s3, bucket, layout.FailoverKey, master)
		motoclient.Put(t, f.s3, bucket, layout.PrimaryKey, master)
		if _, err := f.h.HandleEvent(ctx, event(t, "encoder-primary")); err != nil {
			t.Fatal(err)
		}
		_, before := f.output(t)
		motoclient.Put(t, f.s3, bucket, layout.PrimaryKey, readFile(t, "testdata/media.m3u8"))
		_, err := f.h.HandleEvent(ctx, event(t, "encoder-primary"))
		var srcErr *hls.MergeSourceError
		if !errors.As(err, &srcErr) || srcErr.Source != "primary" || !errors.Is(err, hls.ErrNotMaster) {
			t.Fatalf("err = %v, want a MergeSourceError about primary that is not a master", err)
		}
		if _, after := f.output(t); !bytes.Equal(before, after) || f.outputVersions(t) != 1 {
			t.Fatal("the merged master changed after a malformed upload")
		}
		if !strings.Contains(f.log.String(), "the previous master stays") {
			t.Errorf("log lacks the refusal:\n%s", f.log)
		}
	})

	t.Run("events about other objects are ignored", func(t *testing.T) {
		f := newFixture(t, endpoint)
		motoclient.Put(t, f.s3, bucket, layout.PrimaryKey, master)
		for name, ev := range map[string][]byte{
			"variant":      bytes.ReplaceAll(event(t, "encoder-primary"), []byte(`primary/index.m3u8`), []byte(`primary/index_1.m3u8`)),
			"output":       bytes.ReplaceAll(event(t, "encoder-primary"), []byte(`primary/index.m3u8`), []byte(`index.m3u8`)),
			"other bucket": bytes.ReplaceAll(event(t, "encoder-primary"), []byte(bucket), []byte("someone-else")),
			"test event":   []byte(`{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-21T10:00:00.000Z","Bucket":"cvs-encoder-example"}`),
		} {
			got, err := f.h.HandleEvent(ctx, ev)
			if err != nil || got.Written {
				t.Errorf("%s: outcome %+v, %v; want ignored", name, got, err)
			}
		}
		if out, _ := f.output(t); out != nil {
			t.Fatal("an ignored event wrote the merged master")
		}
	})

	t.Run("a payload that is no S3 notification is refused", func(t *testing.T) {
		f := newFixture(t, endpoint)
		_, err := f.h.HandleEvent(ctx, []byte(`{"cluster":"live-1"}`))
		if !errors.Is(err, lambdaevent.ErrShape) {
			t.Fatalf("err = %v, want ErrShape", err)
		}
	})
}

func TestLayoutValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		l       encoderpair.Layout
		wantErr string
	}{
		{"seed 003 layout", layout, ""},
		{"in a channel folder", encoderpair.Layout{"ch1/primary/index.m3u8", "ch1/failover/index.m3u8", "ch1/index.m3u8"}, ""},
		{"output inside the primary folder would trigger itself", encoderpair.Layout{"primary/index.m3u8", "failover/index.m3u8", "primary/merged.m3u8"}, "below the output's folder"},
		{"output in a folder above nothing", encoderpair.Layout{"primary/index.m3u8", "failover/index.m3u8", "out/index.m3u8"}, "below the output's folder"},
		{"masters at the root", encoderpair.Layout{"a.m3u8", "b.m3u8", "index.m3u8"}, "below the output's folder"},
		{"same folder", encoderpair.Layout{"p/a.m3u8", "p/b.m3u8", "index.m3u8"}, "different folders"},
		{"empty key", encoderpair.Layout{"primary/index.m3u8", "", "index.m3u8"}, "must be an object key"},
		{"folder name not a pathway", encoderpair.Layout{"pri mary/index.m3u8", "failover/index.m3u8", "index.m3u8"}, "letters, digits"},
		{"folders whose last segments collide would fail every merge", encoderpair.Layout{"a/live/index.m3u8", "b/live/index.m3u8", "index.m3u8"},
			`primary folder "a/live/" and failover folder "b/live/" both name the source "live"`},
		{"folders with different last segments", encoderpair.Layout{"a/live/index.m3u8", "b/backup/index.m3u8", "index.m3u8"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.l.Validate()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Validate() = %v, want %q", err, tc.wantErr)
			}
			// New refuses at configuration time what Validate refuses.
			_, err = encoderpair.New(encoderpair.Config{S3: awss3.New(&s3.Client{}), Bucket: "b", Layout: tc.l})
			if (err == nil) != (tc.wantErr == "") {
				t.Fatalf("New() = %v, want refused: %v", err, tc.wantErr != "")
			}
		})
	}
}
