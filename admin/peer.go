package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"postdeck/mpa"
	"postdeck/queue"
	"postdeck/store"
)

// Another node's MTA queue and MPA error repository, through its API: the
// caller's permission is checked here, the request goes to the node's
// console address with the cluster's peer token (role operator), and the
// action is audited on both nodes (here with the caller, there with the
// token).

// peerTimeout bounds one request to another node; peerMaxBody its answer.
const (
	peerTimeout = 30 * time.Second
	peerMaxBody = 32 << 20
)

func (s *Service) peer(ctx context.Context, node, method, path string, query url.Values, in, out any) error {
	c := s.clusterNode()
	if c == nil {
		return store.NotFound("This node is standalone: there are no other nodes")
	}
	api, token, err := c.Peer(node)
	if err != nil {
		return err
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	u := api + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	ctx, cancel := context.WithTimeout(ctx, peerTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("request to node %s: %w", node, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.log.Warn("node-to-node request", "node", node, "err", err)
		return store.Unavailable("Node %s does not answer at %s", node, api)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, peerMaxBody))
	if err != nil {
		return store.Unavailable("Node %s broke off its answer", node)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		// The token is the cluster's (cluster init made it); revoked on
		// any node, it is revoked on every one. The node's own sentence
		// (not logged in) does not say that, nor what to do.
		return store.Unavailable("Node %s refused this cluster's token for node-to-node actions (cluster-peers), as it does once the token is revoked; make a new one with postdeck cluster peer-token", node)
	}
	if resp.StatusCode != http.StatusOK {
		var e store.UserError
		if json.Unmarshal(raw, &e) != nil || e.Msg == "" {
			e.Msg = http.StatusText(resp.StatusCode)
		}
		kind := map[int]error{400: store.ErrInvalid, 403: store.ErrForbidden, 404: store.ErrNotFound, 409: store.ErrConflict}[resp.StatusCode]
		if kind == nil {
			kind = store.ErrUnavailable
		}
		return &store.UserError{Kind: kind, Field: e.Field, Msg: store.Sentence("Node %s: %s", node, e.Msg)}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("answer of node %s: %w", node, err)
		}
	}
	return nil
}

// PeerQueue lists another node's MTA queue (query: the fields of GET
// /api/v1/queue, checked here first).
func (s *Service) PeerQueue(ctx context.Context, id Identity, node string, query url.Values) (queue.Page, error) {
	if err := need(id, PermRead); err != nil {
		return queue.Page{}, err
	}
	if _, err := ParseQueueFilter(query); err != nil {
		return queue.Page{}, err
	}
	var page queue.Page
	err := s.peer(ctx, node, "GET", "/api/v1/queue", query, nil, &page)
	return page, err
}

// PeerQueueAction acts on messages of another node's MTA queue.
func (s *Service) PeerQueueAction(ctx context.Context, id Identity, node string, in QueueActionRequest) (queue.ActionResult, error) {
	if err := need(id, PermOperate); err != nil {
		return queue.ActionResult{}, err
	}
	action := "queue " + truncate(in.Action, 20) + " on node " + truncate(node, 64)
	var res queue.ActionResult
	err := s.peer(ctx, node, "POST", "/api/v1/queue/actions", nil, in, &res)
	if err != nil {
		s.auditFailure(id, action, err)
		return res, err
	}
	s.audit(id, action, ResultDone, fmt.Sprintf("%s: %d affected", queueActionTarget(in), res.Affected), "")
	return res, nil
}

// PeerErrors is a page of another node's MPA error repository.
type PeerErrors struct {
	Total  int             `json:"total"`
	Offset int             `json:"offset"`
	Limit  int             `json:"limit"`
	Items  []mpa.ErrorItem `json:"items"`
	// Unreadable are the ids of the page's records that do not decode
	// on that node (counted in Total, not in Items), as its GET
	// /api/v1/mpa/errors names them; they were dropped here, and the
	// node's page had a hole nobody was told of. Never nil ([] from a
	// node of an older version, which does not name them).
	Unreadable []string `json:"unreadable"`
}

// PeerMPAErrors lists a page of another node's MPA error repository
// (query: offset and limit of GET /api/v1/mpa/errors, which that node
// checks; it answers a page of 100 without them).
func (s *Service) PeerMPAErrors(ctx context.Context, id Identity, node string, query url.Values) (PeerErrors, error) {
	if err := need(id, PermRead); err != nil {
		return PeerErrors{}, err
	}
	var out PeerErrors
	err := s.peer(ctx, node, "GET", "/api/v1/mpa/errors", query, nil, &out)
	if out.Unreadable == nil {
		out.Unreadable = []string{}
	}
	return out, err
}

// PeerMPAErrorAction deletes or requeues entries of another node's error
// repository.
func (s *Service) PeerMPAErrorAction(ctx context.Context, id Identity, node string, in ErrorActionRequest) (int, error) {
	if err := need(id, PermOperate); err != nil {
		return 0, err
	}
	action := "mpa error " + truncate(in.Action, 20) + " on node " + truncate(node, 64)
	var res struct {
		Affected int `json:"affected"`
	}
	err := s.peer(ctx, node, "POST", "/api/v1/mpa/errors/actions", nil, in, &res)
	if err != nil {
		s.auditFailure(id, action, err)
		return 0, err
	}
	s.audit(id, action, ResultDone, fmt.Sprintf("%d affected", res.Affected), "")
	return res.Affected, nil
}
