package testenv

import (
	"net/http"
	"testing"
)

func TestMotoAnswers(t *testing.T) {
	endpoint := Moto(t, "the moto launcher test")
	resp, err := http.Post(endpoint+"/moto-api/reset", "application/json", nil)
	if err != nil {
		t.Fatalf("reset: %v", err)
	}
	resp.Body.Close()
	if got, want := resp.StatusCode, http.StatusOK; got != want {
		t.Fatalf("POST /moto-api/reset status = %d, want %d", got, want)
	}
}
