package s3_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/clustered-video-streams/cvs/internal/blob"
	"github.com/clustered-video-streams/cvs/internal/lambdaevent"
	locals3 "github.com/clustered-video-streams/cvs/internal/local/s3"
	"github.com/clustered-video-streams/cvs/internal/state/statetest"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

var ctx = context.Background()

// recorder collects the events a hook receives.
type recorder struct{ got []events.S3Event }

func (r *recorder) hook(_ context.Context, ev events.S3Event) { r.got = append(r.got, ev) }

// objects decodes what the hook received the way the functions do, through an SNS envelope.
func (r *recorder) objects(t *testing.T) []lambdaevent.Object {
	t.Helper()
	var out []lambdaevent.Object
	for _, ev := range r.got {
		msg, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		sns, err := json.Marshal(events.SNSEvent{Records: []events.SNSEventRecord{{EventSource: "aws:sns", SNS: events.SNSEntity{Message: string(msg)}}}})
		if err != nil {
			t.Fatal(err)
		}
		objs, err := lambdaevent.S3Objects(sns)
		if err != nil {
			t.Fatalf("lambdaevent.S3Objects(%s): %v", sns, err)
		}
		out = append(out, objs...)
	}
	return out
}

func newEncoderBucket(t *testing.T, v blob.Versioning, rules func(*recorder) []locals3.Rule) (*locals3.Store, *recorder) {
	t.Helper()
	clk := statetest.NewClock(statetest.T0)
	s := locals3.New(locals3.Config{Now: clk.Now, Region: "eu-west-1"})
	if err := s.CreateBucket("enc", v); err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	if err := s.Notify("enc", rules(r)...); err != nil {
		t.Fatal(err)
	}
	return s, r
}

func playlistRules(r *recorder) []locals3.Rule {
	return locals3.PlaylistUploadRules(r.hook, "primary/", "failover/")
}

func TestPlaylistUploadsAreRoutedLikeTheTemplates(t *testing.T) {
	for _, tc := range []struct {
		key    string
		notify bool
	}{
		{"primary/index.m3u8", true},
		{"failover/index_1.m3u8", true},
		{"primary/sub dir/a b.m3u8", true},
		{"primary/index_1_00001.ts", false},
		{"index.m3u8", false},
		{"primaryx/index.m3u8", false},
		{"other/primary/index.m3u8", false},
		{"primary/index.M3U8", false}, // S3 filters are case-sensitive
	} {
		t.Run(tc.key, func(t *testing.T) {
			s, r := newEncoderBucket(t, blob.Enabled, playlistRules)
			w, err := s.Put(ctx, "enc", tc.key, []byte("#EXTM3U\n"), blob.PutOptions{})
			if err != nil {
				t.Fatal(err)
			}
			objs := r.objects(t)
			if !tc.notify {
				if len(objs) != 0 {
					t.Fatalf("notified %+v, want nothing", objs)
				}
				return
			}
			want := []lambdaevent.Object{{EventName: "ObjectCreated:Put", EventTime: r.got[0].Records[0].EventTime.Format("2006-01-02T15:04:05.999999999Z07:00"),
				Region: "eu-west-1", Bucket: "enc", Key: tc.key, VersionID: w.VersionID, ETag: strings.Trim(w.ETag, `"`), Size: 8}}
			if diff := cmp.Diff(want, objs); diff != "" {
				t.Fatalf("event (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEventRecordIsShapedLikeS3s(t *testing.T) {
	s, r := newEncoderBucket(t, blob.Enabled, playlistRules)
	if _, err := s.Put(ctx, "enc", "primary/a b+c.m3u8", []byte("x"), blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(r.got) != 1 || len(r.got[0].Records) != 1 {
		t.Fatalf("got %d events, want one of one record", len(r.got))
	}
	rec := r.got[0].Records[0]
	// S3 form-encodes keys and leaves '/' as is: what the merge's filter policy matches.
	if got, want := rec.S3.Object.Key, "primary/a+b%2Bc.m3u8"; got != want {
		t.Errorf("key = %q, want %q", got, want)
	}
	if rec.EventSource != "aws:s3" || rec.EventVersion != "2.1" || rec.S3.Bucket.Arn != "arn:aws:s3:::enc" || rec.S3.ConfigurationID == "" || rec.S3.Object.Sequencer == "" {
		t.Errorf("record %+v lacks what S3 sends", rec)
	}
	if !rec.EventTime.Equal(statetest.T0.Truncate(1e6)) {
		t.Errorf("event time %s, want the store's clock to the millisecond (%s)", rec.EventTime, statetest.T0)
	}
}

func TestNotifications(t *testing.T) {
	removed := func(r *recorder) []locals3.Rule {
		return []locals3.Rule{{ID: "removed", Events: []string{"s3:ObjectRemoved:*"}, Prefix: "primary/", Hook: r.hook}}
	}
	t.Run("template rules say nothing of deletions", func(t *testing.T) {
		s, r := newEncoderBucket(t, blob.Enabled, playlistRules)
		w, _ := s.Put(ctx, "enc", "primary/a.m3u8", []byte("x"), blob.PutOptions{})
		r.got = nil
		if _, err := s.Delete(ctx, "enc", "primary/a.m3u8", blob.DeleteOptions{IfMatch: w.ETag}); err != nil {
			t.Fatal(err)
		}
		if len(r.got) != 0 {
			t.Fatalf("notified %+v", r.got)
		}
	})
	for _, tc := range []struct {
		v    blob.Versioning
		want string
	}{{blob.Enabled, "ObjectRemoved:DeleteMarkerCreated"}, {blob.Unversioned, "ObjectRemoved:Delete"}} {
		t.Run("a deletion in a bucket "+string(tc.v)+" is "+tc.want, func(t *testing.T) {
			s, r := newEncoderBucket(t, tc.v, removed)
			s.Put(ctx, "enc", "primary/a.m3u8", []byte("x"), blob.PutOptions{})
			d, err := s.Delete(ctx, "enc", "primary/a.m3u8", blob.DeleteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			objs := r.objects(t)
			if len(objs) != 1 || objs[0].EventName != tc.want || objs[0].VersionID != d.VersionID || objs[0].Key != "primary/a.m3u8" {
				t.Fatalf("events %+v, want one %s of version %q", objs, tc.want, d.VersionID)
			}
		})
	}
	t.Run("a refused write notifies nothing", func(t *testing.T) {
		s, r := newEncoderBucket(t, blob.Enabled, playlistRules)
		s.Put(ctx, "enc", "primary/a.m3u8", []byte("x"), blob.PutOptions{})
		r.got = nil
		if _, err := s.Put(ctx, "enc", "primary/a.m3u8", []byte("y"), blob.PutOptions{IfAbsent: true}); err == nil {
			t.Fatal("if-absent put over an object accepted")
		}
		if len(r.got) != 0 {
			t.Fatalf("notified %+v", r.got)
		}
	})
	t.Run("a hook may write the store", func(t *testing.T) {
		// What the merge does: an upload of primary/ writes the merged master beside it.
		clk := statetest.NewClock(statetest.T0)
		s := locals3.New(locals3.Config{Now: clk.Now})
		s.CreateBucket("enc", blob.Enabled)
		var merged int
		hook := func(ctx context.Context, ev events.S3Event) {
			merged++
			if _, err := s.Put(ctx, "enc", "index.m3u8", []byte("merged"), blob.PutOptions{}); err != nil {
				t.Error(err)
			}
		}
		if err := s.Notify("enc", locals3.PlaylistUploadRules(hook, "primary/", "failover/")...); err != nil {
			t.Fatal(err)
		}
		s.Put(ctx, "enc", "primary/index.m3u8", []byte("x"), blob.PutOptions{})
		if _, body, err := s.Get(ctx, "enc", "index.m3u8", blob.GetOptions{MaxBytes: 10}); err != nil || string(body) != "merged" || merged != 1 {
			t.Fatalf("merged master %q, %v after %d hook calls; want written once", body, err, merged)
		}
	})
}

func TestNotifyRefusesWhatS3Refuses(t *testing.T) {
	hook := func(context.Context, events.S3Event) {}
	for _, tc := range []struct {
		name  string
		rules []locals3.Rule
		ok    bool
	}{
		{"the template's rules", locals3.PlaylistUploadRules(hook, "primary/", "failover/"), true},
		{"a master rule beside the playlist rule overlaps", append(locals3.PlaylistUploadRules(hook, "primary/"),
			locals3.Rule{ID: "master", Events: []string{"s3:ObjectCreated:Put"}, Prefix: "primary/index", Suffix: ".m3u8", Hook: hook}), false},
		{"creations and removals of one filter do not overlap", append(locals3.PlaylistUploadRules(hook, "primary/"),
			locals3.Rule{ID: "removed", Events: []string{"s3:ObjectRemoved:*"}, Prefix: "primary/", Suffix: ".m3u8", Hook: hook}), true},
		{"disjoint suffixes do not overlap", append(locals3.PlaylistUploadRules(hook, "primary/"),
			locals3.Rule{ID: "segments", Events: []string{"s3:ObjectCreated:*"}, Prefix: "primary/", Suffix: ".ts", Hook: hook}), true},
		{"an unknown event type", []locals3.Rule{{ID: "x", Events: []string{"s3:ObjectCreated"}, Hook: hook}}, false},
		{"no hook", []locals3.Rule{{ID: "x", Events: []string{"s3:ObjectCreated:*"}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := locals3.New(locals3.Config{})
			s.CreateBucket("enc", blob.Enabled)
			err := s.Notify("enc", tc.rules...)
			if (err == nil) != tc.ok {
				t.Fatalf("Notify = %v, want ok=%v", err, tc.ok)
			}
			if !tc.ok {
				// A refused configuration adds none of its rules, so the template's fit after it.
				if err := s.Notify("enc", locals3.PlaylistUploadRules(hook, "primary/")...); err != nil {
					t.Fatalf("after a refusal the bucket still holds rules: %v", err)
				}
			}
		})
	}
}

// TestRulesMatchTemplate keeps PlaylistUploadRules and template.yaml's EncoderBucket
// notifications the same.
func TestRulesMatchTemplate(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		Resources struct {
			EncoderBucket struct {
				Properties struct {
					NotificationConfiguration struct {
						TopicConfigurations []struct {
							Event  string `yaml:"Event"`
							Filter struct {
								S3Key struct {
									Rules []struct {
										Name  string `yaml:"Name"`
										Value string `yaml:"Value"`
									} `yaml:"Rules"`
								} `yaml:"S3Key"`
							} `yaml:"Filter"`
						} `yaml:"TopicConfigurations"`
					} `yaml:"NotificationConfiguration"`
				} `yaml:"Properties"`
			} `yaml:"EncoderBucket"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(b, &tpl); err != nil {
		t.Fatal(err)
	}
	type filter struct{ Events, Prefix, Suffix string }
	var want []filter
	for _, c := range tpl.Resources.EncoderBucket.Properties.NotificationConfiguration.TopicConfigurations {
		f := filter{Events: c.Event}
		for _, r := range c.Filter.S3Key.Rules {
			switch r.Name {
			case "prefix":
				f.Prefix = r.Value
			case "suffix":
				f.Suffix = r.Value
			default:
				t.Fatalf("filter rule %q", r.Name)
			}
		}
		want = append(want, f)
	}
	if len(want) == 0 {
		t.Fatal("template.yaml's EncoderBucket has no topic notifications")
	}
	var got []filter
	for _, r := range locals3.PlaylistUploadRules(func(context.Context, events.S3Event) {}, "primary/", "failover/") {
		got = append(got, filter{Events: strings.Join(r.Events, ","), Prefix: r.Prefix, Suffix: r.Suffix})
	}
	less := func(a, b filter) int { return strings.Compare(a.Prefix, b.Prefix) }
	slices.SortFunc(want, less)
	slices.SortFunc(got, less)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("rules differ from template.yaml's EncoderBucket (-template +twin):\n%s", diff)
	}
}

func TestSuspendedVersioning(t *testing.T) {
	s := locals3.New(locals3.Config{})
	s.CreateBucket("b", blob.Enabled)
	w1, _ := s.Put(ctx, "b", "k", []byte("one"), blob.PutOptions{})
	if err := s.SetVersioning("b", blob.Suspended); err != nil {
		t.Fatal(err)
	}
	w2, _ := s.Put(ctx, "b", "k", []byte("two"), blob.PutOptions{})
	w3, _ := s.Put(ctx, "b", "k", []byte("three"), blob.PutOptions{})
	if w2.VersionID != "null" || w3.VersionID != "null" {
		t.Fatalf("versions while suspended %q, %q; want null", w2.VersionID, w3.VersionID)
	}
	var ids []string
	for _, v := range s.Versions("b", "k") {
		ids = append(ids, v.VersionID)
	}
	if diff := cmp.Diff([]string{w1.VersionID, "null"}, ids); diff != "" {
		t.Fatalf("versions (-want +got):\n%s", diff)
	}
	if st, _ := s.Versioning(ctx, "b"); st != blob.Suspended {
		t.Fatalf("Versioning = %q", st)
	}
	if err := s.SetVersioning("b", blob.Unversioned); err == nil {
		t.Fatal("a versioned bucket became unversioned")
	}
	d, err := s.Delete(ctx, "b", "k", blob.DeleteOptions{})
	if err != nil || !d.DeleteMarker || d.VersionID != "null" {
		t.Fatalf("Delete while suspended = %+v, %v; want a null delete marker", d, err)
	}
	if _, body, err := s.Get(ctx, "b", "k", blob.GetOptions{VersionID: w1.VersionID, MaxBytes: 10}); err != nil || string(body) != "one" {
		t.Fatalf("first version = %q, %v", body, err)
	}
}
