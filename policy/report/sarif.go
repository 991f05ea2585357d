package report

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/safebuild/safebuild/policy"
)

// SARIF writes a SARIF 2.1.0 log with one run. Each result carries the redacted excerpt as its
// snippet, the finding's fingerprint as a partial fingerprint ("safebuild/v1") and its
// confidence as a property; each rule carries its confidence as "precision" (GitHub code
// scanning's property) and "confidence".
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
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations,omitempty"`
	Results     []sarifResult     `json:"results"`
}

// sarifInvocation carries the report's errors (the scan is incomplete: executionSuccessful is
// false) and notices as tool execution notifications.
type sarifInvocation struct {
	ExecutionSuccessful bool                `json:"executionSuccessful"`
	Notifications       []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level   string    `json:"level"`
	Message sarifText `json:"message"`
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
	Help             sarifText      `json:"help"`
	DefaultConfig    sarifRuleLevel `json:"defaultConfiguration"`
	Properties       sarifRuleProps `json:"properties"`
}

type sarifRuleLevel struct {
	Level string `json:"level"`
}

// sarifRuleProps are a rule's properties; precision is GitHub code scanning's name for how
// often the rule's results are true (very-high, high, medium, low), here the rule's confidence.
type sarifRuleProps struct {
	Tags       []string `json:"tags,omitempty"`
	Severity   string   `json:"severity"`
	Precision  string   `json:"precision"`
	Confidence string   `json:"confidence"`
}

// sarifResultProps carry the finding's confidence.
type sarifResultProps struct {
	Confidence string `json:"confidence"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	RelatedLocations    []sarifRelated    `json:"relatedLocations,omitempty"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          sarifResultProps  `json:"properties"`
}

// sarifRelated is where a composite rule's required rule matched.
type sarifRelated struct {
	ID               int           `json:"id"`
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
	Message          sarifText     `json:"message"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical     `json:"physicalLocation"`
	LogicalLocations []sarifLogicalLoc `json:"logicalLocations,omitempty"`
}

// sarifLogicalLoc names where in an image a finding is: the image, its layer (or config), the
// file. GitHub code scanning shows the fully qualified name.
type sarifLogicalLoc struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
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
			ID: f.RuleID, ShortDescription: sarifText{desc}, Help: sarifText{desc + " " + ruleHelp},
			DefaultConfig: sarifRuleLevel{sarifLevel(f.Severity)},
			Properties: sarifRuleProps{Tags: f.Tags, Severity: f.Severity.String(),
				Precision: confidence(f), Confidence: confidence(f)},
		})
	}
	for _, f := range r.Findings {
		loc := sarifLocation{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: f.Origin.Path}}}
		if f.Image != "" {
			loc.LogicalLocations = imageLocations(f)
		}
		if f.Line > 0 {
			reg := &sarifRegion{StartLine: f.Line, StartColumn: f.Column}
			if f.Redacted != "" {
				reg.Snippet = &sarifText{f.Redacted}
			}
			loc.PhysicalLocation.Region = reg
		}
		res := sarifResult{
			RuleID: f.RuleID, Level: sarifLevel(f.Severity), Message: sarifText{f.Description},
			Locations:           []sarifLocation{loc},
			PartialFingerprints: map[string]string{"safebuild/v1": f.Fingerprint},
			Properties:          sarifResultProps{Confidence: confidence(f)},
		}
		for i, q := range f.Required {
			res.RelatedLocations = append(res.RelatedLocations, sarifRelated{
				ID: i + 1, Message: sarifText{"required rule " + q.RuleID},
				PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: f.Origin.Path},
					Region: &sarifRegion{StartLine: q.Line, StartColumn: q.Column}},
			})
		}
		run.Results = append(run.Results, res)
	}
	if len(r.Errors)+len(r.Notices) > 0 {
		inv := sarifInvocation{ExecutionSuccessful: len(r.Errors) == 0}
		for _, p := range r.Errors {
			inv.Notifications = append(inv.Notifications, sarifNotification{Level: "error", Message: sarifText{problemText(p)}})
		}
		for _, p := range r.Notices {
			inv.Notifications = append(inv.Notifications, sarifNotification{Level: "note", Message: sarifText{problemText(p)}})
		}
		run.Invocations = []sarifInvocation{inv}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{run}})
}

// ruleHelp is what to do about any finding: a credential that reached an artifact must be
// treated as exposed.
const ruleHelp = "Treat the credential as exposed: rotate it, because anyone who read the file or pulled the image has it. " +
	"Then remove it from the source; build secrets reach RUN steps through --mount=type=secret (safebuild build serves them from Vault) and never a layer, ENV, ARG or LABEL."

// imageLocations is the logical path of an image finding: image, layer or config, file.
func imageLocations(f policy.Finding) []sarifLogicalLoc {
	img := f.Image
	if f.Platform != "" {
		img += " (" + f.Platform + ")"
	}
	part := f.Origin.Kind // "config" or "manifest"
	switch {
	case f.Layer != nil:
		part = fmt.Sprintf("layer %d (%s)", f.Layer.Index, f.Layer.Digest)
	case f.Artifact != nil:
		part = fmt.Sprintf("%s %s %s", f.Origin.Kind, f.Artifact.Manifest, f.Artifact.Blob)
		if f.Artifact.PredicateType != "" {
			part += " (" + f.Artifact.PredicateType + ")"
		}
	}
	return []sarifLogicalLoc{
		{Name: img, FullyQualifiedName: img, Kind: "module"},
		{Name: part, FullyQualifiedName: img + "/" + part, Kind: "namespace"},
		{Name: f.Origin.Path, FullyQualifiedName: img + "/" + part + "/" + f.Origin.Path, Kind: "resource"},
	}
}
