package memory_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/detector"
	"github.com/clustered-video-streams/cvs/internal/detector/detectortest"
	"github.com/clustered-video-streams/cvs/internal/local/memory"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/topic"
)

// outage makes the memory stores refuse the detector's writes (health records and memory saves)
// the way the dynamo store does while the control region is unreachable: with
// *state.ControlRegionUnavailableError, writing nothing. Reads still answer, as the dynamo store's
// reads fall back to the local replica.
type outage struct {
	down    atomic.Bool
	refused atomic.Int64
}

func (o *outage) refuse(op, cluster, domain string) error {
	if !o.down.Load() {
		return nil
	}
	o.refused.Add(1)
	return &state.ControlRegionUnavailableError{Op: op, Cluster: cluster, Domain: domain, ControlRegion: "us-east-1",
		Err: errors.New("dial tcp: connection refused")}
}

type outageRegistry struct {
	*memory.Store
	o *outage
}

func (r outageRegistry) RecordHealth(ctx context.Context, cluster, domain string, h state.Health, c state.Change) (state.Instance, error) {
	if err := r.o.refuse("record health", cluster, domain); err != nil {
		return state.Instance{}, err
	}
	return r.Store.RecordHealth(ctx, cluster, domain, h, c)
}

type outageMemory struct {
	*memory.DetectorMemory
	o *outage
}

func (m outageMemory) SaveDetector(ctx context.Context, cluster, domain string, data []byte, prev int64) (int64, error) {
	if err := m.o.refuse("save detector memory", cluster, domain); err != nil {
		return 0, err
	}
	return m.DetectorMemory.SaveDetector(ctx, cluster, domain, data, prev)
}

// TestDetectorThroughAControlRegionOutage runs the real detector on an origin that stalls while
// the state store refuses its writes, in simulated time: it must not crash, must publish nothing
// it has not claimed, and must publish each transition once.
func TestDetectorThroughAControlRegionOutage(t *testing.T) {
	const td = 2 * time.Second
	for _, tc := range []struct {
		name string
		// cue schedules the outage; stallAt is when the origin stalls, publish is called on
		// every publish.
		cue func(o *outage, stallAt time.Time) (publish func(ev string))
		// want: the events published, the watched count and whether the stale health reaches
		// the table.
		want        []string
		wantWatched int
		wantHealth  state.Health
	}{
		{
			name:        "down from the start: no lease, nothing watched, nothing published",
			cue:         func(o *outage, _ time.Time) func(string) { o.down.Store(true); return nil },
			want:        nil,
			wantWatched: 0, wantHealth: state.HealthUnknown,
		},
		{
			name: "down when the stall is detected: the claim fails, the event goes out once when it is back",
			cue: func(o *outage, stallAt time.Time) func(string) {
				time.AfterFunc(time.Until(stallAt), func() { o.down.Store(true) })
				time.AfterFunc(time.Until(stallAt.Add(10*time.Second)), func() { o.down.Store(false) })
				return nil
			},
			want:        []string{"fresh", "stale"},
			wantWatched: 1, wantHealth: state.HealthStale,
		},
		{
			name: "down right after the publish: the health record is retried, nothing published again",
			cue: func(o *outage, _ time.Time) func(string) {
				return func(ev string) {
					if ev == "stale" {
						o.down.Store(true)
						time.AfterFunc(7*time.Second, func() { o.down.Store(false) })
					}
				}
			},
			want:        []string{"fresh", "stale"},
			wantWatched: 1, wantHealth: state.HealthStale,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := memory.New(nil)
				o := &outage{}
				origin := detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...)
				pipe := detectortest.NewPipeNet(origin)
				defer pipe.Close()
				if _, err := store.Register(t.Context(), state.Registration{Cluster: "news", Domain: "d1.example.com", Region: "eu-west-1",
					DistributionPlaylistURL: "https://d1.example.com/master.m3u8", OriginPlaylistURL: "http://origin-eu.test/master.m3u8"},
					state.Change{By: "local:test"}); err != nil {
					t.Fatal(err)
				}
				stallAt := time.Now().Add(20*time.Second + 337*time.Millisecond)
				origin.Stall("", stallAt)
				onPublish := tc.cue(o, stallAt)
				topic := &detectortest.Topic{Fail: func(_ int, in topic.Message) error {
					if onPublish != nil {
						ev, err := contract.ParseDetectorEvent([]byte(in.Body))
						if err != nil {
							t.Errorf("malformed event: %v", err)
						}
						onPublish(string(ev.Event))
					}
					return nil
				}}
				cfg := detector.Config{Region: "eu-west-1", TopicARN: "arn:aws:sns:eu-west-1:123456789012:cvs-detector", RunFor: 50 * time.Second}
				d, err := detector.New(cfg, detector.Deps{
					Registry: outageRegistry{store, o}, Memory: outageMemory{memory.NewDetectorMemory(store), o},
					Publisher: topic, Getter: detector.NewGetter(pipe.Client(), cfg),
					Log: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelError})),
				})
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
				defer cancel()
				sum, err := d.Run(ctx, detector.Invocation{Owner: "run-1", By: "arn:aws:lambda:eu-west-1:123456789012:function:detector"})
				if err != nil {
					t.Fatalf("Run: %v", err)
				}

				var got []string
				seen := map[int64]bool{}
				for _, m := range topic.Messages() {
					if seen[m.Event.Sequence] {
						t.Errorf("sequence %d published twice", m.Event.Sequence)
					}
					seen[m.Event.Sequence] = true
					got = append(got, string(m.Event.Event))
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("events published (-want +got):\n%s", diff)
				}
				if sum.Watched != tc.wantWatched || sum.Published != len(tc.want) {
					t.Errorf("summary %+v, want %d watched and %d published", sum, tc.wantWatched, len(tc.want))
				}
				if o.refused.Load() == 0 {
					t.Errorf("the store refused nothing: the outage missed the run")
				}
				if sum.Errors == 0 {
					t.Errorf("summary counts no errors although %d writes were refused", o.refused.Load())
				}
				in, err := store.Instance(t.Context(), "news", "d1.example.com")
				if err != nil {
					t.Fatal(err)
				}
				if in.Health != tc.wantHealth {
					t.Errorf("health in the table = %s, want %s", in.Health, tc.wantHealth)
				}
				t.Logf("writes refused: %d; summary %+v", o.refused.Load(), sum)
			})
		})
	}
}
