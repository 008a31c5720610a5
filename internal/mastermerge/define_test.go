package mastermerge_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/clustered-video-streams/cvs/internal/mastermerge/regen"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// TestRegenerateResolvesVariables: a region whose master names its origin through an
// EXT-X-DEFINE variable is listed behind its distribution like any other (never the origin
// itself, which the copilot cannot close, and never a literal {$name}); a reference nothing
// defines fails that region, named, and nothing is written.
//
// (The EXT-X-DEFINE tags stay in the merged master, for media playlists that IMPORT them; the
// master itself depends on none. The merge refuses a name two regions define differently.)
func TestRegenerateResolvesVariables(t *testing.T) {
	endpoint := testenv.Moto(t, "the master merge wire test")
	ctx := context.Background()
	t.Run("defined", func(t *testing.T) {
		f := newFixture(t, endpoint)
		for region, origin := range f.origins {
			// Each region its own name: a merged master can give a name one value only.
			name := "origin-" + region
			body := strings.Replace(regionMaster(t), "#EXTM3U\n", "#EXTM3U\n#EXT-X-DEFINE:NAME=\""+name+"\",VALUE=\""+origin+masterDir(region)+"\"\n", 1)
			body = strings.ReplaceAll(body, "\nindex_", "\n{$"+name+"}/index_")
			if !strings.Contains(body, "{$"+name+"}/index_1.m3u8") {
				t.Fatalf("the sample master changed shape:\n%s", body)
			}
			f.masters[region].Store(body)
		}
		if _, err := f.svc.Regenerate(ctx, regen.Request{Cluster: cluster}); err != nil {
			t.Fatalf("Regenerate: %v", err)
		}
		east, _ := f.object(t, "us-east-1")
		for region := range buckets {
			if strings.Count(east, f.dists[region]+masterDir(region)+"/index_1.m3u8") != 1 || strings.Contains(east, f.origins[region]) {
				t.Errorf("master does not list %s's variants on its distribution, or names its origin:\n%s", region, east)
			}
		}
		if strings.Contains(east, "{$") || strings.Contains(strings.ToLower(east), "%7b$") {
			t.Errorf("master holds a variable reference:\n%s", east)
		}
	})
	t.Run("undefined", func(t *testing.T) {
		f := newFixture(t, endpoint)
		f.masters["eu-west-1"].Store(strings.ReplaceAll(regionMaster(t), "\nindex_", "\n{$origin}/index_"))
		_, err := f.svc.Regenerate(ctx, regen.Request{Cluster: cluster})
		var me *regen.Error
		if !errors.As(err, &me) || !strings.Contains(err.Error(), "eu-west-1") || !strings.Contains(err.Error(), "EXT-X-DEFINE") {
			t.Fatalf("err = %v, want a source error naming eu-west-1 and EXT-X-DEFINE", err)
		}
		if east, _ := f.object(t, "us-east-1"); east != "" {
			t.Errorf("a master was written:\n%s", east)
		}
	})
}

// masterDir is the folder of a region's master.
func masterDir(region string) string { return strings.TrimSuffix(masterPath(region), "/index.m3u8") }
