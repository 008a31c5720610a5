package runtime

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/clustered-video-streams/cvs/internal/blob"
)

// maxMasterBytes bounds an object the master distribution serves.
const maxMasterBytes = 16 << 20

// bucketOrigin serves a bucket's objects over HTTP, as S3 does for the master distribution's
// origin: GET and HEAD of /<key>.
type bucketOrigin struct {
	store  blob.Store
	bucket string
}

func (b *bucketOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	obj, body, err := b.store.Get(r.Context(), b.bucket, strings.TrimPrefix(r.URL.Path, "/"), blob.GetOptions{MaxBytes: maxMasterBytes})
	if errors.Is(err, blob.ErrNotFound) {
		http.Error(w, "NoSuchKey", http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, "InternalError", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	if obj.ContentType != "" {
		h.Set("Content-Type", obj.ContentType)
	}
	if obj.CacheControl != "" {
		h.Set("Cache-Control", obj.CacheControl)
	}
	h.Set("ETag", obj.ETag)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodGet {
		w.Write(body)
	}
}
