package lambdaevent

import (
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/clustered-video-streams/cvs/internal/strictjson"
)

// HTTPRequest decodes an API Gateway v2 request (HTTP API, payload format 2.0; Classify says
// HTTP), as the API function receives it.
func HTTPRequest(payload []byte) (events.APIGatewayV2HTTPRequest, error) {
	var req events.APIGatewayV2HTTPRequest
	if err := strictjson.DecodeAllowUnknown(payload, &req); err != nil {
		return events.APIGatewayV2HTTPRequest{}, fmt.Errorf("%w: API Gateway v2 request: %v", ErrShape, err)
	}
	if req.Version != "2.0" {
		return events.APIGatewayV2HTTPRequest{}, fmt.Errorf("%w: API Gateway request version %q, want 2.0", ErrShape, req.Version)
	}
	return req, nil
}
