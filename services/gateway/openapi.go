package gateway

import (
	_ "embed"
	"net/http"
)

// openAPI describes every route of the gateway and the content service, and
// the webhook hlsd sends. openapi_test.go holds it to the code: every route
// registered on a mux appears in it, and its schemas have exactly the JSON
// fields of the types they describe.
//
//go:embed openapi.json
var openAPI []byte

// serveOpenAPI answers GET /api/openapi.json, publicly: the document holds
// no secret, and tools fetch it without a token.
func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Access-Control-Allow-Origin", "*") // API explorers on other origins
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(openAPI)
}
