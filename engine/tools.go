//go:build tools

// Package engine pins the Pulumi CLI that the project builds when no suitable
// `pulumi` is on PATH. The blank import keeps the CLI's module in go.mod, so
// `go build github.com/pulumi/pulumi/pkg/v3/cmd/pulumi` resolves to the pinned
// release with the replace directives that release needs.
package engine

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
