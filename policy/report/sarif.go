package report

import (
	"encoding/json"
	"io"

	"github.com/safebuild/safebuild/policy"
)

// SARIF writes a SARIF 2.1.0 log with one run. Each result carries the redacted excerpt as its
// snippet and the finding's fingerprint as a partial fingerprint ("safebuild/v1").
type SARIF struct{}

var _ Writer = SARIF{}

const (
	sarifSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
	sarifVersion = "2.1.0"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID               string         `json:"id"`
	ShortDescription sarifText      `json:"shortDescription"`
	DefaultConfig    sarifRuleLevel `json:"defaultConfiguration"`
	Properties       sarifRuleProps `json:"properties"`
}

type sarifRuleLevel struct {
	Level string `json:"level"`
}

type sarifRuleProps struct {
	Tags     []string `json:"tags,omitempty"`
	Severity string   `json:"severity"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine   int        `json:"startLine"`
	StartColumn int        `json:"startColumn,omitempty"`
	Snippet     *sarifText `json:"snippet,omitempty"`
}

func sarifLevel(s policy.Severity) string {
	switch s {
	case policy.SeverityLow:
		return "note"
	case policy.SeverityMedium:
		return "warning"
	}
	return "error"
}

// Write encodes r as SARIF 2.1.0.
func (SARIF) Write(w io.Writer, r *Report) error {
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{
			Name:           "safebuild",
			InformationURI: "https://github.com/safebuild/safebuild",
			Rules:          []sarifRule{},
		}},
		Results: []sarifResult{},
	}
	for _, f := range ruleSummaries(r.Findings) {
		desc := f.Description
		if f.RuleID == policy.CanaryRuleID {
			desc = "Exact value of a known secret (canary)"
		}
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{
			ID: f.RuleID, ShortDescription: sarifText{desc},
			DefaultConfig: sarifRuleLevel{sarifLevel(f.Severity)},
			Properties:    sarifRuleProps{Tags: f.Tags, Severity: f.Severity.String()},
		})
	}
	for _, f := range r.Findings {
		loc := sarifLocation{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: f.Origin.Path}}}
		if f.Line > 0 {
			reg := &sarifRegion{StartLine: f.Line, StartColumn: f.Column}
			if f.Redacted != "" {
				reg.Snippet = &sarifText{f.Redacted}
			}
			loc.PhysicalLocation.Region = reg
		}
		run.Results = append(run.Results, sarifResult{
			RuleID: f.RuleID, Level: sarifLevel(f.Severity), Message: sarifText{f.Description},
			Locations:           []sarifLocation{loc},
			PartialFingerprints: map[string]string{"safebuild/v1": f.Fingerprint},
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{run}})
}
