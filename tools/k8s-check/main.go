// k8s-check decodes every object of a rendered manifest (`helm template` output, a YAML
// stream on standard input) strictly against the Kubernetes API types of k8s.io/api: an
// unknown or duplicated field, a value of the wrong type, or a kind this cluster API does
// not have is refused, naming the object and the field. Helm itself renders any YAML, so
// a misspelled field would otherwise reach the cluster, which drops it silently (or, with
// server-side field validation, refuses the whole release at install time).
//
// Usage: helm template ... | k8s-check [-json]
//
// Exit status 0 when every object decoded; 1, with one line per refused object on
// standard error, when any did not. With -json, the decoded objects are printed as one
// JSON array on standard output (what the chart's tests read).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsyaml "sigs.k8s.io/yaml"
)

// The API groups a chart of this platform may use. A kind outside them is refused: it
// is either misspelled or something the chart should not create.
var groups = []func(*runtime.Scheme) error{
	corev1.AddToScheme,
	appsv1.AddToScheme,
	autoscalingv2.AddToScheme,
	batchv1.AddToScheme,
	networkingv1.AddToScheme,
	policyv1.AddToScheme,
	rbacv1.AddToScheme,
}

type decoded struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Name       string          `json:"name"`
	Object     json.RawMessage `json:"object"`
}

func main() {
	asJSON := flag.Bool("json", false, "print the decoded objects as a JSON array")
	flag.Parse()

	scheme := runtime.NewScheme()
	for _, add := range groups {
		if err := add(scheme); err != nil {
			fmt.Fprintf(os.Stderr, "k8s-check: %v\n", err)
			os.Exit(2)
		}
	}
	// Strict: unknown and duplicate fields are errors, not warnings.
	deserializer := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()

	objects, failures, err := check(os.Stdin, scheme, deserializer)
	if err != nil {
		fmt.Fprintf(os.Stderr, "k8s-check: %v\n", err)
		os.Exit(2)
	}
	for _, failure := range failures {
		fmt.Fprintln(os.Stderr, failure)
	}
	if *asJSON {
		out, err := json.Marshal(objects)
		if err != nil {
			fmt.Fprintf(os.Stderr, "k8s-check: %v\n", err)
			os.Exit(2)
		}
		os.Stdout.Write(append(out, '\n'))
	}
	fmt.Fprintf(os.Stderr, "k8s-check: %d objects decoded strictly, %d refused\n", len(objects), len(failures))
	if len(failures) > 0 {
		os.Exit(1)
	}
}

// check decodes each document of the stream; empty documents (a template that rendered
// nothing) are skipped.
func check(in io.Reader, scheme *runtime.Scheme, deserializer runtime.Decoder) ([]decoded, []string, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(in))
	var objects []decoded
	var failures []string
	for index := 0; ; index++ {
		document, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objects, failures, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("document %d: %w", index, err)
		}
		if len(bytes.TrimSpace(stripComments(document))) == 0 {
			continue
		}
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		// Only to name the object in messages; the strict decoding below judges it.
		_ = sigsyaml.Unmarshal(document, &meta)
		label := fmt.Sprintf("%s %s (document %d)", meta.Kind, meta.Metadata.Name, index)

		gvk := schema.FromAPIVersionAndKind(meta.APIVersion, meta.Kind)
		if !scheme.Recognizes(gvk) {
			failures = append(failures, fmt.Sprintf("%s: %s is not a known API type", label, gvk))
			continue
		}
		object, _, err := deserializer.Decode(document, nil, nil)
		if err != nil {
			failures = append(failures, fmt.Sprintf("%s: %v", label, err))
			continue
		}
		raw, err := json.Marshal(object)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", label, err)
		}
		objects = append(objects, decoded{APIVersion: meta.APIVersion, Kind: meta.Kind, Name: meta.Metadata.Name, Object: raw})
	}
}

// stripComments drops whole-line YAML comments (helm's `# Source:` lines), so a document
// of comments alone counts as empty.
func stripComments(document []byte) []byte {
	var kept [][]byte
	for _, line := range bytes.Split(document, []byte("\n")) {
		if trimmed := bytes.TrimSpace(line); len(trimmed) > 0 && trimmed[0] == '#' {
			continue
		}
		kept = append(kept, line)
	}
	return bytes.Join(kept, []byte("\n"))
}
