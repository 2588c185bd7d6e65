package e2etest

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/crieur/crieur/internal/web/apicheck"
)

// checkers holds the OpenAPI checkers built so far, by the SHA-256 of the
// document the process served: every process of a test binary runs the
// same binary, so the document is loaded once.
var checkers sync.Map

// OpenAPI is the checker of the OpenAPI document p serves at
// /api/v1/openapi.json, which Do checks every exchange against: what is
// checked is the document the binary ships.
func (p *Proc) OpenAPI(tb testing.TB) *apicheck.Checker {
	tb.Helper()
	p.checkOnce.Do(func() { p.checker, p.checkErr = fetchChecker(p.URL + "/api/v1/openapi.json") })
	if p.checkErr != nil {
		tb.Fatalf("OpenAPI document: %v", p.checkErr)
	}
	return p.checker
}

func fetchChecker(url string) (*apicheck.Checker, error) {
	resp, err := HTTPClient().Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d", url, resp.StatusCode)
	}
	sum := sha256.Sum256(raw)
	if c, ok := checkers.Load(sum); ok {
		return c.(*apicheck.Checker), nil
	}
	c, err := apicheck.Load(raw)
	if err != nil {
		return nil, err
	}
	checkers.Store(sum, c)
	return c, nil
}
