package main

// tlog-interop tiles < request.json: a standard client of c2sp.org/tlog-tiles, built on
// golang.org/x/mod/sumdb/tlog. It fetches the log's checkpoint and the tiles it needs
// over HTTP, reads every hash through tlog.TileHashReader (which checks each tile it
// reads against the checkpoint's root), and verifies each chosen entry's inclusion
// (the entry's bytes from its entry bundle, tlog.ProveRecord and tlog.CheckRecord) and
// the consistency of an earlier checkpoint (tlog.ProveTree and tlog.CheckTree).

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// tileHeight is tlog-tiles' only height: 256 hashes a tile.
const tileHeight = 8

type tilesRequest struct {
	// BaseURL is the log's prefix: <BaseURL>/checkpoint, <BaseURL>/tile/...
	BaseURL     string `json:"baseUrl"`
	VerifierKey string `json:"verifierKey"`
	// Origin the checkpoint must name; the verifier key's name when empty.
	Origin string `json:"origin"`
	// Indexes of the entries whose inclusion is verified.
	Indexes []int64 `json:"indexes"`
	// OldCheckpoint, a signed checkpoint fetched earlier, is proved consistent with the
	// current one when given.
	OldCheckpoint string `json:"oldCheckpoint"`
}

type tilesResult struct {
	Size           int64   `json:"size"`
	Included       []int64 `json:"included"`
	ConsistentFrom int64   `json:"consistentFrom,omitempty"`
	// Every path fetched, in order: which tiles the client needed.
	Fetched []string `json:"fetched"`
}

// httpTiles is a tlog.TileReader over a tlog-tiles prefix.
type httpTiles struct {
	base    string
	client  *http.Client
	fetched []string
}

func (h *httpTiles) Height() int { return tileHeight }

func (h *httpTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	for i, tile := range tiles {
		body, err := h.get(c2spPath(tile))
		if err != nil {
			return nil, err
		}
		data[i] = body
	}
	return data, nil
}

func (h *httpTiles) SaveTiles([]tlog.Tile, [][]byte) {}

func (h *httpTiles) get(path string) ([]byte, error) {
	h.fetched = append(h.fetched, path)
	response, err := h.client.Get(h.base + "/" + path)
	if err != nil {
		return nil, err
	}
	defer response.Body.Close()
	body, err := io.ReadAll(response.Body)
	if err != nil {
		return nil, err
	}
	if response.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", path, response.Status)
	}
	return body, nil
}

// c2spPath turns Go's sumdb tile path (tile/8/L/N or tile/8/data/N) into tlog-tiles'
// (tile/L/N or tile/entries/N): the same N encoding and .p/W suffix, no height element.
func c2spPath(tile tlog.Tile) string {
	path := tile.Path()
	if strings.HasPrefix(path, "tile/8/data/") {
		return "tile/entries/" + strings.TrimPrefix(path, "tile/8/data/")
	}
	return "tile/" + strings.TrimPrefix(path, "tile/8/")
}

// entryAt reads entry `index` of a tree of `size` from its entry bundle.
func entryAt(h *httpTiles, index, size int64) ([]byte, error) {
	n := index / (1 << tileHeight)
	width := size - n*(1<<tileHeight)
	if width > 1<<tileHeight {
		width = 1 << tileHeight
	}
	bundle, err := h.get(c2spPath(tlog.Tile{H: tileHeight, L: -1, N: n, W: int(width)}))
	if err != nil {
		return nil, err
	}
	want := index % (1 << tileHeight)
	for i := int64(0); len(bundle) > 0; i++ {
		if len(bundle) < 2 {
			return nil, errors.New("entry bundle ends inside a length")
		}
		length := int(bundle[0])<<8 | int(bundle[1])
		if len(bundle) < 2+length {
			return nil, errors.New("entry bundle ends inside an entry")
		}
		if i == want {
			return bundle[2 : 2+length], nil
		}
		bundle = bundle[2+length:]
	}
	return nil, fmt.Errorf("entry bundle %d has no entry %d", n, want)
}

func openCheckpoint(text []byte, verifier note.Verifier, origin string) (checkpoint, error) {
	opened, err := note.Open(text, note.VerifierList(verifier))
	if err != nil {
		return checkpoint{}, fmt.Errorf("note.Open: %w", err)
	}
	cp, err := parseCheckpoint(opened.Text)
	if err != nil {
		return checkpoint{}, err
	}
	if cp.origin != origin {
		return checkpoint{}, fmt.Errorf("checkpoint origin %q, want %q", cp.origin, origin)
	}
	return cp, nil
}

func verifyTiles(input []byte) (string, error) {
	var req tilesRequest
	if err := json.Unmarshal(input, &req); err != nil {
		return "", fmt.Errorf("request: %w", err)
	}
	verifier, err := note.NewVerifier(req.VerifierKey)
	if err != nil {
		return "", fmt.Errorf("verifier key: %w", err)
	}
	origin := req.Origin
	if origin == "" {
		origin = verifier.Name()
	}
	tiles := &httpTiles{base: strings.TrimSuffix(req.BaseURL, "/"), client: &http.Client{Timeout: 10 * time.Second}}
	text, err := tiles.get("checkpoint")
	if err != nil {
		return "", err
	}
	current, err := openCheckpoint(text, verifier, origin)
	if err != nil {
		return "", err
	}
	tree := tlog.Tree{N: current.size, Hash: current.root}
	hashes := tlog.TileHashReader(tree, tiles)
	result := tilesResult{Size: current.size}
	for _, index := range req.Indexes {
		entry, err := entryAt(tiles, index, current.size)
		if err != nil {
			return "", fmt.Errorf("entry %d: %w", index, err)
		}
		proof, err := tlog.ProveRecord(current.size, index, hashes)
		if err != nil {
			return "", fmt.Errorf("ProveRecord(%d, %d): %w", current.size, index, err)
		}
		if err := tlog.CheckRecord(proof, current.size, current.root, index, tlog.RecordHash(entry)); err != nil {
			return "", fmt.Errorf("CheckRecord(%d, %d): %w", current.size, index, err)
		}
		result.Included = append(result.Included, index)
	}
	if req.OldCheckpoint != "" {
		old, err := openCheckpoint([]byte(req.OldCheckpoint), verifier, origin)
		if err != nil {
			return "", fmt.Errorf("old checkpoint: %w", err)
		}
		proof, err := tlog.ProveTree(current.size, old.size, hashes)
		if err != nil {
			return "", fmt.Errorf("ProveTree(%d, %d): %w", current.size, old.size, err)
		}
		if err := tlog.CheckTree(proof, current.size, current.root, old.size, old.root); err != nil {
			return "", fmt.Errorf("CheckTree(%d, %d): %w", current.size, old.size, err)
		}
		result.ConsistentFrom = old.size
	}
	result.Fetched = tiles.fetched
	summary, err := json.Marshal(result)
	return string(summary), err
}
