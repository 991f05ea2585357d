// Package policy decides whether content holds a credential: rules as data, the detection engine,
// layer and image-config scanning, findings and reports. It is shared by every safebuild gate and
// imports neither Vault nor the BuildKit client.
package policy
