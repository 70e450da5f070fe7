// Command tlog-interop checks @vaxguard/tlog against the Go reference implementation
// of signed notes and RFC 6962 proofs (golang.org/x/mod/sumdb/note and sumdb/tlog).
// It is run by libs/tlog/src/go-interop.int.test.ts and by hand.
//
//	tlog-interop verify < request.json    exit 0 if every check passes, 1 otherwise
//	tlog-interop sign NAME < text         sign text with a new Go key, print JSON
//	tlog-interop sign-with SKEY < text    sign text with a given signer key, print the note
//	tlog-interop tiles < request.json     fetch a tlog-tiles log over HTTP and verify it (tiles.go)
package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type request struct {
	VerifierKey      string `json:"verifierKey"`
	SignedCheckpoint string `json:"signedCheckpoint"`
	// Origin the checkpoint must name; the verifier key's name when empty.
	Origin    string `json:"origin"`
	Inclusion *struct {
		Index    int64    `json:"index"`
		LeafHash string   `json:"leafHash"`
		Proof    []string `json:"proof"`
	} `json:"inclusion"`
	Consistency *struct {
		OldSize     int64    `json:"oldSize"`
		OldRootHash string   `json:"oldRootHash"`
		Proof       []string `json:"proof"`
	} `json:"consistency"`
}

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "tlog-interop:", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: tlog-interop verify | tiles | sign NAME | sign-with SKEY")
	}
	input, err := io.ReadAll(stdin)
	if err != nil {
		return err
	}
	switch {
	case args[0] == "verify" && len(args) == 1:
		summary, err := verify(input)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, summary)
		return err
	case args[0] == "tiles" && len(args) == 1:
		summary, err := verifyTiles(input)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, summary)
		return err
	case args[0] == "sign" && len(args) == 2:
		skey, vkey, err := note.GenerateKey(rand.Reader, args[1])
		if err != nil {
			return err
		}
		signed, err := sign(skey, input)
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(map[string]string{
			"verifierKey": vkey,
			"signedNote":  string(signed),
		})
	case args[0] == "sign-with" && len(args) == 2:
		signed, err := sign(args[1], input)
		if err != nil {
			return err
		}
		_, err = stdout.Write(signed)
		return err
	}
	return fmt.Errorf("unknown command %q", strings.Join(args, " "))
}

func sign(skey string, text []byte) ([]byte, error) {
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, err
	}
	return note.Sign(&note.Note{Text: string(text)}, signer)
}

func verify(input []byte) (string, error) {
	var req request
	if err := json.Unmarshal(input, &req); err != nil {
		return "", fmt.Errorf("request: %w", err)
	}
	verifier, err := note.NewVerifier(req.VerifierKey)
	if err != nil {
		return "", fmt.Errorf("verifier key: %w", err)
	}
	opened, err := note.Open([]byte(req.SignedCheckpoint), note.VerifierList(verifier))
	if err != nil {
		return "", fmt.Errorf("note.Open: %w", err)
	}
	cp, err := parseCheckpoint(opened.Text)
	if err != nil {
		return "", err
	}
	origin := req.Origin
	if origin == "" {
		origin = verifier.Name()
	}
	if cp.origin != origin {
		return "", fmt.Errorf("checkpoint origin %q, want %q", cp.origin, origin)
	}
	checks := []string{fmt.Sprintf("checkpoint %s size %d signed by %s", cp.origin, cp.size, verifier.Name())}

	if in := req.Inclusion; in != nil {
		leaf, err := decodeHash(in.LeafHash)
		if err != nil {
			return "", fmt.Errorf("inclusion leaf hash: %w", err)
		}
		proof, err := decodeHashes(in.Proof)
		if err != nil {
			return "", fmt.Errorf("inclusion proof: %w", err)
		}
		if err := tlog.CheckRecord(proof, cp.size, cp.root, in.Index, leaf); err != nil {
			return "", fmt.Errorf("tlog.CheckRecord: %w", err)
		}
		checks = append(checks, fmt.Sprintf("leaf %d included", in.Index))
	}
	if c := req.Consistency; c != nil {
		old, err := decodeHash(c.OldRootHash)
		if err != nil {
			return "", fmt.Errorf("consistency old root: %w", err)
		}
		proof, err := decodeHashes(c.Proof)
		if err != nil {
			return "", fmt.Errorf("consistency proof: %w", err)
		}
		if err := tlog.CheckTree(proof, cp.size, cp.root, c.OldSize, old); err != nil {
			return "", fmt.Errorf("tlog.CheckTree: %w", err)
		}
		checks = append(checks, fmt.Sprintf("consistent with size %d", c.OldSize))
	}
	return strings.Join(checks, "; "), nil
}

// parseCheckpoint reads the body of a c2sp.org/tlog-checkpoint note. tlog.ParseTree
// only knows the go.sum database's fixed origin line, so the three lines are read here.
func parseCheckpoint(text string) (checkpoint, error) {
	lines := strings.SplitAfter(text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		return checkpoint{}, errors.New("checkpoint: fewer than three lines")
	}
	origin := strings.TrimSuffix(lines[0], "\n")
	sizeLine := strings.TrimSuffix(lines[1], "\n")
	size, err := strconv.ParseInt(sizeLine, 10, 64)
	if origin == "" || err != nil || size < 0 || strconv.FormatInt(size, 10) != sizeLine {
		return checkpoint{}, fmt.Errorf("checkpoint: bad origin or size %q", sizeLine)
	}
	root, err := decodeHash(strings.TrimSuffix(lines[2], "\n"))
	if err != nil {
		return checkpoint{}, fmt.Errorf("checkpoint root hash: %w", err)
	}
	return checkpoint{origin: origin, size: size, root: root}, nil
}

func decodeHash(b64 string) (tlog.Hash, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return tlog.Hash{}, err
	}
	if len(raw) != tlog.HashSize {
		return tlog.Hash{}, fmt.Errorf("hash of %d bytes, want %d", len(raw), tlog.HashSize)
	}
	var h tlog.Hash
	copy(h[:], raw)
	return h, nil
}

func decodeHashes(list []string) ([]tlog.Hash, error) {
	hashes := make([]tlog.Hash, 0, len(list))
	for _, b64 := range list {
		h, err := decodeHash(b64)
		if err != nil {
			return nil, err
		}
		hashes = append(hashes, h)
	}
	return hashes, nil
}
