package hls

import (
	"fmt"
	"testing"
)

// BenchmarkMerge merges N regions of the advanced master: 6 variants, 4 I-frame variants, 6
// renditions in 3 audio groups, subtitles and closed captions, session tags.
func BenchmarkMerge(b *testing.B) {
	body := masterRead(b, "testdata/master/advanced-fmp4.m3u8")
	regions := []string{"eu-west-1", "us-east-1", "ap-southeast-2", "sa-east-1", "eu-central-1"}
	for _, n := range []int{2, 5} {
		b.Run(fmt.Sprintf("%d regions", n), func(b *testing.B) {
			sources := make([]MergeSource, n)
			for i := range sources {
				sources[i] = MergeSource{
					Name: regions[i],
					URL:  fmt.Sprintf("https://d%d.cloudfront.net/out/v1/0123456789abcdef/index.m3u8", i),
					Body: body,
				}
			}
			b.ReportAllocs()
			b.SetBytes(int64(n * len(body)))
			for b.Loop() {
				res, err := Merge(sources, MergeOptions{})
				if err != nil || res.Variants != 6*n {
					b.Fatalf("Merge: %v", err)
				}
			}
		})
	}
}
