package build

import (
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
)

// Output is one place the built image goes, as docker build's --output describes it.
type Output struct {
	// Type is "oci" (an OCI archive, or a layout directory with Tar false), "docker" (a
	// docker-archive) or "image" (pushed to a registry under each name).
	Type string
	// Dest is the file or directory for oci and docker.
	Dest string
	// Tar is false for an OCI layout directory instead of an archive. Default true.
	Tar bool
	// Names are the image references for docker archives and pushes.
	Names []string
	// Push sends an image output to its registry.
	Push bool
}

// ParseOutput parses a --output value: "type=oci,dest=out.tar", "type=docker,dest=img.tar,name=app:1",
// "type=image,name=registry/app:1,push=true", or a bare path (an OCI archive, like docker's
// "-o out.tar" writes a tar). Errors name the key and the accepted values.
func ParseOutput(s string) (Output, error) {
	if s == "" {
		return Output{}, fmt.Errorf("--output: empty value")
	}
	if !strings.Contains(s, "=") {
		return Output{Type: "oci", Dest: s, Tar: true}, nil
	}
	fields, err := csv.NewReader(strings.NewReader(s)).Read()
	if err != nil {
		return Output{}, fmt.Errorf("--output %q: %w", s, err)
	}
	o := Output{Tar: true}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return Output{}, fmt.Errorf("--output %q: %q is not key=value", s, f)
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "type":
			o.Type = v
		case "dest":
			o.Dest = v
		case "name":
			for _, n := range strings.Split(v, ",") {
				if n = strings.TrimSpace(n); n != "" {
					o.Names = append(o.Names, n)
				}
			}
		case "push":
			if o.Push, err = strconv.ParseBool(v); err != nil {
				return Output{}, fmt.Errorf("--output %q: push=%q: want true or false", s, v)
			}
		case "tar":
			if o.Tar, err = strconv.ParseBool(v); err != nil {
				return Output{}, fmt.Errorf("--output %q: tar=%q: want true or false", s, v)
			}
		default:
			return Output{}, fmt.Errorf("--output %q: unknown key %q (known: type, dest, name, push, tar)", s, k)
		}
	}
	if o.Type == "registry" {
		o.Type, o.Push = "image", true
	}
	return o, o.validate()
}

func (o Output) validate() error {
	switch o.Type {
	case "oci", "docker":
		if o.Dest == "" {
			return fmt.Errorf("--output type=%s needs dest=PATH", o.Type)
		}
		if o.Type == "docker" && !o.Tar {
			return fmt.Errorf("--output type=docker: tar=false is not supported (a docker-archive is a tar)")
		}
	case "image":
		if len(o.Names) == 0 {
			return fmt.Errorf("--output type=image needs name=REF")
		}
		if !o.Push {
			return fmt.Errorf("--output type=image,name=%s: without push=true there is nowhere to put it (no image store here); add push=true", strings.Join(o.Names, ","))
		}
	case "local", "tar":
		return fmt.Errorf("--output type=%s is not supported: safebuild exports images (types: oci, docker, image)", o.Type)
	case "":
		return fmt.Errorf("--output: no type (types: oci, docker, image)")
	default:
		return fmt.Errorf("--output: unknown type %q (types: oci, docker, image)", o.Type)
	}
	return nil
}
